#!/usr/bin/env bash
# Installs the build into a temporary DESTDIR, checks the layout, runs
# `systemd-analyze verify` on the installed units (ExecStart pointed at the
# installed binary) and checks that the default config is valid.
#   tests/packaging/verify_install.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/svpkg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
DESTDIR="$tmp/root" cmake --install "$build" >/dev/null
root="$tmp/root"
# /usr (and /etc) unless the build was configured with another prefix.
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
p=${prefix#/}
etc=etc
[ "$prefix" = /usr ] || etc="$p/etc"
for f in $p/bin/spanvaultd $p/bin/spanvault $p/lib/systemd/system/spanvault.service \
         $p/lib/systemd/system/spanvault.socket $etc/spanvault/spanvault.toml $p/share/doc/spanvault/README.md \
         $p/lib/sysctl.d/60-spanvault.conf; do
  if [ ! -e "$root/$f" ]; then echo "missing after install: /$f" >&2; exit 1; fi
done
grep -q "^ExecStart=$prefix/bin/spanvaultd --config /$etc/spanvault/spanvault.toml\$" \
  "$root/$p/lib/systemd/system/spanvault.service" || { echo "unexpected ExecStart" >&2; exit 1; }
"$root/$p/bin/spanvaultd" --check-config --config "$root/$etc/spanvault/spanvault.toml" \
  --state-dir "$tmp/state" --runtime-dir "$tmp/run"
grep -qx 'net.unix.max_dgram_qlen = 512' "$root/$p/lib/sysctl.d/60-spanvault.conf" ||
  { echo "sysctl drop-in without max_dgram_qlen" >&2; exit 1; }
if command -v systemd-analyze >/dev/null; then
  units="$tmp/units"
  mkdir -p "$units"
  cp "$root/$p"/lib/systemd/system/spanvault.* "$units/"
  sed -i "s#^ExecStart=$prefix/bin/spanvaultd#ExecStart=$root/$p/bin/spanvaultd#" "$units/spanvault.service"
  out=$(systemd-analyze verify "$units/spanvault.socket" "$units/spanvault.service" 2>&1) || {
    echo "$out" >&2
    exit 1
  }
  if [ -n "$out" ]; then echo "systemd-analyze verify: $out" >&2; exit 1; fi
  echo "systemd-analyze verify: OK"
else
  echo "systemd-analyze not installed: unit verification skipped" >&2
fi
echo "install layout OK"
