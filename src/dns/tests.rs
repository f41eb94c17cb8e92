//! The DNS logic without a network: query bytes, the match of answers
//! (spoofed ones refused), parsing (malformed ones refused, never a
//! panic), expectations, and the zone-file form.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::{self, RData};
use simple_dns::{Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE};

use super::answer::{matches, truncated};
use super::*;

fn query(name: &str, rtype: RecordType) -> Query {
    Query {
        name: DomainName::parse(name).unwrap(),
        rtype,
        recurse: false,
        dnssec: false,
    }
}

const ID: u16 = 0xbeef;

/// A reply to `name`/`rtype` with ID `id` and `answers`, built by the
/// crate's own writer (an independent encoder of the wire format).
fn reply(id: u16, name: &str, rtype: RecordType, answers: Vec<RData<'static>>) -> Vec<u8> {
    let mut p = Packet::new_reply(id);
    p.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    let qtype = QTYPE::try_from(rtype.code()).unwrap();
    p.questions.push(Question::new(
        Name::new_unchecked(name).into_owned(),
        qtype,
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    for rdata in answers {
        p.answers.push(ResourceRecord::new(
            Name::new_unchecked(name).into_owned(),
            CLASS::IN,
            300,
            rdata,
        ));
    }
    p.build_bytes_vec().unwrap()
}

fn a(addr: &str) -> RData<'static> {
    RData::A(rdata::A {
        address: addr.parse::<Ipv4Addr>().unwrap().into(),
    })
}

#[test]
fn the_query_is_one_question_with_edns0() {
    let q = query("www.Example.test.", RecordType::Mx);
    let bytes = q.to_bytes(ID);
    // Header: ID, no flags (RD off), 1 question, 1 additional (OPT).
    assert_eq!(&bytes[..12], &[0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    let question = q.question();
    assert_eq!(
        question,
        b"\x03www\x07example\x04test\x00\x00\x0f\x00\x01".to_vec()
    );
    let opt = &bytes[12 + question.len()..];
    // Root, type 41, UDP size 1232, rcode/version 0, no DO, no options.
    assert_eq!(opt, &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    let parsed = Packet::parse(&bytes).unwrap();
    assert_eq!(parsed.opt().unwrap().udp_packet_size, 1232);
    assert!(!parsed.has_flags(PacketFlag::RECURSION_DESIRED));

    let mut q = q;
    q.recurse = true;
    q.dnssec = true;
    let bytes = q.to_bytes(1);
    assert_eq!(bytes[2] & 0x01, 0x01, "RD");
    assert_eq!(bytes[bytes.len() - 4], 0x80, "DO");
    let tcp = q.to_tcp_bytes(1);
    assert_eq!(u16::from_be_bytes([tcp[0], tcp[1]]) as usize, bytes.len());
    assert_eq!(&tcp[2..], &bytes[..]);
}

#[test]
fn names_must_fit_the_wire() {
    assert_eq!(DomainName::parse(".").unwrap().to_wire(), vec![0]);
    assert_eq!(DomainName::parse("a.b").unwrap().to_string(), "a.b.");
    let long_label = "a".repeat(64);
    let err = DomainName::parse(&format!("{long_label}.test")).unwrap_err();
    assert!(err.contains("64 bytes"), "{err}");
    assert!(DomainName::parse(&"a".repeat(63)).is_ok());
    // 4 labels of 63 bytes: 4 * 64 + 1 = 257 bytes in wire form.
    let label = "b".repeat(63);
    let too_long = [label.as_str(); 4].join(".");
    let err = DomainName::parse(&too_long).unwrap_err();
    assert!(err.contains("257 bytes"), "{err}");
    let fits = [&label[..], &label, &label, &"c".repeat(61)].join(".");
    assert_eq!(DomainName::parse(&fits).unwrap().to_wire().len(), 255);
    for bad in ["", "a..b", ".a", "a b", "a\\.b", "caf\u{e9}.test"] {
        assert!(DomainName::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn types_and_rcodes_parse_by_name() {
    assert_eq!(RecordType::parse("aaaa").unwrap(), RecordType::Aaaa);
    assert!(RecordType::parse("AXFR")
        .unwrap_err()
        .contains("unknown type"));
    assert_eq!(parse_rcodes("NOERROR,nxdomain,3").unwrap(), vec![0, 3]);
    assert_eq!(parse_rcodes("4095").unwrap(), vec![4095]);
    assert!(parse_rcodes("4096").is_err());
    assert!(parse_rcodes("NOPE").unwrap_err().contains("unknown rcode"));
    assert!(parse_rcodes("").is_err());
    assert_eq!(rcode_name(3), "NXDOMAIN");
    assert_eq!(rcode_name(23), "BADCOOKIE");
    assert_eq!(rcode_name(24), "RCODE24");
    assert_eq!(
        parse_rcodes("badcookie,BADSIG,badtrunc").unwrap(),
        vec![23, 16, 22]
    );
}

#[test]
fn only_our_answer_matches() {
    let q = query("www.example.test", RecordType::A);
    let question = q.question();
    let good = reply(
        ID,
        "www.example.test",
        RecordType::A,
        vec![a("198.51.100.50")],
    );
    assert_eq!(matches(&good, ID, &question), Ok(()));
    // Names compare without regard to case.
    let upper = reply(ID, "WWW.Example.TEST", RecordType::A, vec![]);
    assert_eq!(matches(&upper, ID, &question), Ok(()));

    let wrong_id = reply(ID ^ 1, "www.example.test", RecordType::A, vec![]);
    assert!(matches(&wrong_id, ID, &question)
        .unwrap_err()
        .contains("ID"));
    let wrong_name = reply(ID, "www.example.tesu", RecordType::A, vec![]);
    assert_eq!(
        matches(&wrong_name, ID, &question),
        Err("not our question".into())
    );
    let wrong_type = reply(ID, "www.example.test", RecordType::Aaaa, vec![]);
    assert!(matches(&wrong_type, ID, &question).is_err());
    // Our own query echoed back is not an answer.
    assert!(matches(&q.to_bytes(ID), ID, &question)
        .unwrap_err()
        .contains("not a response"));
    assert!(matches(&good[..11], ID, &question).is_err());
    assert!(matches(&good[..20], ID, &question).is_err());
}

#[test]
fn records_of_each_type_are_read_and_rendered() {
    let name = Name::new_unchecked("example.test");
    let answers = vec![
        a("198.51.100.50"),
        RData::AAAA(rdata::AAAA {
            address: "2001:db8::50".parse::<Ipv6Addr>().unwrap().into(),
        }),
        RData::MX(rdata::MX {
            preference: 10,
            exchange: Name::new_unchecked("mx.example.test"),
        }),
        RData::TXT(rdata::TXT::new().with_string("v=spf1 -all").unwrap()),
        RData::SOA(rdata::SOA {
            mname: Name::new_unchecked("ns1.example.test"),
            rname: Name::new_unchecked("hostmaster.example.test"),
            serial: 2024010101,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
        }),
        RData::NS(rdata::NS(name.clone())),
    ];
    let bytes = reply(ID, "example.test", RecordType::A, answers);
    let answer = Answer::parse(&bytes).unwrap();
    assert_eq!(answer.rcode, 0);
    assert!(answer.authoritative);
    assert!(!answer.truncated);
    assert_eq!(
        answer.zone_lines(),
        [
            "example.test.\t300\tIN\tA\t198.51.100.50",
            "example.test.\t300\tIN\tAAAA\t2001:db8::50",
            "example.test.\t300\tIN\tMX\t10 mx.example.test.",
            "example.test.\t300\tIN\tTXT\t\"v=spf1 -all\"",
            "example.test.\t300\tIN\tSOA\tns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300",
            "example.test.\t300\tIN\tNS\texample.test.",
        ]
    );
}

fn expect(rtype: RecordType, values: &[&str]) -> AnswerChecks {
    let mut e = AnswerChecks::new(rtype);
    e.values = values
        .iter()
        .map(|v| RecordMatch::parse(rtype, v).unwrap())
        .collect();
    e
}

#[test]
fn expectations_say_expected_and_got() {
    let bytes = reply(
        ID,
        "www.example.test",
        RecordType::A,
        vec![a("198.51.100.50"), a("198.51.100.51")],
    );
    let answer = Answer::parse(&bytes).unwrap();
    assert_eq!(
        expect(RecordType::A, &["198.51.100.51"]).verify(&answer),
        Ok(())
    );
    assert_eq!(
        expect(RecordType::A, &["198.51.100.99"]).verify(&answer),
        Err("expected A 198.51.100.99, got 198.51.100.50, 198.51.100.51".into())
    );
    let mut e = expect(RecordType::A, &[]);
    e.count = Some(3);
    assert_eq!(
        e.verify(&answer),
        Err("expected 3 answer records, got 2".into())
    );
    e.count = Some(2);
    e.authoritative = true;
    assert_eq!(e.verify(&answer), Ok(()));
    e.rcodes = vec![3];
    assert_eq!(
        e.verify(&answer),
        Err("expected rcode NXDOMAIN, got NOERROR".into())
    );
    // AAAA asked, none there.
    assert_eq!(
        expect(RecordType::Aaaa, &["2001:db8::1"]).verify(&answer),
        Err("expected AAAA 2001:db8::1, got no AAAA record".into())
    );
}

#[test]
fn expect_values_are_read_for_the_type() {
    use RecordMatch as E;
    assert!(E::parse(RecordType::A, "2001:db8::1").is_err());
    assert!(E::parse(RecordType::Aaaa, "198.51.100.1").is_err());
    assert!(E::parse(RecordType::Mx, "mx..test").is_err());
    assert!(E::parse(RecordType::Txt, "").is_err());
    assert_eq!(E::parse(RecordType::Soa, "42").unwrap(), E::Serial(42));
    assert!(matches!(
        E::parse(RecordType::Soa, "ns1.test").unwrap(),
        E::Mname(_)
    ));
    assert!(E::parse(RecordType::Soa, "99999999999").is_err());
    let mx = reply(
        ID,
        "example.test",
        RecordType::Mx,
        vec![RData::MX(rdata::MX {
            preference: 10,
            exchange: Name::new_unchecked("MX.example.test"),
        })],
    );
    let answer = Answer::parse(&mx).unwrap();
    assert_eq!(
        expect(RecordType::Mx, &["mx.example.test."]).verify(&answer),
        Ok(())
    );
    assert_eq!(
        expect(RecordType::Mx, &["mx2.example.test"]).verify(&answer),
        Err("expected MX mx2.example.test., got MX.example.test.".into())
    );
}

#[test]
fn the_tc_bit_is_read_from_the_header() {
    let mut bytes = reply(ID, "big.example.test", RecordType::Txt, vec![]);
    assert!(!truncated(&bytes));
    bytes[2] |= 0x02;
    assert!(truncated(&bytes));
    assert!(Answer::parse(&bytes).unwrap().truncated);
}

#[test]
fn malformed_answers_are_refused_without_a_panic() {
    let good = reply(
        ID,
        "www.example.test",
        RecordType::A,
        vec![a("198.51.100.50")],
    );
    // Counts that cannot fit: refused before the parser reserves room.
    let mut huge = good.clone();
    huge[6] = 0xff;
    huge[7] = 0xff;
    assert!(Answer::parse(&huge).unwrap_err().contains("do not fit"));
    // Every truncation of a good answer.
    for end in 0..good.len() {
        let _ = Answer::parse(&good[..end]);
    }
    // A compression pointer to itself.
    let mut looped = good[..12].to_vec();
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert!(Answer::parse(&looped).is_err());
    // Pseudo-random bytes after a valid header: never a panic.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for len in 0..600 {
        let mut m = good[..12].to_vec();
        for _ in 0..len % 97 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            m.push(x as u8);
        }
        let _ = Answer::parse(&m);
        let _ = matches(&m, ID, &[0]);
    }
}

#[test]
fn an_unknown_type_in_the_answer_is_shown_by_number() {
    let bytes = reply(
        ID,
        "x.example.test",
        RecordType::A,
        vec![RData::NULL(99, rdata::NULL::new(b"abc").unwrap())],
    );
    let answer = Answer::parse(&bytes).unwrap();
    assert_eq!(answer.records.len(), 1);
    assert!(
        answer.zone_lines()[0].contains("TYPE99"),
        "{:?}",
        answer.zone_lines()
    );
    let _ = (TYPE::A, IpAddr::V4(Ipv4Addr::LOCALHOST));
}

/// `reply` with an OPT record whose TTL carries `extended` as the rcode's
/// upper eight bits and `low` in the header's four.
fn with_extended_rcode(mut reply: Vec<u8>, low: u8, extended: u8) -> Vec<u8> {
    reply[3] = (reply[3] & 0xF0) | low;
    let additional = u16::from_be_bytes([reply[10], reply[11]]) + 1;
    reply[10..12].copy_from_slice(&additional.to_be_bytes());
    // Root name, type OPT, UDP size 1232, TTL (extended rcode, version 0,
    // flags 0), an empty RDATA.
    reply.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, extended, 0, 0, 0, 0, 0]);
    reply
}

/// EDNS extended rcodes: BADCOOKIE (23) is 7 in the header and 1 in the
/// OPT record; it must be read as 23 and named, and `--rcode` must match
/// the whole value, not the header's YXRRSET.
#[test]
fn extended_rcodes_combine_the_opt_record_and_the_header() {
    let base = reply(
        ID,
        "www.example.test",
        RecordType::A,
        vec![a("198.51.100.50")],
    );
    let cookie = Answer::parse(&with_extended_rcode(base.clone(), 7, 1)).unwrap();
    assert_eq!(cookie.rcode, 23);
    assert_eq!(cookie.rcode_name(), "BADCOOKIE");
    let mut e = expect(RecordType::A, &[]);
    e.rcodes = parse_rcodes("BADCOOKIE").unwrap();
    assert_eq!(e.verify(&cookie), Ok(()));
    e.rcodes = parse_rcodes("7").unwrap();
    assert_eq!(
        e.verify(&cookie),
        Err("expected rcode YXRRSET, got BADCOOKIE".into())
    );
    // The largest: 0xFF in the OPT record and 0xF in the header.
    let max = Answer::parse(&with_extended_rcode(base.clone(), 0xF, 0xFF)).unwrap();
    assert_eq!(max.rcode, MAX_RCODE);
    assert_eq!(max.rcode_name(), "RCODE4095");
    // An OPT record with no extended bits leaves the header's code.
    let plain = Answer::parse(&with_extended_rcode(base, 3, 0)).unwrap();
    assert_eq!(plain.rcode, 3);
}
