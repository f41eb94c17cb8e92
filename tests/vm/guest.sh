#!/bin/sh
# The command virtme-ng runs inside the VM (as root, on this machine's root
# filesystem, read-only, with writable overlays): tests/harness/vm.rs boots
# it as `guest.sh RWDIR SCRIPT ARGS...`.
#
# Without a console the guest's output is lost (virtme-ng's "console
# fallback"), so everything goes to RWDIR, the one directory the VM shares
# writable with the host: `booted` as soon as the guest runs (the harness
# tells "did not boot" from "did not finish" by it), SCRIPT's stdout and
# stderr in `output`, its exit code in `exit` once it ends. SCRIPT writes
# its own result files into RWDIR too.
rw=$1
shift
echo "$(uname -r)" >"$rw/booted"
sh "$@" >"$rw/output" 2>&1
echo $? >"$rw/exit"
sync
