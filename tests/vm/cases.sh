# The cases of tests/vm.rs, run in sequence inside one VM (one boot for the
# suite): `sh cases.sh RWDIR CHECK_RAW [CASES]`. Builds the site (site.sh), then
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
# Which cases, in order (all by default; tests/vm.rs passes
# CHECK_RAW_VM_CASES here, for a shorter run while working on one case).
CASES=${3:-}
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

# 4. check_raw_serve drives real keepalived through FILE_CHECK: one check
# per real server (check_raw_tcp through the VIP) in a serve.toml, the
# keepalived section its --print-keepalived prints, used as is (only a
# global_defs before it), real IPVS in DR mode. Started as an operator
# would: check_raw_serve first, keepalived once the state files say 1,
# then one reload of keepalived (keepalived 2.2.7 reads the files inverted
# when it starts: src/serve/keepalived.rs). Then rs2 loses the VIP and
# comes back; then check_raw_serve stops (SIGTERM) and restarts, and the
# IPVS table must not move.

SERVE=$LIBDIR/check_raw_serve
# The daemon's configuration, state files and log (guest-only).
SV=$RUN/serve
SERVE_CHECKS="web-rs1 web-rs2"

# serve_start: check_raw_serve in lb on $SV/serve.toml, its stderr
# appended to $SV/log. `ip netns exec` execs it, so $SERVE_PID is the
# daemon itself, this shell's child (`wait` gets its exit code).
serve_start() {
    ip netns exec lb "$SERVE" --config "$SV/serve.toml" 2>>"$SV/log" &
    SERVE_PID=$!
}

