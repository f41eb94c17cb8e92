//! Unit tests of the command line: the helpers every concern uses, and
//! one module per concern.

use super::*;
use crate::http::Method;

fn argv(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

fn tcp(line: &str) -> TcpConfig {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Ok(Command::Check(Config::Tcp(cfg))) => *cfg,
        other => panic!("{line}: {other:?}"),
    }
}

fn usage_error(line: &str) -> String {
    full_usage_error(line).message
}

fn full_usage_error(line: &str) -> UsageError {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Err(e) => e,
        Ok(other) => panic!("{line}: expected a usage error, got {other:?}"),
    }
}

/// Names used in tests resolve without DNS.
fn fake_resolver(name: &str) -> std::io::Result<Vec<IpAddr>> {
    match name {
        "localhost" => Ok(vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]),
        "rs1.example" => Ok(vec![
            "2001:db8::11".parse().unwrap(),
            "198.51.100.11".parse().unwrap(),
        ]),
        _ => Err(std::io::Error::other("no such name")),
    }
}

fn http(line: &str) -> HttpConfig {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Ok(Command::Check(Config::Http(_, cfg))) => *cfg,
        other => panic!("{line}: {other:?}"),
    }
}

const GOOD: &str = "eth0 198.51.100.11 203.0.113.10 80";

mod checks;
mod forms;
mod front;
mod hints;
mod protocols;
