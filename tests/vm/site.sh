# Sourced by cases.sh inside the VM: a real LVS-DR site in network
# namespaces on Debian's kernel, with real IPVS. The addresses are those of
# tests/harness/testbed.rs (documentation ranges only):
#
#   client 198.51.100.50   routes the VIP via lb
#   lb     198.51.100.1    MASTER director: the VIP on eth0, IPVS in DR mode
#   lbb    198.51.100.2    BACKUP director: no VIP, no IPVS
#   rs1..3 198.51.100.11-13  the VIP on lo, arp_ignore=1, arp_announce=2,
#                          nginx on port 80 answering its own name
#
# all on one bridge (br0, in the VM's own namespace). The VM is thrown away
# after the run, so nothing here cleans up; each case puts the site back
# into the state it needs with site_reset.

VIP=203.0.113.10
PORT=80
CLIENT=198.51.100.50
LB=198.51.100.1
LBB=198.51.100.2
RS1=198.51.100.11
RS2=198.51.100.12
RS3=198.51.100.13
HOSTS="client lb lbb rs1 rs2 rs3"
# Guest-only state (the VM's /tmp is a throwaway overlay).
RUN=/tmp/crt-vm
# The checks installed as `make install` lays them out (keepalived's script
# security wants a root-owned path; the VM's /usr is a throwaway overlay).
LIBDIR=/usr/lib/check_raw
NAMES="check_raw_tcp check_raw_http_get check_raw_http check_raw_dns check_raw_vip"

addr_of() {
    case $1 in
    client) echo $CLIENT ;; lb) echo $LB ;; lbb) echo $LBB ;;
    rs1) echo $RS1 ;; rs2) echo $RS2 ;; rs3) echo $RS3 ;;
    esac
}

# ns HOST CMD...: CMD in HOST's namespace.
ns() {
    h=$1
    shift
    ip netns exec "$h" "$@"
}

# say TEXT: into the current case's log (and the guest's output).
say() { echo "$*"; }

# fail_site WHAT: the site could not be built: nothing can be judged.
fail_site() {
    echo "site: $*" >&2
    exit 1
}

site_up() {
    mkdir -p "$RUN" || fail_site "mkdir $RUN"
    for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_wlc; do
        modprobe "$m" || fail_site "modprobe $m"
    done
    mkdir -p "$LIBDIR"
    cp "$CHECK_RAW" "$LIBDIR/check_raw" && chmod 0755 "$LIBDIR/check_raw" ||
        fail_site "install $CHECK_RAW in $LIBDIR"
    for n in $NAMES; do ln -sfn check_raw "$LIBDIR/$n"; done
    ip link add br0 type bridge && ip link set br0 up || fail_site "bridge br0"
    for h in $HOSTS; do
        ip netns add "$h" &&
            ip link add "p$h" type veth peer name eth0 netns "$h" &&
            ip link set "p$h" master br0 up &&
            ns "$h" ip link set lo up &&
            ns "$h" ip addr add "$(addr_of "$h")/24" dev eth0 &&
            ns "$h" ip link set eth0 up || fail_site "namespace $h"
        # As the host testbed: offloads off, so that frames on the veths
        # carry real checksums for the packet sockets.
        for end in "ip netns exec $h ethtool -K eth0" "ethtool -K p$h"; do
            $end rx off tx off tso off gso off gro off >/dev/null 2>&1 ||
                fail_site "ethtool offloads off ($end)"
        done
    done
    ns client ip route add $VIP/32 via $LB || fail_site "client's route to the VIP"
    ns lb ip addr add $VIP/32 dev eth0 || fail_site "VIP on lb"
    for h in rs1 rs2 rs3; do
        for c in all eth0; do
            ns "$h" sh -c "echo 1 >/proc/sys/net/ipv4/conf/$c/arp_ignore &&
                echo 2 >/proc/sys/net/ipv4/conf/$c/arp_announce" || fail_site "sysctls on $h"
        done
        ns "$h" ip addr add $VIP/32 dev lo || fail_site "VIP on $h's lo"
        nginx_up "$h" || fail_site "nginx on $h"
    done
}

# nginx_up HOST: nginx on HOST:80 answering "HOST\n" to everything.
nginx_up() {
    d=$RUN/nginx-$1
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
    access_log $d/access.log;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen $PORT;
        location / { default_type text/plain; return 200 "$1\n"; }
    }
}
CONF
    ns "$1" /usr/sbin/nginx -c "$d/nginx.conf"
}

