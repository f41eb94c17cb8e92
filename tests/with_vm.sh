#!/usr/bin/env bash
# tests/with_vm.sh COMMAND...: make test's runner. Starts the VM suite
# (tests/vm.rs: Debian's kernel under TCG, the longest test binary by
# minutes) in the background first, then runs COMMAND (cargo test ...)
# with CHECK_RAW_VM_SPOOL set, so that tests/vm.rs, when its turn comes,
# reads the background run's result (tests/harness/vm_spool.rs) instead
# of booting again: the VM's minutes overlap the other binaries'.
#
# Exits with COMMAND's status, after the background run ended (it is
# bounded by tests/vm.rs's SUITE_LIMIT and kills its VM at that limit):
# no process is left behind. Its own output is in target/vm-spool/log.
set -uo pipefail

spool="$PWD/target/vm-spool"
rm -rf "$spool"
mkdir -p "$spool"

# The vm test binary's path, as cargo prints it after building it.
cargo=${CARGO:-cargo}
bin=$("$cargo" test --release --locked --test vm --no-run 2>&1 |
    tee "$spool/build.log" |
    sed -n 's/^ *Executable tests\/vm\.rs (\(.*\))$/\1/p')

pid=""
if [ -n "$bin" ] && [ -x "$bin" ]; then
    CHECK_RAW_VM_SPOOL="$spool" "$bin" --ignored --exact \
        spool_the_suite_for_make_test --nocapture >"$spool/log" 2>&1 &
    pid=$!
    export CHECK_RAW_VM_SPOOL="$spool"
    # An interrupted make test takes the background run with it: the
    # spooler, and vng's process group (its child, qemu's parent).
    trap 'for c in $(pgrep -P "$pid"); do kill -KILL -- "-$c" 2>/dev/null; done; kill "$pid" 2>/dev/null; exit 130' INT TERM
else
    echo "tests/with_vm.sh: could not build tests/vm.rs (see $spool/build.log); it runs in turn" >&2
fi

"$@"
status=$?
if [ -n "$pid" ]; then
    wait "$pid"
fi
exit "$status"
