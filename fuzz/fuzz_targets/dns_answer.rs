//! Any datagram as the answer to a query: matching and parsing never
//! panic, and whatever parses can be verified and rendered.
#![no_main]

use check_raw::dns::{answer, Answer, DomainName, AnswerChecks, RecordMatch, Query, RecordType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let query = Query {
        name: DomainName::parse("www.example.test").unwrap(),
        rtype: RecordType::A,
        recurse: false,
        dnssec: false,
    };
    let id = data
        .get(..2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let _ = answer::matches(data, id, &query.question());
    let _ = answer::truncated(data);
    if let Ok(parsed) = Answer::parse(data) {
        let _ = parsed.zone_lines();
        for rtype in RecordType::ALL {
            let mut expect = AnswerChecks::new(rtype);
            expect.count = Some(1);
            for value in ["198.51.100.50", "2001:db8::50", "mx.example.test", "v=spf1", "42"] {
                if let Ok(v) = RecordMatch::parse(rtype, value) {
                    expect.values.push(v);
                }
            }
            let _ = expect.verify(&parsed);
        }
    }
});
