//! Usage, version and `--help` text of each mode.

use std::ffi::OsStr;
use std::path::Path;

use super::Mode;

/// The short usage shown after a usage error.
pub fn usage(mode: Mode) -> String {
    let (classic, ldirectord) = match mode {
        Mode::Tcp => ("SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT", ""),
        Mode::HttpGet => (
            "SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH MD5",
            " [--md5 MD5]",
        ),
        Mode::Http => (
            "SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH",
            " [--url PATH]",
        ),
    };
    let p = mode.program();
    format!(
        "Usage: {p} [options] {classic}\n       {p} [options]{ldirectord} VIP VPORT RIP RPORT   (ldirectord)"
    )
}

pub fn version(mode: Mode) -> String {
    format!(
        "{} v{} (check_raw)",
        mode.program(),
        env!("CARGO_PKG_VERSION")
    )
}

const TLS_HELP: &str = "\
TLS options (long names only: -S is check_raw_http's status code):
      --ssl[=VERSION[+]]
                 speak TLS (openssl over the same userspace TCP connection,
                 BACKUP: over the kernel's). VERSION 1.2 or 1.3, '+' for
                 that or newer; default 1.2+. Write it with '=': --ssl=1.3
      --sni NAME server name sent (SNI) and verified (default: HOST
                 without its port, or the VIP; an address is verified but
                 never sent as SNI, per RFC 6066)
      --no-sni   send no SNI
      --verify   verify the chain (system store) and that the certificate
                 names the SNI name. Off by default: real servers behind a
                 balancer often carry the VIP name's public certificate or
                 a self-signed one, and are reached by address
      --ca-file FILE
                 verify against the PEM certificates in FILE (implies
                 --verify)
      --certificate-days WARN[,CRIT]
                 WARNING (CRITICAL) when the certificate expires within
                 WARN (CRIT) days; CRITICAL once expired. Days left go
                 into perfdata (cert_days)
      --fingerprint SHA256
                 CRITICAL unless the certificate's SHA-256 fingerprint is
                 this (64 hex digits, colons allowed; -v prints it)
The status line names the protocol version; a failed handshake is
CRITICAL and says why. -c sends close_notify before the FIN handshake.
";

const COMMON_HELP: &str = "\
Positional arguments:
  SOURCE_IFACE   interface to send from (its MAC and address are the
                 source of every frame), e.g. eth0
  REAL_SERVER    the real server's own IPv4/IPv6 address or name; its MAC
                 is found by ARP or NDP (BACKUP role: the address
                 connected to)
  VIRTUAL_IP     the VIP, destination IP of every frame
  PORT           TCP port, 1-65535

Common options:
  -r, --role-file FILE|auto
                 FILE: first byte '1' = MASTER (raw frames), anything else
                 = BACKUP (plain kernel connect to REAL_SERVER:PORT, which
                 passes even if the server lacks the VIP, by design).
                 auto: MASTER when the VIP is a local address of this host,
                 else BACKUP. Default: MASTER.
  -t, --timeout MS
                 bound on the WHOLE check, ARP included, in milliseconds
                 (default 1000, at most 600000). Lost frames are resent
                 within it.
  -4, --ipv4 / -6, --ipv6
                 resolve host names to this family only (REAL_SERVER and
                 VIRTUAL_IP are always of one family; IPv6 uses NDP)
      --source ADDR
                 source IP of the frames (default: the interface's primary
                 IPv4 address; for IPv6 the address the kernel would use
                 towards REAL_SERVER out of SOURCE_IFACE)
      --source-port PORT
                 fixed TCP source port (default: a free ephemeral port,
                 reserved for the check's life)
      --warning RANGE, --critical RANGE
                 response-time thresholds in seconds, Nagios range syntax
                 (10, 10:, ~:10, 10:20, @10:20); long names only
      --protocol nagios|keepalived|keepalived-dynamic|ldirectord
                 exit codes for the daemon that runs the check (below)
      --weight N keepalived-dynamic: OK exits N + 2 (weight N), 0-253
  -v, --verbose  more detail after the status line; -vvv: one line per
                 frame sent and received
  -h, --help     this help
  -V, --version  version

Exit codes (--protocol):
  nagios (default)    0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (bad arguments,
                      no such interface, no CAP_NET_RAW, unreadable role file)
  keepalived, ldirectord
                      0 OK, 1 anything else
  keepalived-dynamic  OK: N + 2 (--weight N), WARNING: 2 (weight 0, drain),
                      anything else: 1
Raw frames need CAP_NET_RAW: run as root or `setcap cap_net_raw+ep` the
check_raw binary.

ldirectord form: VIP VPORT RIP RPORT (what ldirectord's external check
passes; IPv6 in brackets). The interface is the one the kernel routes RIP
through (--interface IFACE overrides), the port RPORT (VPORT if RPORT is
0), the protocol ldirectord unless --protocol says otherwise. A fwmark
service passes its mark as VIP: give the address with --vip ADDR. The
HTTP checks take --url PATH (default /) and --host HOST (default the VIP),
the GET check --md5 MD5 (without it any 2xx passes). ldirectord cannot
pass options: point checkcommand at a wrapper script such as
  #!/bin/sh
  exec /usr/lib/check_raw/check_raw_http -S 200 --url /health \"$@\"
";

pub fn help(mode: Mode) -> String {
    let about = match mode {
        Mode::Tcp => {
            "\
Checks that an LVS-DR real server accepts TCP connections for the VIP:
sends a SYN in a hand-built Ethernet frame to the real server's MAC with
the VIP as destination IP, exactly as the load balancer forwards client
traffic. OK = SYN/ACK received. A real server that lost the VIP, or whose
port is closed, fails.

Options:
  -c, --clean-close
                 end with a FIN handshake instead of RST
"
        }
        Mode::HttpGet => {
            "\
Checks an LVS-DR real server's HTTP answer for the VIP: a full HTTP/1.1
GET over a userspace TCP connection in hand-built frames to the real
server's MAC with the VIP as destination IP. OK = 2xx status and the MD5
of the (decoded) body equals MD5.

  HOST           value of the Host header
  PATH           the resource, starting with '/'
  MD5            expected MD5 of the body, 32 hex digits

Options:
  -c, --clean-close
                 end with a FIN handshake instead of RST
  -m, --max-bytes N
                 largest response accepted (default 16777216)
"
        }
        Mode::Http => {
            "\
Checks an LVS-DR real server's HTTP answer for the VIP: a full HTTP/1.1
request over a userspace TCP connection in hand-built frames to the real
server's MAC with the VIP as destination IP; the response is verified
against the expectations given (at least one is required).

  HOST           value of the Host header
  PATH           the resource, starting with '/'

Request options:
  -M, --method GET|HEAD      request method (default GET)
  -H, --header 'Name: value' extra request header (repeatable, at most 32)
Expectations (checked in this order, the first failure is reported):
  -S, --status-code LIST     accepted status codes: 200, 200-299,301 ...
  -R, --response-header 'Name: value'
                             a header that must be present (name any
                             case, value trimmed; 'Name:' = any value);
                             repeatable
  -A, --hash MD5             MD5 of the (decoded) body
  -B, --body TEXT            the exact body
  -s, --string TEXT          the body contains TEXT
      --regex RE             the body matches RE (Rust regex syntax)
      --invert-regex         ... must NOT match RE
Other options:
  -c, --clean-close          end with a FIN handshake instead of RST
  -m, --max-bytes N          largest response accepted (default 16777216)
"
        }
    };
    format!(
        "{}\n{}\n\n{about}\n{TLS_HELP}\n{COMMON_HELP}",
        version(mode),
        usage(mode)
    )
}

/// `argv[0]`'s base name, for messages before a mode is known.
pub fn program_name(argv0: &OsStr) -> String {
    Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "check_raw".into())
}
