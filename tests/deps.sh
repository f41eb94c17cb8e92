#!/bin/sh
# The Debian packages each make target needs, in one place, and what gets
# them installed: the Makefile and .ci/run call this script.
#
#   tests/deps.sh PURPOSE...          install what is missing (as root)
#   tests/deps.sh --check PURPOSE...  only say what is missing
#   tests/deps.sh --list PURPOSE...   print the packages, one a line
#
#   PURPOSE: build (cargo build), demo, test, bench, lint, deb (make ...);
#   demo, test, bench and deb include build; test includes vm (the VM of
#   tests/vm.rs: see the "vm" section below).
#
# Checks which of the packages are missing (dpkg-query) and, as root on
# Debian, installs only those: apt-get update once, then apt-get install
# --no-install-recommends, with a temporary policy-rc.d so that no service
# they bring (nginx, keepalived, prometheus, ...) starts on this host, and
# the units of Prometheus and the blackbox exporter disabled so that they
# do not start at the next boot either; the tests start their own copies
# inside network namespaces. Prints one line saying what
# it installs and why; nothing when all is there.
#
# Not root, not Debian, or --check: prints the command to run instead and
# exits 0, so that the tests run and those that need what is missing skip
# with a message. Exits 1 when what follows cannot work at all (build's
# packages missing, or deb's) and, under CI=true, whenever something is
# missing: CI must run every test.
set -eu

# ---- vm: the VM of tests/vm.rs (issue 20) -----------------------------------
# The end-to-end tests boot Debian's own kernel (IPVS, ipip as modules) with
# virtme-ng under qemu (TCG), on this machine's root filesystem. What they
# need, besides the packages of TABLE (keepalived, nginx-light, ...):
#   - VM_PACKAGES, from Debian;
#   - virtme-ng (PyPI, pinned) in a venv of VM_CACHE: $VM_CACHE/venv/bin/vng;
#   - linux-image-$VM_KERNEL fetched with apt-get download (apt checks its
#     hash) and unpacked with dpkg -x into $VM_CACHE/$VM_KERNEL (never
#     installed: no initramfs, no bootloader), its modules copied to
#     /usr/lib/modules/$VM_KERNEL and depmod run (virtme-ng and modprobe in
#     the guest look there).
# Everything is cached: a second run only checks. To bump the kernel: run
# apt-get update && apt-cache depends linux-image-amd64 and put the version
# it depends on here; tests/harness/vm.rs reads this line.
VM_KERNEL=6.1.0-57-amd64
VM_VNG=virtme-ng==1.42
# Not under /var/cache: virtme-ng mounts a tmpfs there in the guest, which
# would hide the modules it links /lib/modules/$VM_KERNEL to.
VM_CACHE=${CHECK_RAW_VM_CACHE:-/var/lib/check_raw-vm}
VM_PACKAGES='qemu-system-x86 kmod busybox-static ipvsadm python3-venv curl'

# What of the VM is missing, one "what: why" item a line; nothing if none.
vm_missing() {
    for pkg in $VM_PACKAGES; do
        case "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" in
        *" ok installed") ;;
        *) echo "$pkg: Debian package the VM needs" ;;
        esac
    done
    [ -x "$VM_CACHE/venv/bin/vng" ] || echo "vng: $VM_VNG from PyPI, in $VM_CACHE/venv"
    [ -f "$VM_CACHE/$VM_KERNEL/boot/vmlinuz-$VM_KERNEL" ] ||
        echo "linux-image-$VM_KERNEL: the VM's kernel, unpacked in $VM_CACHE/$VM_KERNEL"
    [ -f "$VM_CACHE/$VM_KERNEL/lib/modules/$VM_KERNEL/modules.dep" ] ||
        echo "$VM_CACHE/$VM_KERNEL: unpacked without modules.dep (fetched again)"
    [ -f "/usr/lib/modules/$VM_KERNEL/modules.dep" ] ||
        echo "/usr/lib/modules/$VM_KERNEL: the VM kernel's modules, with depmod run"
}

