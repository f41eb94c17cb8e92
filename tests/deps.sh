#!/bin/sh
# The Debian packages each make target needs, in one place, and what gets
# them installed: the Makefile and .ci/run call this script.
#
#   tests/deps.sh PURPOSE...          install what is missing (as root)
#   tests/deps.sh --check PURPOSE...  only say what is missing
#   tests/deps.sh --list PURPOSE...   print the packages, one a line
#
#   PURPOSE: build (cargo build), demo, test, bench, lint, deb (make ...);
#   demo, test, bench and deb include build.
#
# Checks which of the packages are missing (dpkg-query) and, as root on
# Debian, installs only those: apt-get update once, then apt-get install
# --no-install-recommends, with a temporary policy-rc.d so that no service
# they bring (nginx, keepalived, ...) starts on this host; the tests start
# their own copies inside network namespaces. Prints one line saying what
# it installs and why; nothing when all is there.
#
# Not root, not Debian, or --check: prints the command to run instead and
# exits 0, so that the tests run and those that need what is missing skip
# with a message. Exits 1 when what follows cannot work at all (build's
# packages missing, or deb's) and, under CI=true, whenever something is
# missing: CI must run every test.
set -eu

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
keepalived   | test             | daemons.rs: MISC_CHECK, misc_dynamic
ldirectord   | test             | daemons.rs: external checks
nagios4-core | test             | daemons.rs: Nagios 4 runs the plugins
icinga2-bin  | test             | daemons.rs: Icinga 2 runs the plugins
gcc          | test             | daemons.rs builds its IPVS stub with it
libc6-dev    | test             | the C headers of that stub
libcap2-bin  | test             | setcap, for daemons.rs
util-linux   | test             | setpriv, for tcp.rs and daemons.rs
nftables     | test             | nft, for tcp.rs: a firewall's REJECT on a real server
rpm          | test             | rpmbuild, for packaging.rs: builds the RPM of packaging/rpm/
man-db       | lint             | make lint checks the man page with man
groff-base   | lint             | the formatter man runs
debhelper    | deb              | dh, which debian/rules runs
dpkg-dev     | deb              | dpkg-buildpackage
'

usage() {
    echo "usage: $0 [--check|--list] build|demo|test|bench|lint|deb..." >&2
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
    build | demo | test | bench | lint | deb) ;;
    *) usage ;;
    esac
done
purposes="$*"

# One "package|why|purposes" line for each package the purposes need.
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
        for (i = 1; i <= n; i++)
            if (f[i] in want) { print $1 "|" $3 "|" $2; break }
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
