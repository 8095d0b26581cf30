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
for f in usr/bin/spanvaultd usr/bin/spanvault usr/lib/systemd/system/spanvault.service \
         usr/lib/systemd/system/spanvault.socket etc/spanvault/spanvault.toml usr/share/doc/spanvault/README.md; do
  if [ ! -e "$root/$f" ]; then echo "missing after install: /$f" >&2; exit 1; fi
done
grep -q '^ExecStart=/usr/bin/spanvaultd --config /etc/spanvault/spanvault.toml$' \
  "$root/usr/lib/systemd/system/spanvault.service" || { echo "unexpected ExecStart" >&2; exit 1; }
"$root/usr/bin/spanvaultd" --check-config --config "$root/etc/spanvault/spanvault.toml" \
  --state-dir "$tmp/state" --runtime-dir "$tmp/run"
if command -v systemd-analyze >/dev/null; then
  units="$tmp/units"
  mkdir -p "$units"
  cp "$root"/usr/lib/systemd/system/spanvault.* "$units/"
  sed -i "s#^ExecStart=/usr/bin/spanvaultd#ExecStart=$root/usr/bin/spanvaultd#" "$units/spanvault.service"
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
