//! An answer: first matched to our query on the few bytes that say whose
//! it is (ID, QR, opcode, the question), so a spoofed or stray datagram is
//! ignored before anything else of it is read; then parsed, bounds-checked
//! by `simple-dns`, into owned records.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag};

use super::query::{Query, FLAG_QR, FLAG_TC, HEADER_LEN, TYPE_OPT};
use super::{rcode_name, RecordType};

/// Smallest resource record on the wire: root name, type, class, TTL,
/// RDLENGTH. A count that cannot fit the message is refused before the
/// parser would reserve room for it.
const MIN_RECORD: usize = 11;

/// Is `reply` the answer to our query `question` with ID `id`? Err: why
/// not, for `-vvv`. Only header fields and the question are read.
pub fn matches(reply: &[u8], id: u16, question: &[u8]) -> Result<(), String> {
    if reply.len() < HEADER_LEN {
        return Err(format!("{} bytes: shorter than a DNS header", reply.len()));
    }
    let field = |at: usize| u16::from_be_bytes([reply[at], reply[at + 1]]);
    let got_id = field(0);
    if got_id != id {
        return Err(format!("ID {got_id:#06x}, ours is {id:#06x}"));
    }
    let flags = field(2);
    if flags & FLAG_QR == 0 {
        return Err("a query, not a response".into());
    }
    if (flags >> 11) & 0xF != 0 {
        return Err(format!("opcode {}, not QUERY", (flags >> 11) & 0xF));
    }
    if field(4) != 1 {
        return Err(format!("{} questions, ours had 1", field(4)));
    }
    let end = HEADER_LEN + question.len();
    // Names compare case-insensitively (RFC 4343); type and class exactly.
    match reply.get(HEADER_LEN..end) {
        Some(q) if q.eq_ignore_ascii_case(question) => Ok(()),
        _ => Err("not our question".into()),
    }
}

/// The TC bit of a matched reply (read from the header alone, so a
/// truncated answer the parser refuses is still retried over TCP).
pub fn truncated(reply: &[u8]) -> bool {
    reply.len() >= 4 && u16::from_be_bytes([reply[2], reply[3]]) & FLAG_TC != 0
}

/// The upper eight bits of the rcode, from the OPT record's TTL (RFC 6891
/// 6.1.3); 0 without one. Called on a message the parser has accepted, so
/// it only walks the sections to the OPT record, every step bounds-checked.
fn extended_rcode(reply: &[u8]) -> u8 {
    let count = |at: usize| u16::from_be_bytes([reply[at], reply[at + 1]]) as usize;
    let (questions, before_additional, additional) = (count(4), count(6) + count(8), count(10));
    let mut at = HEADER_LEN;
    for _ in 0..questions {
        let Some(end) = skip_name(reply, at) else {
            return 0;
        };
        at = end + 4;
    }
    for index in 0..before_additional + additional {
        let Some(end) = skip_name(reply, at) else {
            return 0;
        };
        let Some(fixed) = reply.get(end..end + 10) else {
            return 0;
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        if index >= before_additional && rtype == TYPE_OPT {
            // TTL: extended rcode, version, flags.
            return fixed[4];
        }
        at = end + 10 + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    }
    0
}

/// Where the name at `at` ends: after its last label, or after the
/// two-byte pointer that ends a compressed one.
fn skip_name(reply: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *reply.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

/// A record's data, as far as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Addr(IpAddr),
    /// NS, CNAME, PTR: the name, fully qualified.
    Name(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    /// The character-strings, each as received.
    Txt(Vec<Vec<u8>>),
    Soa {
        mname: String,
        rname: String,
        serial: u32,
        refresh: i32,
        retry: i32,
        expire: i32,
        minimum: u32,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Caa {
        flag: u8,
        tag: String,
        value: Vec<u8>,
    },
    /// Any other type: its number.
    Other {
        code: u16,
    },
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Fully qualified owner name.
    pub name: String,
    pub ttl: u32,
    pub value: Value,
}

impl Record {
    /// The record's type, when it is one `--type` knows.
    pub fn rtype(&self) -> Option<RecordType> {
        Some(match &self.value {
            Value::Addr(IpAddr::V4(_)) => RecordType::A,
            Value::Addr(IpAddr::V6(_)) => RecordType::Aaaa,
            Value::Mx { .. } => RecordType::Mx,
            Value::Txt(_) => RecordType::Txt,
            Value::Soa { .. } => RecordType::Soa,
            Value::Srv { .. } => RecordType::Srv,
            Value::Caa { .. } => RecordType::Caa,
            Value::Name(_) | Value::Other { .. } => return None,
        })
    }

    /// The TXT strings joined, as `--expect` compares them.
    pub fn txt_text(strings: &[Vec<u8>]) -> String {
        String::from_utf8_lossy(&strings.concat()).into_owned()
    }
}

/// A parsed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// With EDNS0's extended bits.
    pub rcode: u16,
    pub authoritative: bool,
    pub truncated: bool,
    /// The answer section, each with its type as the wire says it.
    pub records: Vec<(u16, Record)>,
    pub authority: usize,
    pub additional: usize,
}

impl Answer {
    /// Parse a reply that [`matches`] our query. Err: why it is malformed.
    pub fn parse(reply: &[u8]) -> Result<Answer, String> {
        if reply.len() < HEADER_LEN {
            return Err("shorter than a DNS header".into());
        }
        let count = |at: usize| u16::from_be_bytes([reply[at], reply[at + 1]]) as usize;
        let records = count(6) + count(8) + count(10);
        if count(4) * 5 + records * MIN_RECORD > reply.len() - HEADER_LEN {
            return Err(format!(
                "its counts ({} questions, {records} records) do not fit its {} bytes",
                count(4),
                reply.len()
            ));
        }
        let packet = Packet::parse(reply).map_err(|e| e.to_string())?;
        let answers = packet
            .answers
            .iter()
            .map(|rr| {
                let code: u16 = rr.rdata.type_code().into();
                let record = Record {
                    name: fqdn(&rr.name.to_string()),
                    ttl: rr.ttl,
                    value: value(&rr.rdata, code),
                };
                (code, record)
            })
            .collect();
        Ok(Answer {
            // The crate keeps only the rcodes it names (16 at most) and
            // drops the OPT record's upper bits: read both off the wire.
            rcode: u16::from(extended_rcode(reply)) << 4 | u16::from(reply[3] & 0x0F),
            authoritative: packet.has_flags(PacketFlag::AUTHORITATIVE_ANSWER),
            truncated: packet.has_flags(PacketFlag::TRUNCATION),
            records: answers,
            authority: packet.name_servers.len(),
            additional: packet.additional_records.len(),
        })
    }

    /// The answer records of `rtype`.
    pub fn of_type(&self, rtype: RecordType) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(move |(code, _)| *code == rtype.code())
            .map(|(_, r)| r)
    }

    pub fn rcode_name(&self) -> String {
        rcode_name(self.rcode)
    }

    /// The answer section in zone-file form, one line a record, as dig
    /// prints it: `www.example.test. 300 IN A 198.51.100.50`.
    pub fn zone_lines(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|(code, r)| {
                let rtype = RecordType::from_code(*code)
                    .map(|t| t.name().to_string())
                    .unwrap_or_else(|| format!("TYPE{code}"));
                format!("{}\t{}\tIN\t{rtype}\t{}", r.name, r.ttl, r.value)
            })
            .collect()
    }
}

