# Baseline's tasks. The README's two commands are `just run` and `just test`;
# both install what is missing (rustup targets) first.

set shell := ["bash", "-euo", "pipefail", "-c"]

target_dir := env_var_or_default("CARGO_TARGET_DIR", justfile_directory() / "target")
guest_dir := target_dir / "guests"
dashboard_dir := target_dir / "dashboard-site"
# The wasm-bindgen CLI must be the exact version of the crate in Cargo.lock.
wasm_bindgen_version := `sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p}' Cargo.lock`
# Every guest the host's tests load (tests/host/support.rs builds the same list).
test_guests := "-p status -p reference -p ask -p tally -p hostile -p future-wit -p not-a-cog -p clash -p storm-cache -p storm-kv -p storm-spin -p storm-flood -p spin-start -p heavy-start -p asker -p wit-0-1 -p wit-0-2 -p witness"

# List the recipes.
default:
    @just --list

# What building and running the bot needs (the wasm targets), installed
# when missing: seconds when done.
targets:
    @rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
    @rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
    @rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# Also what the tests need and running does not: componentize-py (Python
# cogs), the JavaScript cog toolchain (componentize-js and esbuild, from
# guest-sdk/js's lock file) and cargo-component (the scaffold is built both
# ways).
setup: targets
    @command -v componentize-py >/dev/null || { python3 -m pip install --quiet componentize-py==0.25.1 && if command -v pyenv >/dev/null; then pyenv rehash; fi; }
    @command -v componentize-py >/dev/null || { echo "componentize-py is installed but not on PATH (pip's script folder)"; exit 1; }
    @command -v cargo-component >/dev/null || cargo install --locked cargo-component@0.21.1
    @[ guest-sdk/js/node_modules/.package-lock.json -nt guest-sdk/js/package-lock.json ] || npm ci --prefix guest-sdk/js --no-audit --no-fund --loglevel=error

