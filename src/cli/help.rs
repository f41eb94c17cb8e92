//! Usage, version and `--help` text of each mode.

use std::ffi::OsStr;
use std::path::Path;

use super::{Mode, UsageError};

/// The short usage shown after a usage error.
pub fn usage(mode: Mode) -> String {
    let p = mode.program();
    let (classic, ldirectord) = match mode {
        // No ldirectord form: it checks the VIP, not a service.
        Mode::Vip => return format!("Usage: {p} [options] SOURCE_IFACE REAL_SERVER VIRTUAL_IP"),
        Mode::Tcp => ("SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT", " [options]"),
        Mode::HttpGet => (
            "SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH MD5",
            " [options] [--md5 MD5]",
        ),
        Mode::Http => (
            "SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH",
            " [options] [--url PATH]",
        ),
        Mode::Dns => (
            "SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT NAME",
            " [options] --query NAME",
        ),
    };
    format!(
        "Usage: {p} [options] {classic}\n       {p} VIP VPORT RIP RPORT   (ldirectord, bare)\n       {p} --protocol ldirectord{ldirectord} VIP VPORT RIP RPORT"
    )
}

/// `check_raw --help`: the binary by its own name, as busybox and
/// coreutils answer: what it is, how a check is called, one line per check.
pub fn overview() -> String {
    let checks: String = [
        (Mode::Tcp, "TCP handshake to VIP:PORT (--ssl: and TLS)"),
        (
            Mode::HttpGet,
            "HTTP GET to VIP:PORT: 2xx and the body's MD5",
        ),
        (
            Mode::Http,
            "HTTP request to VIP:PORT: status, headers, body",
        ),
        (Mode::Dns, "DNS query to VIP:PORT: rcode, records, AA"),
        (
            Mode::Vip,
            "the real server holds the VIP and keeps ARP quiet",
        ),
    ]
    .iter()
    .map(|(mode, what)| format!("  {:<19} {what}\n", mode.program()))
    .collect();
    format!(
        "{}
Health checks for LVS-DR real servers: each sends hand-built Ethernet
frames to the real server's MAC with the VIP as destination, as the load
balancer forwards client traffic, so a real server that lost the VIP fails.

Usage: check_raw_NAME [options] ARGS   (check_raw by a link of that name)
       check_raw NAME [options] ARGS   (the same; NAME as in the list below)
       check_raw_NAME --help           (one check's options and arguments)

Checks:
{checks}
And the daemon that runs many of them from one process (check_raw serve):
  check_raw_serve     every [[check]] of /etc/check_raw/serve.toml, state
                      files for keepalived's FILE_CHECK (--help for more)

Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios); --protocol
keepalived|keepalived-dynamic|ldirectord for the daemons' exit codes.
Raw frames need CAP_NET_RAW (root, or setcap cap_net_raw+ep check_raw).
",
        own_version()
    )
}

/// `check_raw --version`.
pub fn own_version() -> String {
    format!("check_raw v{}", env!("CARGO_PKG_VERSION"))
}

/// What a usage error prints: `program: message`, then the short usage of
/// its check; with no check named, the overview instead, so that a bare
/// `check_raw` shows what it could run.
pub fn usage_error_text(e: &UsageError) -> String {
    match e.mode {
        Some(mode) => format!(
            "{}: {}\n{}\nTry '{} --help' for more information.\n",
            mode.program(),
            e.message,
            usage(mode),
            mode.program()
        ),
        None => format!("check_raw: {}\n\n{}", e.message, overview()),
    }
}

pub fn version(mode: Mode) -> String {
    format!(
        "{} v{} (check_raw)",
        mode.program(),
        env!("CARGO_PKG_VERSION")
    )
}

// Starts on this line: a `"\` continuation would eat its first indent.
const TLS_HELP: &str = "      --ssl[=VERSION[+]]
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

const POSITIONAL_HELP: &str = "\
Positional arguments:
  SOURCE_IFACE   interface to send from (its MAC and an address of it are the
                 source of every frame), e.g. eth0
  REAL_SERVER    the real server's own IPv4/IPv6 address or name; its MAC
                 is found by ARP or NDP (BACKUP role: the address
                 connected to)
  VIRTUAL_IP     the VIP, destination IP of every frame
  PORT           TCP port (check_raw_dns: UDP and TCP port), 1-65535
";

const VIP_POSITIONAL_HELP: &str = "\
Positional arguments:
  SOURCE_IFACE   interface to send from, on the real servers' segment
  REAL_SERVER    the real server's own IPv4/IPv6 address or name; its MAC
                 is found by ARP or NDP
  VIRTUAL_IP     the VIP the real server must hold and keep quiet about
";

/// `-r` for the checks that speak to a service: the role picks the path.
// Starts on this line: a `"\` continuation would eat its first indent.
const ROLE_HELP: &str = "  -r, --role-file FILE|auto
                 FILE: first byte '1' = MASTER (raw frames), anything else
                 = BACKUP (plain kernel connect to REAL_SERVER:PORT, which
                 passes even if the server lacks the VIP, by design).
                 auto: MASTER when the VIP is a local address of this host,
                 else BACKUP. Default: MASTER.
