//! Any argument vector: parsing gives a config or a one-line usage error,
//! never a panic. Names go to a fake resolver: fuzzing sends no DNS query.
#![no_main]

use std::ffi::OsString;
use std::net::IpAddr;

use check_raw::cli;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = [
    "check_raw",
    "check_raw_tcp",
    "check_raw_http_get",
    "check_raw_http",
    "check_raw_vip",
    "check_raw_x",
];

fn fake_resolver(name: &str) -> std::io::Result<Vec<IpAddr>> {
    match name.len() % 3 {
        0 => Ok(vec!["198.51.100.11".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))]),
        1 => Ok(vec!["2001:db8::11".parse().unwrap_or(IpAddr::from([0u16; 8]))]),
        _ => Err(std::io::Error::other("no such name")),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut argv = vec![OsString::from(NAMES[usize::from(which) % NAMES.len()])];
    argv.extend(
        rest.split(|b| *b == 0)
            .take(64)
            .map(|a| OsString::from(String::from_utf8_lossy(a).into_owned())),
    );
    if let Err(e) = cli::parse_with(argv, &|n, _| fake_resolver(n)) {
        assert!(!e.message.contains('\n'), "usage error spans lines: {}", e.message);
    }
});
