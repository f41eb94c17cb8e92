//! The query: a checked domain name, and the bytes of one question for it
//! with EDNS0 (RFC 1035 section 4.1, RFC 6891 section 6).

use std::fmt;

use super::{RecordType, EDNS_UDP_SIZE};

/// Longest label and longest name in wire form (RFC 1035 section 2.3.4).
pub const MAX_LABEL: usize = 63;
pub const MAX_NAME_WIRE: usize = 255;

/// A domain name that fits the wire: labels of 1-63 bytes, at most 255
/// bytes encoded. Kept in lower case, without the final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    labels: Vec<String>,
}

impl DomainName {
    /// `www.example.org`, `www.example.org.`, or `.` for the root.
    /// Characters: printable ASCII without spaces, backslashes or quotes
    /// (no zone-file escapes; internationalised names in their xn-- form).
    pub fn parse(text: &str) -> Result<DomainName, String> {
        if text.is_empty() {
            return Err("empty name".into());
        }
        if text == "." {
            return Ok(DomainName { labels: Vec::new() });
        }
        let body = text.strip_suffix('.').unwrap_or(text);
        let mut labels = Vec::new();
        let mut wire = 1;
        for label in body.split('.') {
            if label.is_empty() {
                return Err("empty label (two dots in a row, or a leading dot)".into());
            }
            if label.len() > MAX_LABEL {
                return Err(format!(
                    "label of {} bytes (at most {MAX_LABEL})",
                    label.len()
                ));
            }
            if let Some(c) = label
                .chars()
                .find(|c| !c.is_ascii_graphic() || matches!(c, '\\' | '"'))
            {
                return Err(format!("character {c:?} is not allowed in a name"));
            }
            wire += label.len() + 1;
            labels.push(label.to_ascii_lowercase());
        }
        if wire > MAX_NAME_WIRE {
            return Err(format!(
                "name of {wire} bytes in wire form (at most {MAX_NAME_WIRE})"
            ));
        }
        Ok(DomainName { labels })
    }

    /// The name in wire form: length-prefixed labels, then the root's 0.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_NAME_WIRE);
        for label in &self.labels {
            // Checked to be at most 63 bytes by `parse`.
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    /// Equal to `other` as DNS compares names: ASCII case-insensitively,
    /// the final dot optional.
    pub fn same_as(&self, other: &str) -> bool {
        let other = other.strip_suffix('.').unwrap_or(other);
        let ours = self.labels.join(".");
        ours.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for DomainName {
    /// Fully qualified, as dig shows it: `www.example.org.`, `.`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for label in &self.labels {
            write!(f, "{label}.")?;
        }
        if self.labels.is_empty() {
            f.write_str(".")?;
        }
        Ok(())
    }
}

/// What one query asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub name: DomainName,
    pub rtype: RecordType,
    /// RD: ask a recursor to recurse (off: most DR pools are authoritative).
    pub recurse: bool,
    /// EDNS0's DO bit: ask for DNSSEC records.
    pub dnssec: bool,
}

/// Header flag bits (RFC 1035 section 4.1.1).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
/// The DNS header's length.
pub const HEADER_LEN: usize = 12;
pub const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// EDNS0's DO bit, in the OPT record's flags (RFC 3225).
const EDNS_DO: u16 = 0x8000;

impl Query {
    /// The question section: name, type, class IN.
    pub fn question(&self) -> Vec<u8> {
        let mut q = self.name.to_wire();
        q.extend_from_slice(&self.rtype.code().to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    /// The whole message with ID `id`: header, the question, and an OPT
    /// record announcing [`EDNS_UDP_SIZE`] (and DO with `--dnssec`).
    pub fn to_bytes(&self, id: u16) -> Vec<u8> {
        let flags = if self.recurse { FLAG_RD } else { 0 };
        let mut m = Vec::with_capacity(HEADER_LEN + MAX_NAME_WIRE + 4 + 11);
        for field in [id, flags, 1, 0, 0, 1] {
            m.extend_from_slice(&field.to_be_bytes());
        }
        m.extend_from_slice(&self.question());
        // OPT: root name, type 41, class = UDP size, TTL = extended rcode 0,
        // version 0 and the flags, no options.
        m.push(0);
        m.extend_from_slice(&TYPE_OPT.to_be_bytes());
        m.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
        m.extend_from_slice(&[0, 0]);
        let edns_flags = if self.dnssec { EDNS_DO } else { 0 };
        m.extend_from_slice(&edns_flags.to_be_bytes());
        m.extend_from_slice(&0u16.to_be_bytes());
        m
    }

    /// The message over TCP: a two-byte length first (RFC 7766 section 8).
    pub fn to_tcp_bytes(&self, id: u16) -> Vec<u8> {
        let m = self.to_bytes(id);
        // At most 12 + 255 + 4 + 11 bytes: always fits.
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        framed
    }
}