# serve_stop: SIGTERM, then up to 20 s for it to exit (SIGKILL after);
# its exit code in SERVE_EXIT ("hung" if it had to be killed). Not in a
# $(...): `wait` only knows this shell's children.
serve_stop() {
    kill -TERM "$SERVE_PID" 2>/dev/null
    i=0
    while alive "$SERVE_PID" && [ $i -lt 100 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    if alive "$SERVE_PID"; then
        kill -9 "$SERVE_PID" 2>/dev/null
        wait "$SERVE_PID" 2>/dev/null
        SERVE_EXIT=hung
    else
        wait "$SERVE_PID"
        SERVE_EXIT=$?
    fi
}

# state_of NAME: what NAME's state file holds ("missing" if none).
state_of() {
    if [ -f "$SV/state/$1" ]; then tr -d '\n' <"$SV/state/$1"; else echo missing; fi
}

# states: every check's state, "web-rs1=1,web-rs2=1".
states() {
    s=""
    for n in $SERVE_CHECKS; do s="$s${s:+,}$n=$(state_of "$n")"; done
    echo "$s"
}

# wait_state NAME WANT SECONDS: polls NAME's state file until it holds
# WANT, at most SECONDS; prints the last seen value.
wait_state() {
    i=0
    v=$(state_of "$1")
    while [ "$v" != "$2" ] && [ $i -lt "$3" ]; do
        sleep 1
        i=$((i + 1))
        v=$(state_of "$1")
    done
    echo "$v"
}

# ipvs_servers: VIP:80's real servers and their weights,
# "198.51.100.11:80/1 198.51.100.12:80/1" ("none" if none or no service).
ipvs_servers() {
    ns lb ipvsadm -Ln -t $VIP:$PORT 2>/dev/null |
        awk '$1 == "->" && $2 ~ /^[0-9]/ { print $2 "/" $4 }' | sort | paste -sd' ' - |
        sed 's/^$/none/'
}

# unmoved SECONDS: samples the IPVS table and the state files once a
# second for SECONDS; prints how many samples of each differ from the
# first ("TABLE FILES"), and logs each sample.
unmoved() {
    t0=$(ipvs_servers)
    f0=$(states)
    dt=0
    df=0
    i=0
    while [ $i -lt "$1" ]; do
        sleep 1
        i=$((i + 1))
        t=$(ipvs_servers)
        f=$(states)
        say "  +${i}s: $t | $f" >&2
        [ "$t" = "$t0" ] || dt=$((dt + 1))
        [ "$f" = "$f0" ] || df=$((df + 1))
    done
    echo "$dt $df"
}

# lines_after N PATTERN: how many lines of the daemon's log after line N
# match PATTERN.
lines_after() { tail -n +"$(($1 + 1))" "$SV/log" | grep -c "$2" || true; }

case4() {
    site_reset
    ns lb ipvsadm -C
    ln -sfn check_raw "$SERVE"
    mkdir -p "$SV/state"
    : >"$SV/log"
    # Generous for TCG: a check's -t well below its interval, rise and
    # fall 2 so that one slow run cannot flip a state.
    {
        echo 'interval = "3s"'
        echo 'rise = 2'
        echo 'fall = 2'
        echo "state_dir = \"$SV/state\""
        for i in 1 2; do
            eval rs=\$RS$i
            echo
            echo '[[check]]'
            echo "name = \"web-rs$i\""
            echo "command = \"check_raw_tcp -t 2000 eth0 $rs $VIP $PORT\""
        done
    } >"$SV/serve.toml"
    say "--- serve.toml ---"
    cat "$SV/serve.toml"
    say "--- check_raw_serve --check ---"
    ns lb "$SERVE" --check --config "$SV/serve.toml"
    fact check_exit $?
    ns lb "$SERVE" --print-keepalived --config "$SV/serve.toml" >"$SV/fragment.conf"
    fact print_exit $?
    fact print_file_checks "$(grep -c 'FILE_CHECK' "$SV/fragment.conf")"
    # The section as printed, after the one thing keepalived.conf needs
    # besides it.
    {
        printf 'global_defs {\n    router_id crt-vm\n}\n\n'
        cat "$SV/fragment.conf"
    } >"$SV/keepalived.conf"
    say "--- keepalived.conf ---"
    cat "$SV/keepalived.conf"
    /usr/sbin/keepalived --config-test -f "$SV/keepalived.conf"
    fact config_test $?

    serve_start
    for i in 1 2; do fact "serve_file_rs$i" "$(wait_state "web-rs$i" 1 90)"; done
    fact serve_started "$(grep -c 'started: 2 checks' "$SV/log")"
    keepalived_start "$SV/keepalived.conf"
    # The virtual service is created before the real servers are judged.
    i=0
    while ! ns lb ipvsadm -Ln -t $VIP:$PORT >/dev/null 2>&1 && [ $i -lt 90 ]; do
        sleep 1
        i=$((i + 1))
    done
    sleep 3
    for i in 1 2; do
        eval rs=\$RS$i
        fact "start_weight_rs$i" "$(ipvs_weight "$rs")"
    done
    say "--- IPVS, keepalived started on files saying 1 ---"
    ipvs_table
    # keepalived 2.2.7 left them out (its start-up inversion); the reload
    # the section's comment asks for reads them right.
    kill -HUP "$(cat "$RUN/keepalived/keepalived.pid")"
    for i in 1 2; do
        eval rs=\$RS$i
        fact "up_weight_rs$i" "$(wait_weight "$rs" 1 90)"
    done
    say "--- IPVS, after keepalived's reload ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" up

    vip_off rs2
    fact down_file_rs2 "$(wait_state web-rs2 0 90)"
    fact down_weight_rs2 "$(wait_weight $RS2 absent 90)"
    fact down_file_rs1 "$(state_of web-rs1)"
    fact down_weight_rs1 "$(ipvs_weight $RS1)"
    say "--- IPVS, rs2 without the VIP ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" down

    vip_on rs2
    fact back_file_rs2 "$(wait_state web-rs2 1 90)"
    fact back_weight_rs2 "$(wait_weight $RS2 1 90)"
    say "--- IPVS, the VIP back on rs2 ---"
    ipvs_table
    out=$(requests 6)
    say "--- client: $(echo $out)"
    served "$out" back
    fact logged_down_rs2 "$(lines_after 0 'web-rs2: DOWN after')"
    fact logged_up_rs2 "$(lines_after 0 'web-rs2: UP after')"

    # SIGTERM: the daemon goes, its files stay, keepalived keeps the table.
    fact stop_before "$(ipvs_servers)"
    serve_stop
    fact stop_exit "$SERVE_EXIT"
    fact stop_logged "$(lines_after 0 'stopping on SIGTERM')"
    say "--- after check_raw_serve stopped: IPVS | state files ---"
    set -- $(unmoved 6)
    fact stop_table_changes "$1"
    fact stop_file_changes "$2"
    fact stop_files "$(states)"

    # Restarted on the files it left: no flap (an existing file is the
    # starting state), for longer than rise x interval.
    n=$(wc -l <"$SV/log")
    serve_start
    i=0
    while [ "$(lines_after "$n" 'started: 2 checks')" = 0 ] && [ $i -lt 60 ]; do
        sleep 1
        i=$((i + 1))
    done
    fact restart_started "$(lines_after "$n" 'started: 2 checks')"
    say "--- after check_raw_serve restarted: IPVS | state files ---"
    set -- $(unmoved 10)
    fact restart_table_changes "$1"
    fact restart_file_changes "$2"
    fact restart_changes_logged "$(lines_after "$n" ': \(UP\|DOWN\) after')"
    fact restart_alive "$(alive "$SERVE_PID" && echo yes || echo no)"
    fact restart_after "$(ipvs_servers)"
    serve_stop
    fact restart_stop_exit "$SERVE_EXIT"

    say "--- check_raw_serve's log ---"
    cat "$SV/log"
    say "--- keepalived log ---"
    keepalived_log
    keepalived_stop
}

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
for c in ${CASES:-1 2 3 4 5}; do
    CASE=case$c
    : >"$RW/$CASE.facts"
    echo "=== $CASE ($(date +%T))"
    (case$c) >"$RW/$CASE.log" 2>&1
    fact done "$?"
done
echo "=== end ($(date +%T))"
exit 0
