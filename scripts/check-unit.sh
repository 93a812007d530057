#!/usr/bin/env bash
# Checks deploy/renewald.service: systemd-analyze verify, and the offline security exposure ≤ 2.0.
set -euo pipefail
cd "$(dirname "$0")/.."
unit=deploy/renewald.service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify wants the ExecStart binary to exist: point a copy of the unit at a stand-in.
touch "$tmp/renewald" && chmod +x "$tmp/renewald"
sed "s|/usr/local/bin/renewald|$tmp/renewald|" "$unit" > "$tmp/renewald.service"
out=$(systemd-analyze verify "$tmp/renewald.service" 2>&1 || true)
# Messages about the host (no running systemd, missing units elsewhere) are not the unit's fault.
bad=$(printf '%s\n' "$out" | grep -F "renewald.service" | grep -v -e "Failed to connect" -e "not found" || true)
if [ -n "$bad" ]; then
  echo "systemd-analyze verify:"; printf '%s\n' "$out"; exit 1
fi
echo "verify: ok"
exposure=$(systemd-analyze security --offline=true "$unit" 2>&1 | grep -o 'Overall exposure level for [^ ]* [0-9.]*' | awk '{print $NF}')
if [ -z "$exposure" ]; then
  systemd-analyze security --offline=true "$unit" || true
  echo "could not read the exposure level" >&2; exit 1
fi
echo "exposure: $exposure (limit 2.0)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || { echo "exposure $exposure is above 2.0" >&2; exit 1; }