# Installs what vm_missing names (as root). Fails with the step that failed.
vm_install() {
    export DEBIAN_FRONTEND=noninteractive
    log=$VM_CACHE/install.log
    mkdir -p "$VM_CACHE"
    : >"$log"
    fail() {
        tail -n 20 "$log" >&2
        echo "$0: vm: $1 failed (last lines above, whole log in $log)" >&2
        exit 1
    }
    pkgs=""
    for pkg in $VM_PACKAGES; do
        case "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" in
        *" ok installed") ;;
        *) pkgs="$pkgs $pkg" ;;
        esac
    done
    apt-get update -q >>"$log" 2>&1 || fail "apt-get update"
    if [ -n "$pkgs" ]; then
        # No service may start on the host (ipvsadm has an init script).
        vm_policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 0755 /usr/sbin/policy-rc.d
            vm_policy=yes
        fi
        # shellcheck disable=SC2086 # a list of package names
        apt-get install -y -q --no-install-recommends $pkgs >>"$log" 2>&1 || {
            [ -z "$vm_policy" ] || rm -f /usr/sbin/policy-rc.d
            fail "apt-get install$pkgs"
        }
        [ -z "$vm_policy" ] || rm -f /usr/sbin/policy-rc.d
    fi
    if [ ! -x "$VM_CACHE/venv/bin/vng" ]; then
        rm -rf "$VM_CACHE/venv"
        { /usr/bin/python3 -m venv "$VM_CACHE/venv" &&
            "$VM_CACHE/venv/bin/pip" install -q "$VM_VNG"; } >>"$log" 2>&1 ||
            fail "pip install $VM_VNG (into $VM_CACHE/venv)"
    fi
    dir=$VM_CACHE/$VM_KERNEL
    if [ ! -f "$dir/boot/vmlinuz-$VM_KERNEL" ] ||
        [ ! -f "$dir/lib/modules/$VM_KERNEL/modules.dep" ]; then
        # Unpacked beside, renamed when whole: a broken download leaves
        # nothing that looks like a kernel.
        rm -rf "$dir" "$dir.part" "$VM_CACHE"/linux-image-*.deb
        (cd "$VM_CACHE" && apt-get download "linux-image-$VM_KERNEL") >>"$log" 2>&1 ||
            fail "apt-get download linux-image-$VM_KERNEL (is $VM_KERNEL still in the archive? apt-cache depends linux-image-amd64 names the current version: bump VM_KERNEL in $0)"
        dpkg -x "$VM_CACHE"/linux-image-"$VM_KERNEL"_*.deb "$dir.part" >>"$log" 2>&1 ||
            fail "dpkg -x of linux-image-$VM_KERNEL (a broken download? it is removed: run again)"
        rm -f "$VM_CACHE"/linux-image-*.deb
        [ -f "$dir.part/boot/vmlinuz-$VM_KERNEL" ] &&
            [ -d "$dir.part/lib/modules/$VM_KERNEL/kernel/net/netfilter/ipvs" ] || {
            rm -rf "$dir.part"
            fail "linux-image-$VM_KERNEL has no boot/vmlinuz-$VM_KERNEL or no IPVS modules"
        }
        # virtme-ng links the guest's /lib/modules/$VM_KERNEL to the modules
        # beside the vmlinuz it boots: they need their modules.dep too.
        depmod -b "$dir.part" "$VM_KERNEL" >>"$log" 2>&1 || fail "depmod -b $dir.part $VM_KERNEL"
        mv "$dir.part" "$dir"
    fi
    if [ ! -f "/usr/lib/modules/$VM_KERNEL/modules.dep" ]; then
        mkdir -p /usr/lib/modules
        rm -rf "/usr/lib/modules/$VM_KERNEL"
        cp -a "$dir/lib/modules/$VM_KERNEL" "/usr/lib/modules/$VM_KERNEL" >>"$log" 2>&1 ||
            fail "copying the modules to /usr/lib/modules/$VM_KERNEL"
        depmod "$VM_KERNEL" >>"$log" 2>&1 || fail "depmod $VM_KERNEL"
    fi
}

