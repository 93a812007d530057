#!/usr/bin/env bash
# Peak RSS of the real binary, measured with /usr/bin/time: import and a daily tick over TICK_N
# generated enrollments (default 1,000,000), import and a one-year backfill over BACKFILL_N (default 100,000),
# and the idle daemon on the BACKFILL_N data 20 s after its catch-up tick.
# Usage: scripts/bench-rss.sh [TICK_N] [BACKFILL_N]
set -euo pipefail
cd "$(dirname "$0")/.."
tick_n=${1:-1000000}
backfill_n=${2:-100000}
work=$(mktemp -d)
trap 'kill "${daemon:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
export CGO_ENABLED=1
go build -o "$work/renewald" ./cmd/renewald
rss() { # command... → "max RSS MB, seconds"
  /usr/bin/time -f "%M %e" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r kb secs < "$work/time"
  echo "$((kb / 1024)) MB, ${secs} s"
}
dataset() { # N → a database with N generated enrollments; prints its path
  local d="$work/n$1"; mkdir -p "$d"
  go run ./cmd/benchgen -enrollments "$1" -out "$d" >/dev/null
  printf '[database]\npath = "%s/r.db"\n[mail]\ntransport = "file"\nfile_dir = "%s/mail"\n' "$d" "$d" > "$d/config.toml"
  echo "$d"
}
d=$(dataset "$tick_n")
R=("$work/renewald" --config "$d/config.toml")
echo "import of $tick_n enrollments:   $(rss "${R[@]}" import "$d/users.csv" "$d/specializations.csv")"
echo "tick over $tick_n (no delivery): $(rss "${R[@]}" tick --as-of 2025-06-15 --no-deliver)"
rm -rf "$d"
d=$(dataset "$backfill_n")
R=("$work/renewald" --config "$d/config.toml")
echo "import of $backfill_n enrollments:   $(rss "${R[@]}" import "$d/users.csv" "$d/specializations.csv")"
cp "$d/r.db" "$d/idle.db"   # for the idle daemon: the data, without the backfill's outbox
echo "backfill of 2025 over $backfill_n: $(rss "${R[@]}" backfill --from 2025-01-01 --to 2025-12-31)"
"${R[@]}" --db "$d/idle.db" run 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 1 600); do grep -q "msg=tick" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
sleep 20
st=/proc/$daemon/status
echo "idle daemon: $(( $(awk '/VmRSS/ {print $2}' $st) / 1024 )) MB RSS (anon $(( $(awk '/RssAnon/ {print $2}' $st) / 1024 )) MB), 20 s after a catch-up tick that $(grep -o 'queued=[0-9]*' "$work/daemon.log" | head -1) and delivered them to files"
kill -TERM "$daemon"; wait "$daemon" || true
