#!/bin/sh
# Coverage-guided fuzzing of every target (or those named), one after the
# other (never two at once: each takes a core), SECONDS each (default 180;
# the listener's web_request was run 900 s). Needs a nightly toolchain and
# cargo-fuzz (cargo install cargo-fuzz --locked); without them it says so
# and exits 0. Never part of `make test`. Corpora grow in fuzz/corpus/
# (not in git); a crash lands in fuzz/artifacts/TARGET/ and the run stops.
#   fuzz/run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")"
secs=${1:-180}
[ $# -gt 0 ] && shift
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly' || ! cargo fuzz --version >/dev/null 2>&1; then
    echo "skipping fuzz: needs a nightly toolchain and cargo-fuzz" >&2
    exit 0
fi
targets=${*:-$(cargo +nightly fuzz list)}
for t in $targets; do
    mkdir -p "corpus/$t"
    seeds=; [ -d "seeds/$t" ] && seeds="seeds/$t"
    # -O: optimised, debug assertions still on (cargo-fuzz's default).
    cargo +nightly fuzz run -O "$t" "corpus/$t" $seeds -- \
        -max_total_time="$secs" -print_final_stats=1
done