# vm_deps MODE: the vm part of the purposes test and vm (MODE as below).
vm_deps() {
    if [ "$1" = list ]; then
        printf '%s\n' $VM_PACKAGES
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "$0: not Debian: the VM tests (tests/vm.rs) need $VM_PACKAGES, $VM_VNG and Debian's kernel $VM_KERNEL; they skip" >&2
        [ "${CI:-}" = true ] && exit 1
        return 0
    fi
    missing=$(vm_missing)
    [ -n "$missing" ] || return 0
    if [ "$1" = check ] || [ "$(id -u)" != 0 ]; then
        echo "$0: the VM tests (tests/vm.rs) need: $(echo "$missing" | paste -sd';' -); they skip. As root, run: $0 vm" >&2
        [ "${CI:-}" = true ] && exit 1
        return 0
    fi
    echo "$0: vm: installing for the VM tests: $(echo "$missing" | paste -sd';' -)" >&2
    vm_install
    missing=$(vm_missing)
    if [ -n "$missing" ]; then
        echo "$0: vm: still missing after the install: $missing" >&2
        exit 1
    fi
}
# ---- end of vm ---------------------------------------------------------------

# package     | purposes         | why (shown when it is installed)
TABLE='
libssl-dev   | build            | OpenSSL headers for the openssl crate
pkg-config   | build            | the openssl crate finds OpenSSL with it
iproute2     | demo test bench  | ip netns, veth, bridge, ss: every testbed
ethtool      | demo test bench  | veth offloads off: every testbed
nginx-light  | demo test bench  | the web server of the demo, http.rs and tls.rs (TLS too)
iperf3       | test bench       | the UDP flood of faults.rs and make bench
hyperfine    | bench            | make bench: wall time, ours against the yardsticks (TLS rows too)
monitoring-plugins-basic | bench | make bench: check_tcp, check_http and check_http --ssl, the yardsticks
curl         | bench            | make bench: the yardstick of the large bodies and (curl -k) of TLS
time         | bench            | make bench: peak RSS and CPU time (/usr/bin/time)
nsd          | test             | dns.rs: the DNS server of the real servers
monitoring-plugins-standard | bench | check_dig, the yardstick of the DNS bench
bind9-dnsutils | bench          | dig, which check_dig runs
prometheus-blackbox-exporter | bench | bench/serve.rs: the tcp_connect prober, a yardstick of check_raw_serve
keepalived   | test bench       | daemons.rs: MISC_CHECK, misc_dynamic; make bench: the keepalived rows of bench/serve.rs
ldirectord   | test             | daemons.rs: external checks
nagios4-core | test             | daemons.rs: Nagios 4 runs the plugins
icinga2-bin  | test             | daemons.rs: Icinga 2 runs the plugins
gcc          | test bench       | daemons.rs and bench/serve.rs build the IPVS stub with it
libc6-dev    | test bench       | the C headers of that stub
libcap2-bin  | test             | setcap, for keepalived.rs and privilege.rs
util-linux   | test             | setpriv, for cli.rs, keepalived.rs and privilege.rs
nftables     | test bench       | nft, for tcp.rs (a firewall REJECT on a real server), privilege.rs (a frame counter) and bench/serve.rs (the SYN counters)
rpm          | test             | rpmbuild, for packaging.rs: builds the RPM of packaging/rpm/
systemd      | test             | systemd-analyze, for packaging.rs: verifies check_raw_serve.service
man-db       | lint test        | make lint and packaging.rs check the man pages with man
groff-base   | lint test        | the formatter man runs
debhelper    | deb test         | dh, which debian/rules runs (make deb; packaging.rs builds the .deb)
dpkg-dev     | deb test         | dpkg-buildpackage
prometheus   | test             | serve_prometheus.rs: Prometheus 2.42 scrapes the /metrics and /probe of check_raw_serve in a namespace; promtool checks the exposition and the unit tests of the shipped alert rules
chromium     | test             | serve_page.rs: headless Chromium loads the status page (screenshot, DOM, JavaScript off)
python3-prometheus-client | test | the tests of serve::board: its strict OpenMetrics parser reads /metrics in that format (promtool cannot)
'

usage() {
    echo "usage: $0 [--check|--list] build|demo|test|bench|lint|deb|vm..." >&2
    exit 2
}

mode=install
case "${1:-}" in
--check) mode=check; shift ;;
--list) mode=list; shift ;;
esac
[ $# -gt 0 ] || usage
for p in "$@"; do
    case "$p" in
    build | demo | test | bench | lint | deb | vm) ;;
    *) usage ;;
    esac
