#!/usr/bin/env bash
# Builds the .deb with CPack and checks its contents and maintainer scripts.
#   tests/packaging/verify_deb.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
if ! command -v dpkg-deb >/dev/null; then echo "dpkg-deb missing: skipped" >&2; exit 0; fi
if ! grep -q '^CMAKE_INSTALL_PREFIX:PATH=/usr$' "$build/CMakeCache.txt"; then
  echo "the build is configured for another prefix than /usr: the .deb is built from a /usr build only; skipped" >&2
  exit 0
fi
out=$(mktemp -d /tmp/svdeb.XXXXXX)
trap 'rm -rf "$out"' EXIT
(cd "$build" && cpack -G DEB -B "$out" >/dev/null)
deb=$(ls "$out"/spanvault_*_*.deb)
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/spanvaultd ./usr/bin/spanvault ./usr/lib/systemd/system/spanvault.service \
         ./usr/lib/systemd/system/spanvault.socket ./etc/spanvault/spanvault.toml \
         ./usr/lib/sysctl.d/60-spanvault.conf; do
  grep -qx "$f" <<<"$contents" || { echo "missing in the .deb: $f" >&2; exit 1; }
done
ctl="$out/control"
dpkg-deb -e "$deb" "$ctl"
grep -q 'adduser --system' "$ctl/postinst" || { echo "postinst does not create the user" >&2; exit 1; }
grep -q 'enable spanvault.socket' "$ctl/postinst" || { echo "postinst does not enable the socket" >&2; exit 1; }
grep -q '60-spanvault.conf' "$ctl/postinst" || { echo "postinst does not apply the sysctl" >&2; exit 1; }
grep -qx '/etc/spanvault/spanvault.toml' "$ctl/conffiles" || { echo "config is not a conffile" >&2; exit 1; }
for s in postinst prerm postrm; do sh -n "$ctl/$s"; done
grep -q '^Depends: .*adduser' "$ctl/control" || { echo "no Depends on adduser" >&2; exit 1; }
echo "$(basename "$deb") OK"
