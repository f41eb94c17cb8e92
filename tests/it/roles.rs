//! The role, for the TCP check (module `tcp`) and the HTTP checks (module
//! `http`): MASTER sends raw frames to the VIP at the real server's MAC,
//! BACKUP connects through the kernel to the real server's own address, so
//! by design a server without the VIP passes as BACKUP and a closed port
//! still fails. Chosen by a role file (`-r FILE`: `1` MASTER, `0` BACKUP, a
//! missing file UNKNOWN) or by `-r auto` (MASTER where the VIP is local),
//! run on the MASTER load balancer `lb` and on the BACKUP `lbb`; and how
//! the BACKUP role ends its connections (RST unless `-c`).
//!
//! Each test builds its own testbed (nginx on rs1 and rs2 for the HTTP
//! cases); tests skip, with a message, when not run as root. The BACKUP
//! role over IPv6 is in `http.rs` with the other IPv6 cases, under TLS in
//! `tls.rs`.

use crate::harness::*;

/// `check_raw_tcp -r ...`.
mod tcp {
    use super::*;

    const OK: &str = "RAW_TCP OK - ";
    const CRITICAL: &str = "RAW_TCP CRITICAL - ";
    const UNKNOWN: &str = "RAW_TCP UNKNOWN - ";

    #[test]
    fn role_file_1_means_master() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let role = RoleFile::master();
        let r = tcp_check(&tb, "lb", &[&role.opts()[..], &["-t", "500"]].concat(), RS2);
        assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
    }

    /// BACKUP uses the kernel path to the real server's own IP, so by design a
    /// server without the VIP passes; a closed port still fails.
    fn assert_backup_verdicts(tb: &Testbed, host: &str, role: &RoleFile) {
        let role = role.path();
        let r = tcp_check(tb, host, &["-r", role], RS1);
        assert_verdict(&r, 0, OK, &[RS1]);
        assert_nothing_left_open(tb, "rs1", PORT, &r);
        let r = tcp_check(tb, host, &["-r", role], RS2);
        assert_verdict(&r, 0, OK, &[RS2]);
        let r = tcp_check(tb, host, &["-r", role, "-t", "1000"], RS3);
        assert_verdict(&r, 2, CRITICAL, &[]);
    }

    #[test]
    fn role_file_0_means_backup_on_master_lb() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        assert_backup_verdicts(&tb, "lb", &RoleFile::backup());
    }

    #[test]
    fn role_file_0_means_backup_on_backup_lb() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        assert_backup_verdicts(&tb, "lbb", &RoleFile::backup());
    }

    #[test]
    fn missing_role_file_is_unknown() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let dir = TempDir::new();
        let missing = dir.path().join("no-such-role-file");
        let r = tcp_check(&tb, "lb", &["-r", path_str(&missing)], RS1);
        assert_verdict(&r, 3, UNKNOWN, &[path_str(&missing), "No such file"]);
    }

    #[test]
    fn role_auto_on_lb_holding_the_vip_is_master() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let r = tcp_check(&tb, "lb", &["-r", "auto", "-t", "500"], RS2);
        assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
    }

    #[test]
    fn role_auto_on_lb_without_the_vip_is_backup() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let r = tcp_check(&tb, "lbb", &["-r", "auto", "-t", "500"], RS2);
        assert_verdict(&r, 0, OK, &[RS2]);
    }
}

/// `check_raw_http -r ...` and `check_raw_http_get -r ...`.
mod http {
    use super::*;
    use crate::harness::http::*;

    /// BACKUP connects through the kernel to the real server's own address, so
    /// by design rs2 (no VIP) passes; rs3 (closed port) is refused.
    fn assert_backup_verdicts(bed: &NginxBed, from: &str, role_opts: &[&str]) {
        let tb = &bed.tb;
        let r = http_get(tb, from, role_opts, RS1, PORT, "/health", HEALTH_MD5);
        assert_verdict(&r, 0, GET_OK, &["3 bytes", &via("BACKUP", RS1, PORT)]);
        assert_nothing_left_open(tb, "rs1", PORT, &r);
        let from_ip = if from == "lb" { LB_IP } else { LBB_IP };
        let line = format!("{from_ip} -> {RS1}:{PORT} \"GET /health HTTP/1.1\" 200 3");
        let log = bed.rs1.wait_access_log(&line, SETTLE);
        assert!(
            log.contains(&line),
            "nginx access log lacks {line:?}:\n{log}\n{r}"
        );

        let md5 = md5_hex(&big_body());
        let r = http_get(tb, from, role_opts, RS1, PORT, "/big", &md5);
        assert_verdict(&r, 0, GET_OK, &["65536 bytes", &via("BACKUP", RS1, PORT)]);
        assert_perfdata(&r, BIG_LEN);

        let r = http_get(tb, from, role_opts, RS2, PORT, "/health", HEALTH_MD5);
        assert_verdict(&r, 0, GET_OK, &["3 bytes", &via("BACKUP", RS2, PORT)]);
        assert_nothing_left_open(tb, "rs2", PORT, &r);

        let r = http_get(tb, from, role_opts, RS3, PORT, "/health", HEALTH_MD5);
        let refused = format!("cannot connect to {RS3}:{PORT} (BACKUP role): Connection refused");
        assert_verdict(&r, 2, GET_CRITICAL, &[&refused]);

        let r = http_get(tb, from, role_opts, RS1, PORT, "/health", WRONG_MD5);
        assert_verdict(&r, 2, GET_CRITICAL, &[WRONG_MD5, HEALTH_MD5, "BACKUP role"]);

        let mut opts = role_opts.to_vec();
        opts.extend(["-S", "200", "-R", "Content-Length: 3", "-s", "ok"]);
        let r = http(tb, from, &opts, RS1, PORT, "/health");
        assert_verdict(&r, 0, OK, &["3 bytes", &via("BACKUP", RS1, PORT)]);
        let mut opts = role_opts.to_vec();
        opts.extend(["-S", "200"]);
        let r = http(tb, from, &opts, RS1, PORT, "/no-such-page");
        assert_verdict(&r, 2, CRITICAL, &["got 404", "BACKUP role"]);
    }

