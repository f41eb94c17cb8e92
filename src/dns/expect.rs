//! What an answer must be for OK: its rcode, AA, the number of answer
//! records and values among them; each mismatch says expected vs got.

use std::net::IpAddr;

use super::answer::{Answer, Record, Value};
use super::query::DomainName;
use super::{rcode_name, RecordType};

/// One `--expect VALUE`, read for the type asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordMatch {
    /// A, AAAA: the address.
    Addr(IpAddr),
    /// NS, CNAME, PTR: the name; MX: the exchange; SRV: the target.
    Name(DomainName),
    /// TXT: the strings of one record joined; CAA: the value.
    Text(String),
    /// SOA: the serial (a number) ...
    Serial(u32),
    /// ... or the MNAME (a name).
    Mname(DomainName),
}

impl RecordMatch {
    /// Read `text` as a value of `rtype`'s records.
    pub fn parse(rtype: RecordType, text: &str) -> Result<RecordMatch, String> {
        let name = |what: &str| {
            DomainName::parse(text)
                .map(RecordMatch::Name)
                .map_err(|e| format!("not a {what} for {rtype}: {e}"))
        };
        match rtype {
            RecordType::A => text
                .parse::<std::net::Ipv4Addr>()
                .map(|a| RecordMatch::Addr(a.into()))
                .map_err(|_| "not an IPv4 address (the type is A)".into()),
            RecordType::Aaaa => text
                .parse::<std::net::Ipv6Addr>()
                .map(|a| RecordMatch::Addr(a.into()))
                .map_err(|_| "not an IPv6 address (the type is AAAA)".into()),
            RecordType::Ns | RecordType::Cname | RecordType::Ptr => name("name"),
            RecordType::Mx => name("mail exchange name"),
            RecordType::Srv => name("target name"),
            RecordType::Txt | RecordType::Caa => {
                if text.is_empty() {
                    Err("empty (give the text to find)".into())
                } else {
                    Ok(RecordMatch::Text(text.to_string()))
                }
            }
            RecordType::Soa if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text
                .parse::<u32>()
                .map(RecordMatch::Serial)
                .map_err(|_| "serial out of range (0-4294967295)".into()),
            RecordType::Soa => DomainName::parse(text)
                .map(RecordMatch::Mname)
                .map_err(|e| format!("neither a serial nor an MNAME for SOA: {e}")),
        }
    }

    /// Does `record` carry this value?
    fn found_in(&self, record: &Record) -> bool {
        match (self, &record.value) {
            (RecordMatch::Addr(want), Value::Addr(got)) => want == got,
            (RecordMatch::Name(want), Value::Name(got)) => want.same_as(got),
            (RecordMatch::Name(want), Value::Mx { exchange, .. }) => want.same_as(exchange),
            (RecordMatch::Name(want), Value::Srv { target, .. }) => want.same_as(target),
            (RecordMatch::Text(want), Value::Txt(strings)) => *want == Record::txt_text(strings),
            (RecordMatch::Text(want), Value::Caa { value, .. }) => {
                want.as_bytes() == value.as_slice()
            }
            (RecordMatch::Serial(want), Value::Soa { serial, .. }) => want == serial,
            (RecordMatch::Mname(want), Value::Soa { mname, .. }) => want.same_as(mname),
            _ => false,
        }
    }

    /// The part of `record` this value is compared with, for "got ...".
    fn shown(&self, record: &Record) -> String {
        match (self, &record.value) {
            (RecordMatch::Name(_), Value::Mx { exchange, .. }) => exchange.clone(),
            (RecordMatch::Name(_), Value::Srv { target, .. }) => target.clone(),
            (_, Value::Txt(strings)) => format!("{:?}", Record::txt_text(strings)),
            (_, Value::Caa { value, .. }) => {
                format!("{:?}", String::from_utf8_lossy(value))
            }
            (RecordMatch::Serial(_), Value::Soa { serial, .. }) => format!("serial {serial}"),
            (RecordMatch::Mname(_), Value::Soa { mname, .. }) => format!("MNAME {mname}"),
            (_, v) => v.to_string(),
        }
    }
}

impl std::fmt::Display for RecordMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordMatch::Addr(a) => write!(f, "{a}"),
            RecordMatch::Name(n) => write!(f, "{n}"),
            RecordMatch::Text(t) => write!(f, "{t:?}"),
            RecordMatch::Serial(s) => write!(f, "serial {s}"),
            RecordMatch::Mname(n) => write!(f, "MNAME {n}"),
        }
    }
}

/// Everything an answer is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerChecks {
    pub rtype: RecordType,
    /// `--rcode`: the accepted rcodes (default NOERROR).
    pub rcodes: Vec<u16>,
    /// `--expect`: each must be in a record of `rtype` in the answer.
    pub values: Vec<RecordMatch>,
    /// `--expect-count`: the exact number of answer records.
    pub count: Option<usize>,
    /// `--authoritative`: AA set.
    pub authoritative: bool,
}

impl AnswerChecks {
    pub fn new(rtype: RecordType) -> AnswerChecks {
        AnswerChecks {
            rtype,
            rcodes: vec![0],
            values: Vec::new(),
            count: None,
            authoritative: false,
        }
    }

    /// Ok, or the first mismatch: "expected ..., got ...".
    pub fn verify(&self, answer: &Answer) -> Result<(), String> {
        if !self.rcodes.contains(&answer.rcode) {
            let want: Vec<String> = self.rcodes.iter().map(|c| rcode_name(*c)).collect();
            return Err(format!(
                "expected rcode {}, got {}",
                want.join(" or "),
                answer.rcode_name()
            ));
        }
        if self.authoritative && !answer.authoritative {
            return Err("expected an authoritative answer (AA), got one without AA".into());
        }
        if let Some(count) = self.count {
            if answer.records.len() != count {
                return Err(format!(
                    "expected {count} answer records, got {}",
                    answer.records.len()
                ));
            }
        }
        for want in &self.values {
            if !answer.of_type(self.rtype).any(|r| want.found_in(r)) {
                let got: Vec<String> = answer.of_type(self.rtype).map(|r| want.shown(r)).collect();
                return Err(format!(
                    "expected {} {want}, got {}",
                    self.rtype,
                    if got.is_empty() {
                        format!("no {} record", self.rtype)
                    } else {
                        got.join(", ")
                    }
                ));
            }
        }
        Ok(())
    }
}