done
# vm: its own section above; the other purposes go on below.
case " $* " in
*" vm "* | *" test "*) vm_deps "$mode" ;;
esac
purposes=$(echo "$*" | sed 's/\bvm\b//g; s/  */ /g; s/^ //; s/ $//')
[ -n "$purposes" ] || exit 0

# One "package|why|purposes" line for each package the purposes need,
# "purposes" being those asked for (build included) that need it: a
# package of make deb that a test also uses is not a hard need of make test.
rows=$(printf '%s\n' "$TABLE" | awk -F'|' -v asked="$purposes" '
    BEGIN {
        n = split(asked, a, " ")
        for (i = 1; i <= n; i++) {
            want[a[i]] = 1
            if (a[i] != "lint") want["build"] = 1
        }
    }
    NF == 3 {
        for (i = 1; i <= 3; i++) gsub(/^ +| +$/, "", $i)
        n = split($2, f, " ")
        hit = ""
        for (i = 1; i <= n; i++)
            if (f[i] in want) hit = hit " " f[i]
        if (hit != "") print $1 "|" $3 "|" substr(hit, 2)
    }')
packages=$(printf '%s\n' "$rows" | cut -d'|' -f1 | tr '\n' ' ')
packages=${packages% }

if [ "$mode" = list ]; then
    # shellcheck disable=SC2086 # one package a line
    printf '%s\n' $packages
    exit 0
fi

what="make $(echo "$purposes" | sed 's/ / and make /g')"
case "$purposes" in
*" "*) needs=need ;;
*) needs=needs ;;
esac
me=$0

# Not Debian: nothing to check with; name the Debian packages.
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "$me: not Debian (no dpkg-query, apt-get): $what $needs the Debian packages $packages; install their equivalents, or the tests that need them skip" >&2
    [ "${CI:-}" = true ] && exit 1
    exit 0
fi

missing=""
why=""
hard=no
while IFS='|' read -r pkg reason for; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *" ok installed") continue ;;
    esac
    missing="$missing $pkg"
    why="$why${why:+; }$pkg: $reason"
    case " $for " in
    *" build "* | *" deb "*) hard=yes ;;
    esac
done <<EOF
$rows
EOF
missing=${missing# }
[ -n "$missing" ] || exit 0

cmd="apt-get install -y --no-install-recommends $missing"
if [ "$mode" = check ] || [ "$(id -u)" != 0 ]; then
    [ "${CI:-}" = true ] && hard=yes
    if [ $hard = yes ]; then
        then_what="cannot go on without them"
    else
        then_what="the tests that need them skip"
    fi
    echo "$me: $what $needs $missing ($why); $then_what. As root, run: $me $purposes (it runs: $cmd, starting no service)" >&2
    [ $hard = yes ] && exit 1
    exit 0
fi

echo "$me: installing $missing for $what ($why); their services are not started" >&2

# No service of these packages may start on the host (invoke-rc.d and
# deb-systemd-invoke ask policy-rc.d); the policy is removed if ours.
policy=/usr/sbin/policy-rc.d
ours=""
log=$(mktemp)
cleanup() {
    rm -f "$log"
    if [ -n "$ours" ]; then rm -f "$policy"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    ours=yes
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # $missing: a list of package names
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "$me: apt-get failed (its last lines above); as root, run: $cmd" >&2
    exit 1
fi

# policy-rc.d keeps a service from starting now; a package's postinst still
# enables its unit, which would start it at the next boot. The daemons the
# tests start themselves in namespaces, and that would otherwise listen on
# this host (Prometheus on :9090, scraping itself; the blackbox exporter on
# :9115), are disabled here: only those this run installed, so that an
# operator's own setup is left alone. systemctl disable works on the unit
# files without a running systemd (deb-systemd-helper refuses outside
# dpkg), and a later upgrade's postinst keeps a disabled unit disabled.
for pkg in prometheus prometheus-blackbox-exporter; do
    case " $missing " in
    *" $pkg "*) ;;
    *) continue ;;
    esac
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable "$pkg.service" >/dev/null 2>&1 || true
    fi
done