# ipvs_manual: the virtual service as an admin would set it by hand: VIP:80
# round robin, rs1..rs3 in DR mode (-g), weight 1.
ipvs_manual() {
    ns lb ipvsadm -C
    ns lb ipvsadm -A -t $VIP:$PORT -s rr &&
        for rs in $RS1 $RS2 $RS3; do
            ns lb ipvsadm -a -t $VIP:$PORT -r $rs:$PORT -g -w 1 || return 1
        done
}

# vip_on HOST / vip_off HOST: the VIP on HOST's lo, or not.
vip_on() { ns "$1" ip addr replace $VIP/32 dev lo; }
vip_off() { ns "$1" ip addr del $VIP/32 dev lo 2>/dev/null || true; }

# site_reset: every real server holds the VIP, no keepalived, the IPVS
# table by hand: what each case starts from.
site_reset() {
    keepalived_stop
    for h in rs1 rs2 rs3; do vip_on "$h"; done
    ipvs_manual || say "site_reset: ipvsadm failed"
}

# ipvs_table: `ipvsadm -Ln` ns lb.
ipvs_table() { ns lb ipvsadm -Ln; }

# ipvs_weight RS: RS's weight ns lb's IPVS table for VIP:80, "absent" if
# RS is not in it.
ipvs_weight() {
    ns lb ipvsadm -Ln -t $VIP:$PORT 2>/dev/null |
        awk -v rs="$1:$PORT" '$1 == "->" && $2 == rs { w = $4 } END { print (w == "" ? "absent" : w) }'
}

# requests N: N requests from the client through the VIP, one connection
# each (so round robin spreads them); prints what each answered ("rs1",
# ..., or "FAILED"), one a line. -m: generous, TCG is slow. (busybox wget
# segfaults in the guest: curl.)
requests() {
    i=0
    while [ $i -lt "$1" ]; do
        i=$((i + 1))
        body=$(ns client curl -sS -m 4 "http://$VIP:$PORT/" 2>/dev/null) || body=FAILED
        [ -n "$body" ] || body=FAILED
        echo "$body"
    done
}

# count WORD LINES: how many lines of LINES are WORD.
count() { printf '%s\n' "$2" | grep -cx "$1" || true; }

# check NAME ARGS...: runs /usr/lib/check_raw/NAME ns lb (or $IN), logs
# the command, its output and exit code, and prints the exit code.
check() {
    n=$1
    shift
    out=$(ns "${IN:-lb}" "$LIBDIR/$n" "$@" 2>&1)
    code=$?
    {
        echo "\$ ${IN:-lb}: $n $*"
        echo "$out"
        echo "exit $code"
    } >&2
    echo $code
}

# ---- keepalived, real, ns lb ------------------------------------------------

# keepalived_start CONF: keepalived's checkers (no VRRP: lb is MASTER by
# construction) in lb with CONF, its pid files and log in a fresh directory
# under $RUN each time (keepalived refuses to start while a pid file it is
# given names a live process); $RUN/keepalived is the current one.
KA_N=0
keepalived_start() {
    keepalived_stop
    KA_N=$((KA_N + 1))
    k=$RUN/keepalived-$CASE-$KA_N
    mkdir -p "$k"
    ln -sfn "$k" "$RUN/keepalived"
    : >"$k/log"
    ns lb /usr/sbin/keepalived --dont-fork --log-console --log-detail --check \
        -f "$1" --pid "$k/keepalived.pid" --checkers_pid "$k/checkers.pid" \
        --vrrp_pid "$k/vrrp.pid" >>"$k/log" 2>&1 &
    echo $! >"$k/parent"
}

# alive PID: PID runs (a zombie does not count).
alive() {
    [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# keepalived_stop: SIGTERM (keepalived then empties the IPVS table it
# programmed), up to 20 s, then SIGKILL to whatever of it is left.
keepalived_stop() {
    k=$RUN/keepalived
    [ -f "$k/parent" ] || return 0
    pid=$(cat "$k/parent")
    kill "$pid" 2>/dev/null
    i=0
    while alive "$pid" && [ $i -lt 100 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    for f in "$k/parent" "$k/checkers.pid" "$k/keepalived.pid"; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    rm -f "$k/parent"
    return 0
}

keepalived_log() { cat "$RUN/keepalived/log" 2>/dev/null; }

# wait_weight RS WANT SECONDS: polls RS's weight in IPVS until it is WANT
# (a number or "absent"), at most SECONDS; prints the last seen weight.
wait_weight() {
    i=0
    w=$(ipvs_weight "$1")
    while [ "$w" != "$2" ] && [ $i -lt "$3" ]; do
        sleep 1
        i=$((i + 1))
        w=$(ipvs_weight "$1")
    done
    echo "$w"
}