";

/// `-r` for check_raw_dns: BACKUP asks over the kernel's UDP.
// Starts on this line: a `"\` continuation would eat its first indent.
const DNS_ROLE_HELP: &str = "  -r, --role-file FILE|auto
                 FILE: first byte '1' = MASTER (raw frames), anything else
                 = BACKUP (the kernel's UDP, or TCP after TC, to
                 REAL_SERVER:PORT, which passes even if the server lacks
                 the VIP, by design). auto: MASTER when the VIP is a local
                 address of this host, else BACKUP. Default: MASTER.
";

/// `-r` for check_raw_vip: only probe 3 uses the role, and without `-r`
/// it follows the auto rule (see `checks::vip::segment_role`).
// Starts on this line: a `"\` continuation would eat its first indent.
const VIP_ROLE_HELP: &str = "  -r, --role-file FILE|auto
                 the role only judges --segment (probe 3); probes 1 and 2
                 ignore it. FILE: first byte '1' = MASTER, anything else =
                 BACKUP. auto, and the default without -r: MASTER when the
                 VIP is a local address of this host, else BACKUP.
";

// Starts on this line: a `"\` continuation would eat its first indent.
const COMMON_HELP: &str = "  -t, --timeout MS
                 bound on the WHOLE check, ARP included, in milliseconds
                 (default 1000, at least 50, at most 600000; -t 10 is 10
                 ms, not 10 s). Lost frames are resent within it.
  -4, --ipv4 / -6, --ipv6
                 resolve host names to this family only (REAL_SERVER and
                 VIRTUAL_IP are always of one family; IPv6 uses NDP)
      --source ADDR
                 source IP of the frames (default: the one the kernel's
                 route to REAL_SERVER uses, as `ip route get` shows; if
                 that is the VIP, another address of SOURCE_IFACE, and -v
                 says which and why); it must be configured on SOURCE_IFACE
                 (IPv6: on this host) and must not be the VIP
      --source-port PORT
                 fixed source port (default: a free ephemeral port,
                 reserved for the check's life)
      --warning RANGE, --critical RANGE
                 response-time thresholds in seconds, Nagios range syntax
                 (10, 10:, ~:10, 10:20, @10:20); long names only
      --protocol nagios|keepalived|keepalived-dynamic|ldirectord
                 exit codes for the daemon that runs the check (below)
      --weight N keepalived-dynamic: OK exits N + 2 (weight N), 0-253
      --sync-close
                 close the packet socket before exiting and wait the
                 kernel's RCU grace period (8-16 ms) in this process;
                 default: a detached child closes it after the verdict
                 (also CHECK_RAW_SYNC_CLOSE=1)
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
check_raw binary. It is dropped for good once the packet socket is open
(-v says so), and never raised as BACKUP. A caller who is not root may
send TCP or UDP only to a VIP this host holds on lo or on the interface
it sends out of; anything else is refused before a frame is sent.
";

const LDIRECTORD_HELP: &str = "\
ldirectord form: VIP VPORT RIP RPORT (what ldirectord's external check
passes; IPv6 in brackets), taken only as ldirectord passes it, these four
alone (Nagios exit codes, which ldirectord reads alike: 0 up, non-zero
down), or with --protocol ldirectord (exit 0 up, 1 down), which any
option in this form needs: four such arguments with other options are
refused as a director-form command out of order. -v says which form was
taken. The interface is the one the kernel routes RIP through
(--interface IFACE overrides), the port RPORT (VPORT if RPORT is 0). A
fwmark service passes its mark as VIP: give the address with --vip ADDR.
";

/// The ldirectord form's options of one mode, and a wrapper script for it
/// (ldirectord cannot pass options).
fn ldirectord_help(mode: Mode) -> String {
    let (options, wrapper_args) = match mode {
        Mode::Vip => return String::new(),
        Mode::Tcp => ("", "--protocol ldirectord -t 2000"),
        Mode::HttpGet => (
            "It takes --url PATH (default /), --host HOST (default the VIP) and\n\
             --md5 MD5 (without it any 2xx passes).\n",
            "--protocol ldirectord --url /health",
        ),
        Mode::Http => (
            "It takes --url PATH (default /) and --host HOST (default the VIP).\n",
            "--protocol ldirectord -S 200 --url /health",
        ),
        Mode::Dns => (
            "It needs -l/--query NAME, the name asked for.\n",
            "--protocol ldirectord --query www.example.org",
        ),
    };
    format!(
        "{LDIRECTORD_HELP}{options}ldirectord cannot pass options: point checkcommand at a wrapper\n\
         script such as\n  #!/bin/sh\n  exec /usr/lib/check_raw/{} {wrapper_args} \"$@\"\n",
        mode.program()
    )
}

