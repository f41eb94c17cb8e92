//! The TLS options every check shares (`--ssl[=VERSION[+]]`, `--sni`,
//! `--no-sni`, `--verify`, `--ca-file`, `--certificate-days`,
//! `--fingerprint`): taken raw in stage one, checked into a
//! `transport::tls::TlsConfig` in stage two.
//!
//! `--ssl` has an optional value, which pico-args cannot express: a flag
//! would leave `--ssl=1.3` unknown, a value would eat the next positional.
//! So it is taken out of argv by hand before pico-args runs, and only as
//! `--ssl` or `--ssl=VALUE`. `--ssl 1.3` (a space) would make `1.3` a
//! positional argument: that is refused with a message naming the `=`
//! form, since no SOURCE_IFACE or address looks like a TLS version.

use std::ffi::OsString;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::text;
use crate::transport::tls::cert::{Days, Fingerprint};
use crate::transport::tls::{TlsConfig, TlsVersion, Trust, Versions};

use super::Collector;

/// Largest `--ca-file` read: a full system bundle is about 200 KiB.
const MAX_CA_FILE: u64 = 4 << 20;

/// The TLS options as given.
#[derive(Debug, Default)]
pub(super) struct TlsOptions {
    /// None: no `--ssl`; Some(None): `--ssl`; Some(Some(v)): `--ssl=v`.
    ssl: Option<Option<String>>,
    sni: Option<String>,
    no_sni: bool,
    verify: bool,
    ca_file: Option<String>,
    days: Option<String>,
    fingerprint: Option<String>,
}

/// Take every `--ssl` and `--ssl=VALUE` out of `args` (the options before
/// any `--`); the last one counts. Also the problem of a `--ssl VERSION`.
pub(super) fn take_ssl(args: &mut Vec<OsString>) -> (Option<Option<String>>, Option<String>) {
    let mut ssl = None;
    let mut problem = None;
    let mut kept = Vec::with_capacity(args.len());
    let mut it = std::mem::take(args).into_iter().peekable();
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        if text == "--ssl" {
            ssl = Some(None);
            if let Some(next) = it.peek() {
                let next = next.to_string_lossy();
                if is_version(&next) {
                    problem = Some(format!(
                        "write the TLS version with '=': --ssl={next} ('--ssl {next}' would make {next} a positional argument)"
                    ));
                }
            }
        } else if let Some(value) = text.strip_prefix("--ssl=") {
            ssl = Some(Some(value.to_string()));
        } else {
            kept.push(arg);
        }
    }
    *args = kept;
    (ssl, problem)
}

/// Looks like what `--ssl=` takes: digits and dots, maybe a `+`.
fn is_version(arg: &str) -> bool {
    let v = arg.strip_suffix('+').unwrap_or(arg);
    !v.is_empty() && v.contains('.') && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn parse_versions(arg: Option<&str>) -> Result<Versions, String> {
    let Some(arg) = arg else {
        return Ok(Versions {
            min: TlsVersion::V1_2,
            or_newer: true,
        });
    };
    let (v, or_newer) = match arg.strip_suffix('+') {
        Some(v) => (v, true),
        None => (arg, false),
    };
    let min = match v {
        "1.2" => TlsVersion::V1_2,
        "1.3" => TlsVersion::V1_3,
        _ => {
            return Err(format!(
                "invalid --ssl={}: expects 1.2 or 1.3, '+' for that or newer (default 1.2+)",
                text::arg(arg)
            ))
        }
    };
    Ok(Versions { min, or_newer })
}

impl TlsOptions {
    pub(super) fn take(c: &mut Collector, ssl: Option<Option<String>>) -> TlsOptions {
        TlsOptions {
            ssl,
            sni: c.value("--sni"),
            ca_file: c.value("--ca-file"),
            days: c.value("--certificate-days"),
            fingerprint: c.value("--fingerprint"),
            no_sni: c.flag("--no-sni"),
            verify: c.flag("--verify"),
        }
    }

    /// The first TLS option given at all (`--ssl` first), if any.
    pub(super) fn given(&self) -> Option<&'static str> {
        match self.ssl {
            Some(_) => Some("--ssl"),
            None => self.without_ssl(),
        }
    }

    /// The first TLS option given without `--ssl`, if any.
    fn without_ssl(&self) -> Option<&'static str> {
        [
            (self.sni.is_some(), "--sni"),
            (self.no_sni, "--no-sni"),
            (self.verify, "--verify"),
            (self.ca_file.is_some(), "--ca-file"),
            (self.days.is_some(), "--certificate-days"),
            (self.fingerprint.is_some(), "--fingerprint"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }

    /// Check every value. `host` is the HOST argument (HTTP checks) or
    /// None (TCP check), `vip` the VIP: the default server name.
    /// `max_bytes` bounds the handshake.
    pub(super) fn into_config(
        self,
        host: Option<&str>,
        vip: IpAddr,
        max_bytes: usize,
    ) -> Result<Option<TlsConfig>, String> {
        let Some(ssl) = &self.ssl else {
            return match self.without_ssl() {
                Some(option) => Err(format!("{option} needs --ssl")),
                None => Ok(None),
            };
        };
        let versions = parse_versions(ssl.as_deref())?;
        if self.no_sni && self.sni.is_some() {
            return Err("--sni and --no-sni exclude each other".into());
        }
        let server_name = match &self.sni {
            Some(name) => check_sni(name)?,
            None => default_server_name(host, vip),
        };
        // RFC 6066: SNI carries host names, never an address literal; an
        // address is still what --verify checks the certificate against.
        let is_address = server_name.parse::<IpAddr>().is_ok();
        let sni = !(self.no_sni || is_address);
        let verify = match (&self.ca_file, self.verify) {
            (Some(path), _) => Some(read_ca_file(path)?),
            (None, true) => Some(Trust::System),
            (None, false) => None,
        };
        let fingerprint = self
            .fingerprint
            .as_deref()
            .map(|f| {
                Fingerprint::parse(f)
                    .map_err(|e| format!("invalid --fingerprint '{}': {e}", text::arg(f)))
            })
            .transpose()?;
        let days = self
            .days
            .as_deref()
            .map(|d| {
                Days::parse(d)
                    .map_err(|e| format!("invalid --certificate-days '{}': {e}", text::arg(d)))
            })
            .transpose()?;
        Ok(Some(TlsConfig {
            versions,
            server_name,
            sni,
            verify,
            fingerprint,
            days,
            max_bytes,
        }))
    }
}

/// HOST without a port or IPv6 brackets; the VIP without a HOST.
fn default_server_name(host: Option<&str>, vip: IpAddr) -> String {
    let Some(host) = host else {
        return vip.to_string();
    };
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((v6, _)) = rest.split_once(']') {
            return v6.to_string();
        }
    }
    match host.rsplit_once(':') {
        // One colon: name:port. More: a bare IPv6 address.
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_string()
        }
        _ => host.to_string(),
    }
    .trim_end_matches('.')
    .to_ascii_lowercase()
}

