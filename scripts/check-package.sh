#!/usr/bin/env bash
# Installs the package built by scripts/package.sh on this machine (as root), checks what it installed,
# then removes and purges it and checks nothing is left. CI runs it; it needs dpkg and systemd-analyze.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls dist/renewald_*.deb | tail -n 1)
echo "== lintian $deb"
if command -v lintian >/dev/null; then
  out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v "running with root privileges" || true)
  printf '%s\n' "$out"
  if printf '%s\n' "$out" | grep -q '^E:'; then echo "lintian reports errors" >&2; exit 1; fi
fi
if dpkg -s renewald >/dev/null 2>&1; then echo "renewald is already installed here; refusing to touch it" >&2; exit 1; fi
echo "== install"
dpkg -i "$deb"
trap 'dpkg --purge renewald >/dev/null 2>&1 || true' EXIT
renewald version
renewald --config /etc/renewald/config.toml config check
grep -q '^path = "/var/lib/renewald/renewald.db"' /etc/renewald/config.toml
grep -q '^transport = "file"' /etc/renewald/config.toml
test "$(stat -c %U:%G:%a /etc/renewald/config.toml)" = "root:renewald:640"
test "$(stat -c %U:%a /var/lib/renewald)" = "renewald:700"
# The service user can use the database (the commands operators run as it).
runuser -u renewald -- renewald --config /etc/renewald/config.toml migrate
test "$(stat -c %U:%a /var/lib/renewald/renewald.db)" = "renewald:600"
if systemctl is-enabled renewald >/dev/null 2>&1; then echo "the package enabled the service" >&2; exit 1; fi
echo "== installed unit"
systemd-analyze verify /lib/systemd/system/renewald.service 2>&1 | { grep -v -e "Failed to connect" -e "not found" || true; } | tee /tmp/renewald-verify.txt
if grep -q "renewald.service" /tmp/renewald-verify.txt; then echo "systemd-analyze verify complains about the unit" >&2; exit 1; fi
exposure=$(systemd-analyze security --offline=true /lib/systemd/system/renewald.service 2>&1 | grep -o 'Overall exposure level for [^ ]* [0-9.]*' | awk '{print $NF}')
echo "installed unit exposure: $exposure (limit 2.0)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'
grep -q '^Type=notify' /lib/systemd/system/renewald.service
grep -q '^RestartPreventExitStatus=' /lib/systemd/system/renewald.service
files=$(dpkg -L renewald)
echo "== remove"
dpkg --remove renewald
test -f /etc/renewald/config.toml              # a conffile stays until purge
test -d /var/lib/renewald                      # so does the state
echo "== purge"
dpkg --purge renewald
trap - EXIT
left=""
for f in $files; do
  case "$f" in /|/usr|/usr/bin|/usr/share|/usr/share/doc|/lib|/lib/systemd|/lib/systemd/system|/etc|/usr/share/lintian|/usr/share/lintian/overrides) continue ;; esac
  [ -e "$f" ] && left="$left $f"
done
[ -e /var/lib/renewald ] && left="$left /var/lib/renewald"
[ -e /etc/renewald ] && left="$left /etc/renewald"
if [ -n "$left" ]; then echo "left after purge:$left" >&2; exit 1; fi
if dpkg -L renewald >/dev/null 2>&1; then echo "dpkg still lists renewald" >&2; exit 1; fi
echo "package: install, check, remove and purge ok"