/// `simple-dns` prints names without the final dot.
fn fqdn(name: &str) -> String {
    if name.is_empty() {
        ".".into()
    } else {
        format!("{name}.")
    }
}

fn value(rdata: &RData, code: u16) -> Value {
    match rdata {
        RData::A(a) => Value::Addr(IpAddr::V4(Ipv4Addr::from(a.address))),
        RData::AAAA(a) => Value::Addr(IpAddr::V6(Ipv6Addr::from(a.address))),
        RData::NS(n) => Value::Name(fqdn(&n.0.to_string())),
        RData::CNAME(n) => Value::Name(fqdn(&n.0.to_string())),
        RData::PTR(n) => Value::Name(fqdn(&n.0.to_string())),
        RData::MX(mx) => Value::Mx {
            preference: mx.preference,
            exchange: fqdn(&mx.exchange.to_string()),
        },
        RData::TXT(txt) => Value::Txt(txt_strings(txt)),
        RData::SOA(soa) => Value::Soa {
            mname: fqdn(&soa.mname.to_string()),
            rname: fqdn(&soa.rname.to_string()),
            serial: soa.serial,
            refresh: soa.refresh,
            retry: soa.retry,
            expire: soa.expire,
            minimum: soa.minimum,
        },
        RData::SRV(srv) => Value::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: fqdn(&srv.target.to_string()),
        },
        RData::CAA(caa) => Value::Caa {
            flag: caa.flag,
            tag: caa.tag.to_string(),
            value: caa.value.to_vec(),
        },
        _ => Value::Other { code },
    }
}

/// The character-strings of a TXT record. `simple-dns` hands them out as
/// `key=value` pairs (RFC 6763's reading) and skips those starting with
/// `=`; joined back, the strings are the bytes received otherwise.
fn txt_strings(txt: &simple_dns::rdata::TXT) -> Vec<Vec<u8>> {
    txt.iter_raw()
        .map(|(key, value)| {
            let mut s = key.to_vec();
            if let Some(v) = value {
                s.push(b'=');
                s.extend_from_slice(v);
            }
            s
        })
        .collect()
}

/// A character-string as the zone file writes it: quoted, with `"` and
/// `\` escaped and other bytes outside printable ASCII as `\DDD`.
fn quoted(data: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in data {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Addr(a) => write!(f, "{a}"),
            Value::Name(n) => f.write_str(n),
            Value::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            Value::Txt(strings) => {
                let parts: Vec<String> = strings.iter().map(|s| quoted(s)).collect();
                f.write_str(&parts.join(" "))
            }
            Value::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
            ),
            Value::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            Value::Caa { flag, tag, value } => write!(f, "{flag} {tag} {}", quoted(value)),
            Value::Other { .. } => f.write_str("(data not shown)"),
        }
    }
}

/// Our query, for messages: `www.example.test. A`.
pub fn describe(query: &Query) -> String {
    format!("{} {}", query.name, query.rtype)
}
