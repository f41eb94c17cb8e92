//! DNS, sans-IO: the query check_raw_dns sends, the match of an answer to
//! it, the verification of the answer against the command line's
//! expectations, and the answer in zone-file form for `-v`.
//!
//! The wire format of answers is parsed by `simple-dns` (small, one
//! dependency, no start-up cost; see the README for the comparison). The
//! query is built here, byte by byte, because it is 40-odd fixed bytes and
//! the crate cannot set EDNS0's DO bit. Nothing of an answer is trusted
//! before [`answer::matches`] has checked its ID and question against our
//! query, and [`answer::Answer::parse`] has bounds-checked the rest.

pub mod answer;
pub mod expect;
pub mod query;

pub use answer::{Answer, Record, Value};
pub use expect::{AnswerChecks, RecordMatch};
pub use query::{DomainName, Query};

use std::fmt;

/// The EDNS0 UDP payload size we announce (the DNS flag day 2020 value:
/// no IP fragmentation on any usual path). Larger answers come with TC.
pub const EDNS_UDP_SIZE: u16 = 1232;

/// The record types `--type` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
    Ns,
    Soa,
    Mx,
    Txt,
    Cname,
    Ptr,
    Srv,
    Caa,
}

impl RecordType {
    pub const ALL: [RecordType; 10] = [
        RecordType::A,
        RecordType::Aaaa,
        RecordType::Ns,
        RecordType::Soa,
        RecordType::Mx,
        RecordType::Txt,
        RecordType::Cname,
        RecordType::Ptr,
        RecordType::Srv,
        RecordType::Caa,
    ];

    /// The type's mnemonic, any case.
    pub fn parse(text: &str) -> Result<RecordType, String> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                let names: Vec<&str> = RecordType::ALL.iter().map(|t| t.name()).collect();
                format!("unknown type (one of {})", names.join(", "))
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Ns => "NS",
            RecordType::Soa => "SOA",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Cname => "CNAME",
            RecordType::Ptr => "PTR",
            RecordType::Srv => "SRV",
            RecordType::Caa => "CAA",
        }
    }

    /// The type's number on the wire (RFC 1035, 3596, 2782, 8659).
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Ns => 2,
            RecordType::Cname => 5,
            RecordType::Soa => 6,
            RecordType::Ptr => 12,
            RecordType::Mx => 15,
            RecordType::Txt => 16,
            RecordType::Aaaa => 28,
            RecordType::Srv => 33,
            RecordType::Caa => 257,
        }
    }

    pub fn from_code(code: u16) -> Option<RecordType> {
        RecordType::ALL.into_iter().find(|t| t.code() == code)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Response codes by name (RFC 1035, 2136, 6891, 8945, 2930, 4635, 7873);
/// others by number. 16 is BADVERS in an OPT record and BADSIG in a TSIG
/// one: named BADVERS, and BADSIG is taken as its alias.
const RCODE_NAMES: [(u16, &str); 19] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (6, "YXDOMAIN"),
    (7, "YXRRSET"),
    (8, "NXRRSET"),
    (9, "NOTAUTH"),
    (10, "NOTZONE"),
    (16, "BADVERS"),
    (17, "BADKEY"),
    (18, "BADTIME"),
    (19, "BADMODE"),
    (20, "BADNAME"),
    (21, "BADALG"),
    (22, "BADTRUNC"),
    (23, "BADCOOKIE"),
];

/// Other names `--rcode` takes for a code.
const RCODE_ALIASES: [(u16, &str); 1] = [(16, "BADSIG")];

/// Largest rcode: 4 bits in the header and 8 more in EDNS0's OPT record.
pub const MAX_RCODE: u16 = 4095;

/// An rcode's name, or `RCODE<n>` for one without a name.
pub fn rcode_name(code: u16) -> String {
    RCODE_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("RCODE{code}"))
}

/// `NOERROR,NXDOMAIN` or numbers (`0,3`), any case.
pub fn parse_rcodes(text: &str) -> Result<Vec<u16>, String> {
    let mut codes = Vec::new();
    for item in text.split(',').map(str::trim) {
        let code = if !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()) {
            item.parse::<u16>()
                .ok()
                .filter(|c| *c <= MAX_RCODE)
                .ok_or_else(|| format!("rcode {item} is out of range (0-{MAX_RCODE})"))?
        } else {
            RCODE_NAMES
                .iter()
                .chain(&RCODE_ALIASES)
                .find(|(_, n)| n.eq_ignore_ascii_case(item))
                .map(|(c, _)| *c)
                .ok_or_else(|| {
                    let names: Vec<&str> = RCODE_NAMES.iter().map(|(_, n)| *n).collect();
                    format!(
                        "unknown rcode '{item}' (one of {}, or a number)",
                        names.join(", ")
                    )
                })?
        };
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests;