# Build the dashboard (Yew → wasm) into $CARGO_TARGET_DIR/dashboard-site: plain
# cargo, then the wasm-bindgen CLI (installed at the lock's version if missing).
dashboard:
    @rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
    @wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen {{wasm_bindgen_version}}" || cargo install wasm-bindgen-cli@{{wasm_bindgen_version}}
    cargo build -p baseline-dashboard --target wasm32-unknown-unknown --profile dashboard
    wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-name baseline_dashboard --out-dir "{{dashboard_dir}}" "{{target_dir}}/wasm32-unknown-unknown/dashboard/baseline-dashboard.wasm"
    cp frontend/static/* "{{dashboard_dir}}/"

# Debian's Chromium and chromedriver for the dashboard's browser tests
# (installed with apt when missing; sudo when not root).
browser-setup:
    @command -v chromedriver >/dev/null && command -v chromium >/dev/null || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium chromium-driver; }

# Build the example cogs into cogs/ (status.wasm, reference.wasm, ask.wasm,
# tally.wasm, and the reference cog's browser UI module reference.ui.wasm).
cogs: targets
    cargo build --target wasm32-wasip2 --profile cog --target-dir "{{guest_dir}}" -p status -p reference -p ask -p tally
    cargo build --target wasm32-unknown-unknown --profile cog --target-dir "{{guest_dir}}" -p reference-ui
    cp "{{guest_dir}}/wasm32-wasip2/cog/status.wasm" "{{guest_dir}}/wasm32-wasip2/cog/reference.wasm" "{{guest_dir}}/wasm32-wasip2/cog/ask.wasm" "{{guest_dir}}/wasm32-wasip2/cog/tally.wasm" cogs/
    cp "{{guest_dir}}/wasm32-unknown-unknown/cog/reference_ui.wasm" cogs/reference.ui.wasm

# Build the Python and JavaScript twins of the tally cog into cogs/
# (tally-py.wasm, tally-js.wasm; `just run` loads them when they are there).
polyglot: setup
    cd cogs/tally-py && componentize-py -d ../../wit -w baseline:cog/cog componentize app -p . -p ../../guest-sdk/python -o ../tally-py.wasm
    node guest-sdk/js/build.mjs cogs/tally-js/app.js cogs/tally-js.wasm

# The main job on the embedded default: build the cogs and run the host.
run *ARGS: cogs dashboard
    BASELINE_DASHBOARD_DIR="{{dashboard_dir}}" cargo run --release -p baseline-host -- run {{ARGS}}

# The whole test suite: formatting, lints, guests, unit and integration tests.
test: setup dashboard browser-setup
    cargo fmt --all -- --check
    cargo clippy -p baseline-dashboard -p baseline-api-types --target wasm32-unknown-unknown -- -D warnings
    cargo clippy --target wasm32-unknown-unknown --target-dir "{{guest_dir}}" -p baseline-ui-sdk -p reference-ui -- -D warnings
    cargo clippy -p baseline-host -p baseline-discord-sim -p baseline-llm-sim --all-targets -- -D warnings
    cargo clippy --target wasm32-wasip2 --target-dir "{{guest_dir}}" -p baseline-sdk -p status -p reference -p ask -p hostile -p clash -p storm-cache -p spin-start -p heavy-start -p ping -p asker -p wit-0-1 -p wit-0-2 -p witness -p tally -- -D warnings
    cargo build --target wasm32-wasip2 --profile cog --target-dir "{{guest_dir}}" {{test_guests}}
    cargo build --target wasm32-unknown-unknown --profile cog --target-dir "{{guest_dir}}" -p reference-ui
    cargo test -p baseline-host -p baseline-discord-sim -p baseline-llm-sim -p baseline-api-types --no-fail-fast
    cargo test -p baseline-sdk --doc

# Lints, as CI would want them.
lint: setup
    cargo clippy -p baseline-host -p baseline-discord-sim --all-targets -- -D warnings
    cargo clippy --target wasm32-wasip2 -p baseline-sdk -p status -p reference -- -D warnings

# Benchmarks of the runtime (figures go in docs/benchmarks.md).
bench: setup
    cargo build --target wasm32-wasip2 --profile cog --target-dir "{{guest_dir}}" -p status -p reference -p hostile -p tally
    cd tests/cogs/python && componentize-py -d ../../../wit -w baseline:cog/cog componentize app -o "{{guest_dir}}/pyecho.wasm"
    mkdir -p "{{guest_dir}}/twins" && cp "{{guest_dir}}/wasm32-wasip2/cog/tally.wasm" "{{guest_dir}}/twins/"
    cd cogs/tally-py && componentize-py -d ../../wit -w baseline:cog/cog componentize app -p . -p ../../guest-sdk/python -o "{{guest_dir}}/twins/tally-py.wasm"
    node guest-sdk/js/build.mjs cogs/tally-js/app.js "{{guest_dir}}/twins/tally-js.wasm"
    BASELINE_BENCH_TWINS="{{guest_dir}}/twins" BASELINE_BENCH_EXTRA="{{guest_dir}}/pyecho.wasm:pyhello,{{guest_dir}}/pyecho.wasm:pycount" cargo bench -p baseline-host --bench runtime

# Interactions end to end through the Discord simulator at fixed rates (figures go in docs/benchmarks.md).
bench-discord: setup
    cargo build --target wasm32-wasip2 --profile cog --target-dir "{{guest_dir}}" -p hostile
    cargo bench -p baseline-host --bench interactions

# Host memory per guild (1 000 guilds over 4 shards) and event throughput (figures go in docs/benchmarks.md).
bench-guilds: cogs
    cargo build --release -p baseline-host
    cargo bench -p baseline-host --bench guilds

# The storm: four hostile cogs against a normal one, release build; prints
# the normal cog's p50/p99 quiet and in the storm, and memory (figures go in docs/benchmarks.md).
bench-storm: setup
    cargo build --target wasm32-wasip2 --profile cog --target-dir "{{guest_dir}}" {{test_guests}}
    cargo test --release -p baseline-host --test host storm_benchmark -- --ignored --nocapture

# CPU per interaction of `baseline run` and of a minimal serenity bot, each in
# its own process against `baseline sim` (figures go in docs/benchmarks.md).
bench-cpu: setup
    cargo build --target wasm32-wasip2 --profile cog --target-dir "{{guest_dir}}" -p ping
    cargo build --release -p baseline-host --bin baseline --example serenity_ping --example twilight_ping
    cargo bench -p baseline-host --bench cpu

# The LLM gateway's added latency against the LLM simulator called
# directly, open loop at 1 000 requests/s (figures go in docs/benchmarks.md).
bench-llm:
    cargo bench -p baseline-host --bench llm

# Release binary at target/release/baseline.
build: cogs
    cargo build --release -p baseline-host

# Load test of the settings read route on Postgres + Redis (figures go in docs/benchmarks.md).
bench-api: cogs
    cargo build --release -p baseline-host
    tests/bench/settings-read.sh 20 8
