//! The configurations of the checkers, one check per target each: keepalived
//! (TCP_CHECK, HTTP_GET, MISC_CHECK running `check_raw_tcp`), the
//! blackbox exporter's `tcp_connect` module, and check_raw_serve's
//! serve.toml.

use std::path::Path;

use super::bed::Target;
use crate::harness::{HEALTH_MD5, IFACE, VIP};

/// keepalived's check of each real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepalivedCheck {
    Tcp,
    HttpGet,
    /// MISC_CHECK running `check_raw_tcp -t 800` from this directory.
    Misc,
}

/// keepalived.conf: checkers only, one virtual server per port (VIP:port,
/// LVS-DR), its real servers the targets on that port, `delay_loop 1`.
pub fn keepalived_conf(targets: &[Target], check: KeepalivedCheck, bin_dir: &Path) -> String {
    // enable_script_security: MISC_CHECK scripts pass keepalived's path
    // checks, as with the packaged example configuration.
    let mut conf = String::from(
        "global_defs {
    router_id crtbench
    enable_script_security
    script_user root
}
",
    );
    let mut ports: Vec<u16> = targets.iter().map(|t| t.port).collect();
    ports.dedup();
    for port in ports {
        conf.push_str(&format!(
            "virtual_server {VIP} {port} {{
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
"
        ));
        for t in targets.iter().filter(|t| t.port == port) {
            let body = match check {
                KeepalivedCheck::Tcp => "        TCP_CHECK {\n            connect_timeout 1\n        }\n".to_owned(),
                KeepalivedCheck::HttpGet => format!(
                    "        HTTP_GET {{\n            url {{\n                path /health\n                digest {HEALTH_MD5}\n                status_code 200\n            }}\n            connect_timeout 1\n        }}\n"
                ),
                KeepalivedCheck::Misc => format!(
                    "        MISC_CHECK {{\n            misc_path \"{}\"\n            misc_timeout 3\n        }}\n",
                    tcp_command(&bin_dir.join("check_raw_tcp").display().to_string(), t)
                ),
            };
            conf.push_str(&format!(
                "    real_server {} {} {{\n        weight 1\n{body}    }}\n",
                t.addr, t.port
            ));
        }
        conf.push_str("}\n");
    }
    conf
}

/// `check_raw_tcp -t 800 eth0 RS VIP PORT`, the check of one target, as
/// MISC_CHECK and check_raw_serve both run it (`program` its path or name).
pub fn tcp_command(program: &str, t: &Target) -> String {
    format!("{program} -t 800 {IFACE} {} {VIP} {}", t.addr, t.port)
}

/// `check_raw_http_get -t 800 eth0 RS VIP PORT HOST /health MD5`, the
/// HTTP check of one target (keepalived's HTTP_GET, through the VIP).
pub fn http_command(t: &Target) -> String {
    format!(
        "check_raw_http_get -t 800 {IFACE} {} {VIP} {} www.example.org /health {HEALTH_MD5}",
        t.addr, t.port
    )
}

/// serve.toml: every target checked every second, state files in
/// `state_dir`; `command` gives each target's command line.
pub fn serve_toml(
    targets: &[Target],
    state_dir: &Path,
    command: impl Fn(&Target) -> String,
) -> String {
    let mut toml = format!(
        "interval = \"1s\"\nrise = 2\nfall = 3\nstate_dir = \"{}\"\n",
        state_dir.display()
    );
    for t in targets {
        toml.push_str(&format!(
            "\n[[check]]\nname = \"{}-{}\"\ncommand = \"{}\"\ninterval = \"1s\"\n",
            t.host,
            t.port,
            command(t)
        ));
    }
    toml
}

/// The blackbox exporter's configuration: `tcp_connect`, IPv4, 1 s.
pub const BLACKBOX_YML: &str = "modules:
  tcp_connect:
    prober: tcp
    timeout: 1s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
";