    #[test]
    fn backup_role_file_on_master_lb() {
        require!(Need::Testbed, NGINX);
        let bed = NginxBed::new();
        let roles = Roles::new();
        assert_backup_verdicts(&bed, "lb", &roles.backup());
    }

    #[test]
    fn backup_role_file_on_backup_lb() {
        require!(Need::Testbed, NGINX);
        let bed = NginxBed::new();
        let roles = Roles::new();
        assert_backup_verdicts(&bed, "lbb", &roles.backup());
    }

    #[test]
    fn backup_role_auto_on_lb_without_vip() {
        require!(Need::Testbed, NGINX);
        let bed = NginxBed::new();
        assert_backup_verdicts(&bed, "lbb", &["-r", "auto"]);
    }

    #[test]
    fn role_auto_on_lb_holding_the_vip_is_master() {
        require!(Need::Testbed, NGINX);
        let bed = NginxBed::new();
        let r = http_get(
            &bed.tb,
            "lb",
            &["-r", "auto"],
            RS1,
            PORT,
            "/health",
            HEALTH_MD5,
        );
        assert_verdict(&r, 0, GET_OK, &[&via("MASTER", RS1, PORT)]);
        assert!(!r.status_line().contains("BACKUP"), "MASTER expected\n{r}");
        let r = http_get(
            &bed.tb,
            "lb",
            &["-r", "auto", "-t", "500"],
            RS2,
            PORT,
            "/health",
            HEALTH_MD5,
        );
        assert_verdict(&r, 2, GET_CRITICAL, &["lack the VIP"]);
    }

    /// A problem found at run time, not in the arguments, is a status line.
    #[test]
    fn missing_role_file_is_unknown() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let dir = TempDir::new();
        let missing = dir.path().join("no-such-role-file");
        let opts = ["-r", path_str(&missing)];
        let r = http_get(&tb, "lb", &opts, RS1, PORT, "/health", HEALTH_MD5);
        assert_verdict(&r, 3, GET_UNKNOWN, &[path_str(&missing), "No such file"]);
        let opts = ["-r", path_str(&missing), "-S", "200"];
        let r = http(&tb, "lb", &opts, RS1, PORT, "/health");
        assert_verdict(&r, 3, UNKNOWN, &[path_str(&missing), "No such file"]);
        assert_eq!(tb.server("rs1", PORT).accepted(), 0, "nothing may be sent");
    }

    /// How the BACKUP role ended each connection, as the server saw it.
    fn backup_ends(
        tb: &Testbed,
        server: &ServerHandle,
        opts: &[&str],
        port: u16,
    ) -> (RunResult, Vec<ConnEnd>) {
        let before = server.ends().len();
        let r = http(tb, "lb", opts, RS1, port, "/");
        let ends = server.wait_ends(before + 1, SETTLE);
        (r, ends[before.min(ends.len())..].to_vec())
    }

    /// In the BACKUP role a failed check ends the server's connection with
    /// RST, as the raw path does, never with a FIN handshake the server has to
    /// finish: against a server that answers garbage and one that never
    /// answers (`-t 500`).
    #[test]
    fn backup_role_failures_end_the_connection_with_rst() {
        require!(Need::Testbed);
        let tb = Testbed::without_servers();
        let (garbage, mute) = (8095, 8096);
        let garbage_server = tb.serve(
            "rs1",
            garbage,
            Behaviour::Respond(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec()),
        );
        // Reads the request, never answers, and reports how the client closed.
        let mute_server = tb.serve("rs1", mute, Behaviour::ReadUntilEofThenClose);
        let roles = Roles::new();
        let mut failures = Vec::new();
        for (what, server, port, code, needle) in [
            (
                "garbage reply",
                &garbage_server,
                garbage,
                2,
                "invalid response",
            ),
            (
                "no reply",
                &mute_server,
                mute,
                2,
                "timeout waiting for the response start",
            ),
        ] {
            let mut opts = roles.backup().to_vec();
            opts.extend(["-t", "500", "-S", "200"]);
            let (r, ends) = backup_ends(&tb, server, &opts, port);
            if let Err(e) = verdict(&r, code, CRITICAL, &[needle, "BACKUP role"]) {
                failures.push(format!("[{what}] {e}"));
            }
            if ends != [ConnEnd::Reset] {
                failures.push(format!(
                    "[{what}] the server should see one RST, saw {ends:?} ({server:?})\n{r}"
                ));
            }
        }
        assert_all_ok(&failures);
    }

    /// Guard for the test above: a BACKUP check that passes, without `-c`,
    /// ends with RST too.
    #[test]
    fn backup_role_success_without_clean_close_ends_with_rst() {
        require!(Need::Testbed);
        let tb = Testbed::without_servers();
        let port = 8097;
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
        let server = tb.serve("rs1", port, Behaviour::Respond(reply));
        let roles = Roles::new();
        let mut opts = roles.backup().to_vec();
        opts.extend(["-S", "200"]);
        let (r, ends) = backup_ends(&tb, &server, &opts, port);
        assert_verdict(&r, 0, OK, &[&via("BACKUP", RS1, port)]);
        assert_eq!(
            ends,
            [ConnEnd::Reset],
            "the server should see one RST ({server:?})\n{r}"
        );
    }
}
