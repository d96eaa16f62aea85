#!/usr/bin/env bash
# Planning workers side by side on one spread run: `scripts/bench-workers.sh [--instance
# FILE] [--seconds S] [--threads T]`.
#
# Loads the instance (default data/region-5000.json) into a fresh PostgreSQL database,
# starts `labplan serve --no-worker`, and solves the same run four ways, each with the
# same time limit: one `labplan worker` on the whole run with T and with 2T solver
# threads, and the run spread over its parts (`spread_parts`) with one and with two
# `labplan worker` processes of T threads each. Prints the objective, the proven bound
# and gap, the seconds and who solved how many parts. Needs curl and psql; PostgreSQL
# through LABPLAN_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# the bench's database is dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
instance=data/region-5000.json seconds=60 threads=1 whole=1
while [ $# -gt 0 ]; do
  case "$1" in
    --spread-only) whole=0 ;;
    --instance) instance=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --threads) threads=$2; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
  shift
done
instance=$(realpath "$instance")
[ -n "${LABPLAN_BENCH_NO_BUILD:-}" ] || cargo build --release --locked -q
bin="$root/target/release/labplan"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin=${LABPLAN_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
name="labplan_bench_workers_$(date +%s)"
psql -q "$admin" -c "CREATE DATABASE $name"
url="${admin%/*}/$name"
workers=()
cleanup() {
  for w in "${workers[@]}" "${server:-}"; do [ -n "$w" ] && kill "$w" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $name" || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export DATABASE_URL="$url"
"$bin" demo --data "$instance" 2>&1 | tail -n 1
LABPLAN_PASSWORD=bench-password-1 "$bin" users add --email planner@bench.local --role planner > /dev/null
token=$("$bin" users token --email planner@bench.local --name bench)
"$bin" serve --addr "127.0.0.1:$port" --no-worker > server.log 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done

api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
field() { python3 -c "import json,sys; v=json.load(sys.stdin)$1; print(v)"; }

# One run: $1 label, $2 spread (true/false), $3 worker processes, $4 threads each.
measure() {
  local label=$1 spread=$2 count=$3 each=$4
  local id run
  id=$(api -X POST "$base/api/v1/planning-runs" \
         -d "{\"time_limit_seconds\": $seconds, \"gap\": 0, \"spread_parts\": $spread}" | field "['id']")
  workers=()
  for i in $(seq 1 "$count"); do
    "$bin" worker --solver-threads "$each" > "worker-$id-$i.log" 2>&1 &
    workers+=($!)
  done
  while true; do
    run=$(api "$base/api/v1/planning-runs/$id")
    case $(echo "$run" | field "['status']") in succeeded|failed|cancelled) break ;; esac
    sleep 1
  done
  for w in "${workers[@]}"; do kill "$w" 2>/dev/null || true; wait "$w" 2>/dev/null || true; done
  workers=()
  echo "$run" | python3 -c "
import json, sys, collections
r = json.load(sys.stdin)
by = collections.Counter(p['solved_by'].split(':')[1] for p in r.get('parts') or [] if p.get('solved_by'))
parts = ', '.join(f'{n}' for _, n in sorted(by.items())) or '—'
print(f\"| $label | {r['status']} | {r['objective']:,.0f} | {r['bound']:,.0f} | {100 * r['gap']:.2f} % | {r['solve_seconds']:.1f} | {parts} |\")
" | tee -a rows.txt
  echo "$run" > "run-$id.json"
  last=$id
}

echo
echo "| $(basename "$instance"), ${seconds} s, $(nproc) cores | status | objective | bound | gap | seconds | parts per worker |"
echo "|---|---|---|---|---|---|---|"
if [ $whole = 1 ]; then
  measure "one worker, $threads thread(s), whole run" false 1 "$threads"
  measure "one worker, $((2 * threads)) threads, whole run" false 1 "$((2 * threads))"
fi
measure "one worker, $threads thread(s), spread" true 1 "$threads"
measure "two workers, $threads thread(s) each, spread" true 2 "$threads"

# Where the last run's gap lies: its parts, the widest gaps first.
echo
echo "| part | equipment | requests | candidate bookings | seconds given | seconds | objective − bound | share of the gap |"
echo "|---|---|---|---|---|---|---|---|"
python3 - "run-$last.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
parts = r.get("parts") or []
total = sum(p["objective"] - p["bound"] for p in parts) or 1
for p in sorted(parts, key=lambda p: p["bound"] - p["objective"]):
    g = p["objective"] - p["bound"]
    print(f"| {p['part']} | {p['equipment']} | {p['requests']} | {p['columns']:,} | {p['time_limit_seconds']:.1f} | "
          f"{p['seconds']:.1f} | {g:,.0f} | {100 * g / total:.1f} % |")
PY
