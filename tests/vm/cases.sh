# The cases of tests/vm.rs, run in sequence inside one VM (one boot for the
# suite): `sh cases.sh RWDIR CHECK_RAW`. Builds the site (site.sh), then
# runs each case in a subshell with its log in RWDIR/caseN.log and what it
# saw, as key=value lines, in RWDIR/caseN.facts; the Rust test asserts on
# those, so each case fails on its own and says what was seen. Ends with
# exit 0 once every case has run, whatever they saw; exit 1 if the site
# could not be built.
#
# Every wait is bounded (a count of 1 s polls); every request and check has
# a timeout. Timeouts are generous and nothing is timed: the VM runs under
# TCG, 10-50 times slower than the host.

RW=$1
CHECK_RAW=$2
HERE=$(dirname "$0")
. "$HERE/site.sh"

# fact KEY VALUE: one line of the current case's facts.
fact() { echo "$1=$2" >>"$RW/$CASE.facts"; }

# served OUT PREFIX: the share of each real server in OUT (from requests),
# and the failures, as facts PREFIX_rs1 ... PREFIX_failed.
served() {
    for h in rs1 rs2 rs3; do fact "$2_$h" "$(count "$h" "$1")"; done
    fact "$2_failed" "$(count FAILED "$1")"
    fact "$2_order" "$(printf '%s' "$1" | tr '\n' ',')"
}

# checks PREFIX ARGS...: check_raw_tcp, check_raw_http and check_raw_vip
# for each real server, exit codes as facts PREFIX_tcp_rs1 ...
checks() {
    p=$1
    shift
    for i in 1 2 3; do
        eval rs=\$RS$i
        fact "${p}_tcp_rs$i" "$(check check_raw_tcp -t 4000 "$@" eth0 "$rs" $VIP $PORT)"
        fact "${p}_http_rs$i" "$(check check_raw_http -t 4000 "$@" -S 200 -s "rs$i" eth0 "$rs" $VIP $PORT www.example.org /)"
        fact "${p}_vip_rs$i" "$(check check_raw_vip -t 3000 "$@" eth0 "$rs" $VIP)"
    done
}

# 1. A healthy site: real IPVS forwards the client's requests round robin
# to every real server; check_raw on the director is OK for each.
case1() {
    site_reset
    say "--- IPVS ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" req
    checks ok
}

# 2. rs2 loses the VIP. keepalived's own TCP_CHECK (to rs2's own address)
# keeps it in IPVS, which keeps sending it a share of the client's
# requests, black-holed; check_raw is CRITICAL for rs2 only.
case2() {
    site_reset
    ns lb ipvsadm -C
    keepalived_start "$HERE/keepalived-tcp-check.conf"
    for i in 1 2 3; do
        eval rs=\$RS$i
        fact "start_weight_rs$i" "$(wait_weight "$rs" 1 60)"
    done
    vip_off rs2
    # Several of keepalived's rounds (delay_loop 1) with rs2 VIP-less.
    sleep 6
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" req
    fact keepalived_weight_rs2 "$(ipvs_weight $RS2)"
    checks down
    fact keepalived_alive "$(kill -0 "$(cat $RUN/keepalived/parent)" 2>/dev/null && echo yes || echo no)"
    fact keepalived_weight_rs2_after "$(ipvs_weight $RS2)"
    say "--- IPVS ---"
    ipvs_table
    say "--- keepalived log ---"
    keepalived_log
    keepalived_stop
}

# 3. Real keepalived with MISC_CHECK running check_raw_tcp takes rs2 (VIP
# lost) out of the real IPVS table; every request succeeds; the VIP back,
# rs2 returns. Then misc_dynamic: the weights check_raw exits with land in
# IPVS.
case3() {
    site_reset
    vip_off rs2
    ns lb ipvsadm -C
    keepalived_start "$HERE/keepalived-misc-check.conf"
    fact up_weight_rs1 "$(wait_weight $RS1 1 90)"
    fact up_weight_rs3 "$(wait_weight $RS3 1 90)"
    fact out_weight_rs2 "$(wait_weight $RS2 absent 90)"
    say "--- IPVS, rs2 without the VIP ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" out
    vip_on rs2
    fact back_weight_rs2 "$(wait_weight $RS2 1 90)"
    say "--- IPVS, the VIP back on rs2 ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" back
    fact misc_failed_rs2 "$(keepalived_log | grep -c "Misc check.*$RS2.*failed\|$RS2.*Misc check.*failed")"
    say "--- keepalived log (MISC_CHECK) ---"
    keepalived_log
    keepalived_stop

    ns lb ipvsadm -C
    keepalived_start "$HERE/keepalived-misc-dynamic.conf"
    for i in 1 2 3; do
        eval rs=\$RS$i
        fact "dyn_weight_rs$i" "$(wait_weight "$rs" $((i + 4)) 90)"
    done
    say "--- IPVS, misc_dynamic ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" dyn
    say "--- keepalived log (misc_dynamic) ---"
    keepalived_log
    keepalived_stop
}

# 4. check_raw_serve with keepalived's FILE_CHECK: added with issue 21,
# once check_raw_serve exists (tests/vm.rs has its test, ignored until then).

# 5. The BACKUP director (lbb: no VIP, no IPVS) checks over the kernel path:
# -r auto (the VIP is not local) and a role file saying BACKUP. By design
# the kernel path cannot see a lost VIP: rs2 without it stays OK there,
# while the MASTER's raw-frame check says CRITICAL.
case5() {
    site_reset
    IN=lbb checks auto -r auto -v
    echo 0 >"$RUN/role-backup"
    fact role_tcp_rs1 "$(IN=lbb check check_raw_tcp -t 4000 -v -r "$RUN/role-backup" eth0 $RS1 $VIP $PORT)"
    fact segment_vip_rs1 "$(IN=lbb check check_raw_vip -t 3000 -v -r auto --segment eth0 $RS1 $VIP)"
    vip_off rs2
    fact novip_backup_tcp_rs2 "$(IN=lbb check check_raw_tcp -t 4000 -v -r auto eth0 $RS2 $VIP $PORT)"
    fact novip_master_tcp_rs2 "$(check check_raw_tcp -t 4000 -v -r auto eth0 $RS2 $VIP $PORT)"
    vip_on rs2
}

site_up
for c in 1 2 3 5; do
    CASE=case$c
    : >"$RW/$CASE.facts"
    echo "=== $CASE ($(date +%T))"
    (case$c) >"$RW/$CASE.log" 2>&1
    fact done "$?"
done
echo "=== end ($(date +%T))"
exit 0
