#!/usr/bin/env bash
# Load test of GET /api/v1/guilds/{guild}/cogs/reference/settings against a
# release `baseline run` on Postgres (127.0.0.1:5432) and Redis
# (127.0.0.1:6379), with wrk (installed from Debian when missing).
# Usage: tests/bench/settings-read.sh [seconds] [connections]   (via `just bench-api`)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
connections=${2:-8}
target=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
work=$(mktemp -d)
trap 'kill $host 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/cogs"
cp "$target/guests/wasm32-wasip2/cog/reference.wasm" "$work/cogs/"
psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS baseline_bench" -c "CREATE DATABASE baseline_bench"
printf 'api_rate_limit = 0\n' > "$work/baseline.toml"
token="bench$(date +%s%N)"
redis-cli -h 127.0.0.1 SET "session:$token" '{"user_id":1,"guilds":[111],"developer":false}' EX 3600 >/dev/null
DATABASE_URL=postgres://postgres@127.0.0.1:5432/baseline_bench REDIS_URL=redis://127.0.0.1:6379 \
  BASELINE_API_ADDR=127.0.0.1:8099 BASELINE_DATA_DIR="$work/data" RUST_LOG=warn \
  "$target/release/baseline" --config "$work/baseline.toml" run --cogs "$work/cogs" > "$work/host.log" 2>&1 &
host=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:8099/api/v1/health >/dev/null && break; sleep 0.1; done
url=http://127.0.0.1:8099/api/v1/guilds/111/cogs/reference/settings
curl -sf -X PUT -H "Authorization: Bearer $token" -H 'content-type: application/json' -d '{"default_sides": 20}' "$url" >/dev/null
cat > "$work/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$work/auth.lua" "$url"
