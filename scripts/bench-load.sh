#!/usr/bin/env bash
# The service under load, as a table: `scripts/bench-load.sh [--sqlite] [--requests N]
# [--seconds S] [--connections C]`.
#
# Starts `labplan serve --demo` (release build) on a fresh PostgreSQL database (or a SQLite
# file with --sqlite), adds N more requests by SQL (copies of the demo's 1,300), and
# measures with Debian's wrk: filing requests (POST, C connections, every 2xx checked
# against the rows in the database), reading the request list (plain and filtered), and
# the dashboard and list pages. On PostgreSQL pgbench runs the same single-row INSERT
# into a copy of the table with its indexes, for the ratio. Needs wrk, curl, psql and
# pgbench (`apt-get install wrk postgresql-client postgresql-contrib`). PostgreSQL is
# reached through LABPLAN_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# the bench's database is dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
backend=postgres requests=0 seconds=20 connections=64
while [ $# -gt 0 ]; do
  case "$1" in
    --sqlite) backend=sqlite ;;
    --requests) requests=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --connections) connections=$2; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
  shift
done
for tool in wrk curl; do command -v $tool >/dev/null || { echo "$tool is needed"; exit 1; }; done
cargo build --release --locked -q
bin="$root/target/release/labplan"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin=${LABPLAN_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
name="labplan_bench_$(date +%s)"
if [ $backend = postgres ]; then
  psql -q "$admin" -c "CREATE DATABASE $name"
  # Both labplan and pgbench reach the database the same way; on loopback without TLS by
  # default (LABPLAN_BENCH_SSLMODE=prefer measures them over TLS, as libpq's default).
  url="${admin%/*}/$name?sslmode=${LABPLAN_BENCH_SSLMODE:-disable}"
  sql() { psql -qtA "$url" -c "$1"; }
else
  url="sqlite://$work/labplan.db?mode=rwc"
  # The server folds a million loaded requests' counts in one write: wait it out.
  sql() { python3 - "$work/labplan.db" "$1" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=120); cur = con.execute(sys.argv[2]); rows = cur.fetchall(); con.commit()
for r in rows: print("|".join(str(v) for v in r))
PY
  }
fi
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  [ $backend = postgres ] && psql -q "$admin" -c "DROP DATABASE IF EXISTS $name" || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
DATABASE_URL="$url" "$bin" serve --addr "127.0.0.1:$port" --demo --no-worker > server.log 2>&1 &
server=$!
for _ in $(seq 1 600); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.2; done
company=$(DATABASE_URL="$url" "$bin" users token --email company.c0001@demo.local --name bench)
planner=$(DATABASE_URL="$url" "$bin" users token --email planner@demo.local --name bench)

if [ "$requests" -gt 0 ]; then
  echo "loading $requests more requests"
  if [ $backend = postgres ]; then
    series="SELECT g FROM generate_series(1, $requests) AS g"
  else
    series="WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $requests) SELECT g FROM s"
  fi
  sql "INSERT INTO test_requests (id, company, test_type, samples, ready_date, due_date, priority, status,
         version, created_at, updated_at)
       SELECT 'Q' || CAST(1000000000 + s.g AS TEXT), r.company, r.test_type, r.samples, r.ready_date, r.due_date,
              r.priority, r.status, 1, r.created_at, r.updated_at
       FROM ($series) AS s
       JOIN (SELECT ROW_NUMBER() OVER (ORDER BY id) - 1 AS n, t.* FROM test_requests t) AS r ON s.g % 1300 = r.n" > /dev/null
  sql "ANALYZE" > /dev/null
  # The server folds the loaded requests' counts in one write; on SQLite that write holds
  # the one write lock for seconds. Measure after it, not across it.
  for _ in $(seq 1 600); do [ "$(sql "SELECT COUNT(*) FROM request_tally_delta")" = 0 ] && break; sleep 0.5; done
fi
total=$(sql "SELECT COUNT(*) FROM test_requests")

row() { printf '| %s | %s |\n' "$1" "$2"; }
echo
echo "| work ($backend, $total requests, $connections connections, ${seconds} s) | labplan |"
echo "|---|---|"

