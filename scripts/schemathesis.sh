#!/usr/bin/env bash
# Runs schemathesis against a fresh `labplan serve --demo` once per role and prints each
# role's summary. Needs `pip install schemathesis` (4.x). Usage:
#   scripts/schemathesis.sh [MAX_EXAMPLES]      (default 30 examples per operation)
# It runs once without a token and once per role.
# The server runs on a SQLite file in a temporary directory; set DATABASE_URL to test a
# PostgreSQL database instead (it is changed by the run: use a scratch one).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-30}"
command -v schemathesis >/dev/null || { echo "schemathesis is not installed: pip install schemathesis"; exit 1; }
# LABPLAN_BIN: a labplan binary already built (e.g. target/debug/labplan); otherwise
# the release build.
if [ -n "${LABPLAN_BIN:-}" ]; then
  bin=$(realpath "$LABPLAN_BIN")
else
  cargo build --release --locked -q
  bin="$PWD/target/release/labplan"
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$work"
"$bin" serve --addr "127.0.0.1:$port" --demo --no-worker > server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
status=0
for user in anonymous ministry company.c0001 lab.l001 planner admin; do
  # Without a token every route but the document itself answers 401.
  auth=()
  if [ "$user" != anonymous ]; then
    token=$("$bin" users token --email "$user@demo.local" --name schemathesis)
    auth=(-H "Authorization: Bearer $token")
  fi
  echo "== $user"
  # positive_data_acceptance is left out: a valid body for another role's route, or for
  # an id that does not exist, is rightly refused (401, 403, 404, 409).
  if ! schemathesis run "http://127.0.0.1:$port/api/v1/openapi.json" \
      "${auth[@]}" --checks all --exclude-checks positive_data_acceptance \
      --phases examples,coverage,fuzzing --max-examples "$examples" --workers 1 > "st-$user.txt" 2>&1; then
    status=1
    tail -n 60 "st-$user.txt"
  fi
  grep -E "^ *[0-9]+ generated|=====.* in [0-9.]+s" "st-$user.txt" | tail -2
done
exit $status