fn check_sni(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:*".contains(&b));
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "invalid --sni '{}': expects a host name (letters, digits, '-', '.'; at most 253)",
            text::arg(name)
        ))
    }
}

/// Read and check `--ca-file` now, so a bad one is a usage error and
/// nothing is sent. Its type is checked before it is opened (opening a
/// device can act on it) and again on the opened file (it may have been
/// replaced in between); opened non-blocking, as the role file is, so a
/// FIFO put there meanwhile cannot wait for a writer past `-t`. A path on
/// a hung network file system can still block in `open` itself: that is
/// not bounded by `-t` (check_raw(8) says so).
fn read_ca_file(path: &str) -> Result<Trust, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let bad = |why: String| format!("cannot use --ca-file '{}': {why}", text::arg(path));
    let regular = |kind: std::fs::FileType| match not_regular(kind) {
        Some(what) => Err(bad(format!("{what}, not a regular file"))),
        None => Ok(()),
    };
    regular(
        std::fs::metadata(path)
            .map_err(|e| bad(e.to_string()))?
            .file_type(),
    )?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| bad(e.to_string()))?;
    regular(file.metadata().map_err(|e| bad(e.to_string()))?.file_type())?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(bad(format!("larger than {MAX_CA_FILE} bytes")));
    }
    match openssl::x509::X509::stack_from_pem(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(Trust::CaFile {
            path: PathBuf::from(path),
            pem,
        }),
        Ok(_) => Err(bad("no PEM certificate in it".into())),
        Err(e) => Err(bad(format!(
            "not PEM certificates ({})",
            text::flatten(&e.to_string())
        ))),
    }
}

/// What a file that is not a regular file is, for the refusal.
fn not_regular(kind: std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_file() {
        None
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("a device")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_forms() {
        let mut args: Vec<OsString> = ["-t", "5", "--ssl", "eth0"].map(Into::into).to_vec();
        assert_eq!(take_ssl(&mut args), (Some(None), None));
        assert_eq!(args.len(), 3);
        let mut args: Vec<OsString> = ["--ssl=1.3+", "eth0"].map(Into::into).to_vec();
        assert_eq!(take_ssl(&mut args), (Some(Some("1.3+".into())), None));
        let mut args: Vec<OsString> = ["--ssl", "1.3", "eth0"].map(Into::into).to_vec();
        let (ssl, problem) = take_ssl(&mut args);
        assert_eq!(ssl, Some(None));
        assert!(problem.unwrap().contains("--ssl=1.3"));
        let mut args: Vec<OsString> = ["-S", "200"].map(Into::into).to_vec();
        assert_eq!(take_ssl(&mut args), (None, None));
    }

    #[test]
    fn versions() {
        let v = |a| parse_versions(Some(a)).map(|v| v.offered());
        assert_eq!(v("1.2"), Ok("TLSv1.2 only".into()));
        assert_eq!(v("1.2+"), Ok("TLSv1.2 or newer".into()));
        assert_eq!(v("1.3"), Ok("TLSv1.3 only".into()));
        assert_eq!(v("1.3+"), Ok("TLSv1.3 only".into()));
        assert_eq!(
            parse_versions(None).map(|v| v.offered()),
            Ok("TLSv1.2 or newer".into())
        );
        for bad in ["", "1.1", "1.0", "2", "tls1.3", "1.3++"] {
            assert!(v(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_names() {
        let vip: IpAddr = "203.0.113.10".parse().unwrap();
        let name = |h| default_server_name(h, vip);
        assert_eq!(name(None), "203.0.113.10");
        assert_eq!(name(Some("WWW.Example.test")), "www.example.test");
        assert_eq!(name(Some("www.example.test:8443")), "www.example.test");
        assert_eq!(name(Some("[2001:db8::1]:443")), "2001:db8::1");
        assert_eq!(name(Some("2001:db8::1")), "2001:db8::1");
    }
}