if [ $backend = postgres ]; then
  command -v pgbench >/dev/null || { echo "pgbench is needed"; exit 1; }
  sql "CREATE TABLE bench_requests (LIKE test_requests INCLUDING ALL); CREATE SEQUENCE bench_ids" > /dev/null
  raw=$(pgbench -n -c "$connections" -j 2 -T "$seconds" -f "$root/scripts/bench/pgbench-insert.sql" "$url" 2>/dev/null \
        | awk '/^tps/ {print $3; exit}')
  row "pgbench: single-row INSERT into a copy of the table with its indexes" "$(printf '%.0f tps' "$raw")"
fi

# Three seconds first, not measured: the pool opens its connections and each prepares
# its statements, as in any server that has been up a while.
LABPLAN_TOKEN=$company wrk -t2 -c"$connections" -d3s -s "$root/scripts/bench/post.lua" "$base/api/v1/requests" > /dev/null
before=$(sql "SELECT COUNT(*) FROM test_requests")
post=$(LABPLAN_TOKEN=$company wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$root/scripts/bench/post.lua" "$base/api/v1/requests" | grep RESULT)
after=$(sql "SELECT COUNT(*) FROM test_requests")
ok=$(echo "$post" | sed -E 's/.*ok=([0-9]+).*/\1/')
rps=$(echo "$post" | sed -E 's/.*rps=([0-9.]+).*/\1/')
p99=$(echo "$post" | sed -E 's/.*p99_ms=([0-9.]+).*/\1/')
lost=$(( ok - (after - before) ))
note="$rps req/s, p99 $p99 ms; $ok answered 2xx, $((after - before)) rows written (difference $lost)"
if [ $backend = postgres ]; then note="$note; ratio to pgbench $(python3 -c "print(f'{$rps/$raw:.2f}')")"; fi
row "POST /api/v1/requests" "$note"
# The reads run over what the filings added: refresh the planner's statistics first, as
# autovacuum would (some installations, this machine's among them, run with it off).
if [ $backend = postgres ]; then sql "VACUUM ANALYZE" > /dev/null; else sql "ANALYZE" > /dev/null; fi

get=$(LABPLAN_TOKEN=$planner wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$root/scripts/bench/get.lua" "$base" | grep RESULT)
row "GET /api/v1/requests?per_page=50" "$(echo "$get" | sed -E 's/.*rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\1 req\/s, p50 \2 ms, p99 \3 ms/')"
get=$(LABPLAN_QUERY='&company=C0007&status=submitted' LABPLAN_TOKEN=$planner wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$root/scripts/bench/get.lua" "$base" | grep RESULT)
row "GET /api/v1/requests filtered (company, status)" "$(echo "$get" | sed -E 's/.*rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\1 req\/s, p50 \2 ms, p99 \3 ms/')"

# Pages, one at a time: the median of five.
password() { grep -E "^ +$1 " server.log | awk '{print $2}'; }
session() {
  local jar="$work/$1.jar"
  local page; page=$(curl -s -c "$jar" "$base/login")
  local csrf; csrf=$(echo "$page" | sed -nE 's/.*name="csrf" value="([^"]+)".*/\1/p' | head -1)
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=$1" \
    --data-urlencode "password=$(password "$1")" "$base/login"
  echo "$jar"
}
median() {
  local jar=$1 path=$2
  for _ in 1 2 3 4 5; do curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n | sed -n 3p
}
ministry=$(session ministry@demo.local)
row "ministry dashboard page" "$(python3 -c "print(f'{$(median "$ministry" /dashboard)*1000:.0f} ms')")"
engineer=$(session company.c0001@demo.local)
row "request list page (company C0001)" "$(python3 -c "print(f'{$(median "$engineer" /requests)*1000:.0f} ms')")"
row "request list page (company C0001), searched" "$(python3 -c "print(f'{$(median "$engineer" "/requests?q=emc")*1000:.0f} ms')")"
planner_jar=$(session planner@demo.local)
for path in "/api/v1/requests?per_page=100" "/api/v1/requests?per_page=50&status=submitted&region=RU-SAM" \
    "/api/v1/requests?per_page=50&test_type=EMC-R10&page=100" "/api/v1/requests?per_page=50&company=C0007&region=RU-MOW"; do
  t=$(for _ in 1 2 3 4 5; do curl -s -H "Authorization: Bearer $planner" -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n | sed -n 3p)
  row "one GET $path" "$(python3 -c "print(f'{$t*1000:.0f} ms')")"
done
echo
echo "machine: $(nproc) cores, $(date -u +%Y-%m-%d), commit $(git -C "$root" rev-parse --short HEAD)"