const DNS_HELP: &str = "\
Checks an LVS-DR real server's DNS answer for the VIP: a query for NAME
in a hand-built UDP datagram to the real server's MAC with the VIP as
destination IP, resent with backoff within -t. OK = an answer from
VIP:PORT to our port with our query ID and question, its rcode accepted
and every expectation met. A truncated answer (TC) is asked again over
TCP (our own TCP client, same path, same deadline). ICMP port
unreachable from the VIP (it holds the VIP, nothing listens) is CRITICAL
at once; no answer at all is CRITICAL at the deadline (the real server
may lack the VIP). BACKUP role: the kernel's UDP (or TCP) to
REAL_SERVER:PORT.

  NAME           the domain name asked for (labels of at most 63 bytes,
                 at most 255 bytes in all); class IN

Query options:
  -T, --type A|AAAA|NS|SOA|MX|TXT|CNAME|PTR|SRV|CAA
                 record type asked for (default A)
      --recurse  set RD (off by default: most DR pools are authoritative)
      --dnssec   set EDNS0's DO bit (EDNS0 with a 1232-byte UDP size is
                 always sent)
      --tcp      ask over TCP from the start
Expectations (the first failure is reported, expected vs got):
      --rcode LIST
                 accepted rcodes, names or numbers: NOERROR,NXDOMAIN
                 (default NOERROR); EDNS extended ones (BADCOOKIE, 23)
                 are the OPT record's bits joined to the header's
  -a, --expect VALUE
                 an answer record of the type asked must carry VALUE
                 (repeatable): A/AAAA an address; NS, CNAME, PTR a name;
                 MX the exchange's name; SRV the target's name; TXT the
                 record's strings joined; CAA the value; SOA the serial
                 if VALUE is a number, else the MNAME
      --expect-count N
                 exactly N records in the answer section
      --authoritative
                 the answer must have AA set
Perfdata: time (query to answer) and answers (records in the answer
section). -v prints the answer section in zone-file form.
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
                 end with a FIN handshake instead of RST (bounded to half
                 of -t; a server that sends no FIN is then reset)
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
        Mode::Vip => {
            "\
Checks that an LVS-DR real server is configured for direct routing, with
three probes in hand-built frames, within one -t, the worst reported:
 1. it holds the VIP: an ICMP (IPv6: ICMPv6) echo request to the VIP, sent
    to the real server's MAC, must be answered from the VIP (with --port,
    a SYN to VIP:PORT, answered by SYN/ACK or RST; the SYN/ACK is reset).
    No answer: CRITICAL.
 2. it does not answer ARP for the VIP: a unicast ARP request (IPv6: a
    unicast Neighbor Solicitation) for the VIP to its MAC must go
    unanswered. An answer: WARNING (--arp-leak critical: CRITICAL), with
    what to set (arp_ignore=1, arp_announce=2; IPv6: VIP on lo).
 3. --segment: who claims the VIP on this link: a broadcast ARP request
    (IPv6: multicast Neighbor Solicitation); every answering MAC is named.
    MASTER: any answer is CRITICAL. BACKUP: exactly one answer (the
    MASTER's) is OK, none WARNING, two or more CRITICAL (split brain).
Silence is the answer probes 2 and 3 wait for, so they listen until their
share of -t ends: an OK check takes the whole -t. Probes 1 and 2 are
harmless on a BACKUP balancer and need no role; probe 3 takes the role
from -r FILE, else by the -r auto rule (MASTER when the VIP is local).
The echo (or SYN) time is the perfdata and what --warning/--critical
judge. There is no clean close and no ldirectord form.

Options:
  -p, --port PORT
                 prove the VIP with a TCP SYN to VIP:PORT instead of an
                 echo request (for real servers that drop ICMP)
      --arp-leak warning|critical
                 the state when the real server answers ARP/NDP for the
                 VIP (default warning)
      --segment  also ask the whole link who claims the VIP (probe 3)
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
        Mode::Dns => DNS_HELP,
    };
    let (positional, role) = match mode {
        Mode::Vip => (VIP_POSITIONAL_HELP, VIP_ROLE_HELP),
        Mode::Dns => (POSITIONAL_HELP, DNS_ROLE_HELP),
        _ => (POSITIONAL_HELP, ROLE_HELP),
    };
    // TLS is for the TCP and HTTP checks; only check_raw_http has a -S of
    // its own (the status code) to explain the long names by.
    let tls = match mode {
        Mode::Http => {
            format!("TLS options (long names only: -S is the status code here):\n{TLS_HELP}\n")
        }
        Mode::Tcp | Mode::HttpGet => format!("TLS options:\n{TLS_HELP}\n"),
        Mode::Dns | Mode::Vip => String::new(),
    };
    let ldirectord = match ldirectord_help(mode) {
        help if help.is_empty() => help,
        help => format!("\n{help}"),
    };
    format!(
        "{}\n{}\n\n{about}\n{tls}{positional}\nCommon options:\n{role}{COMMON_HELP}{ldirectord}",
        version(mode),
        usage(mode),
    )
}

/// `argv[0]`'s base name, for messages before a mode is known.
pub fn program_name(argv0: &OsStr) -> String {
    Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "check_raw".into())
}
