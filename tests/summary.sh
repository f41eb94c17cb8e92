#!/usr/bin/env bash
# tests/summary.sh COMMAND...: runs COMMAND (make test: cargo test
# --no-fail-fast ...) with its output shown and kept in $TEST_LOG
# (target/test.log), then ends with one line of exactly this form:
#
#   N passed, N failed, N skipped
#
# counted from the output: libtest's "test result:" line of each test
# binary (passed, failed; its ignored are skipped), minus the tests that
# skipped themselves, which print a line "skipping <test>: <why>" to stderr
# and which libtest counts as passed. A binary without a "test result:"
# line (harness = false, like tests/demo.rs, or one that crashed) counts as
# one test: failed if cargo lists it as a failed target at the end, skipped
# if it printed a "skipping" line, passed otherwise.
#
# Exits with COMMAND's status, or 1 if it said 0 yet a test failed.
set -uo pipefail

log=${TEST_LOG:-target/test.log}
mkdir -p "$(dirname "$log")"
# Colours survive the pipe when the output is a terminal.
if [ -t 1 ]; then
    export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-always}
fi
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

summary=$(awk '
    { gsub(/\033\[[0-9;]*[A-Za-z]/, ""); sub(/\r$/, "") }

    # A test binary starts: "Running tests/demo.rs (target/.../demo-0f1e)",
    # "Running unittests src/lib.rs (...)", "Doc-tests check_raw".
    /^ +Running / {
        n++
        src = ($2 == "unittests") ? $3 : $2
        bin = $NF
        gsub(/[()]/, "", bin)
        sub(/.*\//, "", bin)
        sub(/-[0-9a-f]+$/, "", bin)
        if ($2 == "unittests")
            key[n] = (src == "src/lib.rs") ? "--lib" : "--bin " bin
        else if (src ~ /^benches\// || src ~ /^bench\//)
            key[n] = "--bench " bin
        else
            key[n] = "--test " bin
        next
    }
    /^ +Doc-tests / { n++; key[n] = "--doc"; next }

    /^test result: / && n > 0 {
        result[n] = 1
        for (i = 3; i < NF; i++) {
            w = $(i + 1)
            sub(/[;,]$/, "", w)
            if (w == "passed") pass[n] += $i
            else if (w == "failed") fail[n] += $i
            else if (w == "ignored") ign[n] += $i
        }
    }

    # A test that skipped itself (the line may follow libtest'"'"'s
    # "test name ... " when tests run one at a time).
    /(^|\.\.\. )skipping [^ ]+:/ && n > 0 { skip[n]++ }

    # cargo --no-fail-fast: "error: 2 targets failed:" then "    `--test demo`";
    # without it: "error: test failed, to rerun pass `--test demo`".
    /^ +`--[a-z]+( [^`]*)?`$/ || /to rerun pass `--/ {
        t = $0
        sub(/^[^`]*`/, "", t)
        sub(/`.*$/, "", t)
        failed_target[t] = 1
    }

    END {
        for (i = 1; i <= n; i++) {
            if (i in result) {
                s = skip[i] + 0
                if (s > pass[i]) s = pass[i]
                passed += pass[i] - s
                failed += fail[i]
                skipped += s + ign[i]
            } else if (key[i] in failed_target) {
                failed++
            } else if (skip[i] > 0) {
                skipped++
            } else {
                passed++
            }
        }
        printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
    }' "$log")

failed=${summary#* passed, }
failed=${failed%% failed*}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "$1 exited with status $status before any test failed (a build error?); see above or $log"
fi
echo "$summary"
if [ "$status" -eq 0 ] && [ "$failed" -ne 0 ]; then
    status=1
fi
exit "$status"
