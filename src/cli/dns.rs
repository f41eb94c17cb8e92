//! check_raw_dns's options: taken raw from the command line, then checked
//! into the query and the expectations its answer must meet. Nothing is
//! sent before all of them are valid.

use crate::dns::{self, AnswerChecks, DomainName, Query, RecordMatch, RecordType};
use crate::text;

use super::{Collector, Common, DnsConfig};

/// `--expect` given at most this often: each is one comparison per record.
const MAX_EXPECT: usize = 64;
/// `--expect-count` above this cannot be met (a 64 KiB message holds fewer).
const MAX_COUNT: usize = 65_535;

/// The DNS options as given, before they are checked.
#[derive(Debug, Default)]
pub(super) struct DnsOptions {
    rtype: Option<String>,
    rcode: Option<String>,
    expect: Vec<String>,
    expect_count: Option<String>,
    recurse: bool,
    dnssec: bool,
    authoritative: bool,
    tcp: bool,
}

impl DnsOptions {
    pub(super) fn take(c: &mut Collector) -> DnsOptions {
        DnsOptions {
            rtype: c.value(["-T", "--type"]),
            rcode: c.value("--rcode"),
            expect: c.values(["-a", "--expect"]),
            expect_count: c.value("--expect-count"),
            recurse: c.flag("--recurse"),
            dnssec: c.flag("--dnssec"),
            authoritative: c.flag("--authoritative"),
            tcp: c.flag("--tcp"),
        }
    }

    /// Check every value; `name` is NAME, positional or `--query`.
    pub(super) fn into_config(self, common: Common, name: &str) -> Result<DnsConfig, String> {
        let name = DomainName::parse(name)
            .map_err(|e| format!("invalid NAME '{}': {e}", text::arg(name)))?;
        let rtype = match self.rtype.as_deref() {
            None => RecordType::A,
            Some(t) => RecordType::parse(t)
                .map_err(|e| format!("invalid --type '{}': {e}", text::arg(t)))?,
        };
        let mut expect = AnswerChecks::new(rtype);
        if let Some(r) = self.rcode.as_deref() {
            expect.rcodes = dns::parse_rcodes(r)
                .map_err(|e| format!("invalid --rcode '{}': {e}", text::arg(r)))?;
        }
        if self.expect.len() > MAX_EXPECT {
            return Err(format!(
                "too many --expect values ({}, at most {MAX_EXPECT})",
                self.expect.len()
            ));
        }
        expect.values = self
            .expect
            .iter()
            .map(|v| {
                RecordMatch::parse(rtype, v)
                    .map_err(|e| format!("invalid --expect '{}': {e}", text::arg(v)))
            })
            .collect::<Result<_, _>>()?;
        expect.count = self
            .expect_count
            .as_deref()
            .map(|n| {
                // Digits only: `parse` would take a leading '+'.
                let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
                n.parse::<usize>()
                    .ok()
                    .filter(|count| digits && *count <= MAX_COUNT)
                    .ok_or_else(|| {
                        format!(
                            "invalid --expect-count '{}': a number 0-{MAX_COUNT}",
                            text::arg(n)
                        )
                    })
            })
            .transpose()?;
        expect.authoritative = self.authoritative;
        Ok(DnsConfig {
            common,
            query: Query {
                name,
                rtype,
                recurse: self.recurse,
                dnssec: self.dnssec,
            },
            expect,
            tcp: self.tcp,
        })
    }
}
