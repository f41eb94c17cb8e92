//! Unit tests of `http::expect`.
use super::*;

fn response(code: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
    Response {
        version: 1,
        code,
        reason: "OK".to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
        wire_bytes: 0,
    }
}

fn hello() -> Response {
    response(
        200,
        &[("Content-Type", "text/plain"), ("X-Health", "ok")],
        b"hello",
    )
}

fn mismatch(expectations: &ResponseChecks, response: &Response) -> String {
    expectations
        .verify(response)
        .expect_err("a mismatch")
        .to_string()
}

fn status(arg: &str) -> StatusSet {
    StatusSet::parse(arg).expect("valid status list")
}

fn header(arg: &str) -> HeaderMatch {
    HeaderMatch::parse(arg).expect("valid header")
}

// ---- argument parsers ----

#[test]
fn status_set_parse_and_contains() {
    let single = status("200");
    assert!(single.contains(200) && !single.contains(201));
    let list = status("200-299,301");
    assert_eq!(list.to_string(), "200-299,301");
    assert!(list.contains(200) && list.contains(299) && list.contains(301));
    assert!(!list.contains(300) && !list.contains(199) && !list.contains(302));
    assert_eq!(status(" 200 , 301 - 302 ").as_str(), "200 , 301 - 302");
    assert!(status(" 200 , 301 - 302 ").contains(302));
    assert!(status("100-599").contains(599));
    assert_eq!(StatusSet::success(), status("200-299"));
    let many = vec!["200"; 32].join(",");
    assert!(StatusSet::parse(&many).is_ok());
}

#[test]
fn status_set_errors() {
    let cases = [
        ("", "status code list is empty"),
        ("  ", "status code list is empty"),
        (
            "abc",
            "\"abc\" is not a status code (three digits, 100-599)",
        ),
        ("20", "\"20\" is not a status code (three digits, 100-599)"),
        (
            "2000",
            "\"2000\" is not a status code (three digits, 100-599)",
        ),
        (
            "+200",
            "\"+200\" is not a status code (three digits, 100-599)",
        ),
        (
            "2xx",
            "\"2xx\" is not a status code (three digits, 100-599)",
        ),
        ("600", "status code 600 is outside 100-599"),
        ("099", "status code 99 is outside 100-599"),
        ("200-", "\"\" is not a status code (three digits, 100-599)"),
        ("-200", "\"\" is not a status code (three digits, 100-599)"),
        (
            "200-300-400",
            "\"300-400\" is not a status code (three digits, 100-599)",
        ),
        (
            "299-200",
            "status range \"299-200\" is reversed (write the lower code first)",
        ),
        ("200,,301", "empty item in status code list \"200,,301\""),
        ("200,", "empty item in status code list \"200,\""),
    ];
    for (arg, message) in cases {
        assert_eq!(StatusSet::parse(arg), Err(message.to_string()), "{arg:?}");
    }
    let many = vec!["200"; 33].join(",");
    assert_eq!(
        StatusSet::parse(&many),
        Err("too many items in status code list (33, at most 32)".to_string())
    );
}

#[test]
fn header_match_parse() {
    let exact = header("X-Health:  ok ");
    assert_eq!((exact.name(), exact.value()), ("X-Health", Some("ok")));
    assert_eq!(exact.to_string(), "X-Health: ok");
    let any = header("X-Health:");
    assert_eq!((any.name(), any.value()), ("X-Health", None));
    assert_eq!(any.to_string(), "X-Health");
    assert_eq!(header("X-Time: 12:30").value(), Some("12:30"));
    let cases = [
        ("X-Health", "response header \"X-Health\" has no colon (expected \"Name: value\")"),
        (": ok", "response header name \"\" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
        ("X Health: ok", "response header name \"X Health\" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
        ("X-Health: o\nk", "response header \"X-Health: o\\nk\" contains CR, LF or another control character"),
    ];
    for (arg, message) in cases {
        assert_eq!(HeaderMatch::parse(arg), Err(message.to_string()), "{arg:?}");
    }
}

#[test]
fn md5_parse() {
    let upper = BodyMd5::parse("5D41402ABC4B2A76B9719D911017C592").expect("valid");
    assert_eq!(upper.as_str(), "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(upper.to_string(), "5d41402abc4b2a76b9719d911017c592");
    let cases = [
        ("", "MD5 must be 32 hex digits, got 0 characters"),
        (
            "5d41402abc4b2a76b9719d911017c59",
            "MD5 must be 32 hex digits, got 31 characters",
        ),
        (
            "5d41402abc4b2a76b9719d911017c5921",
            "MD5 must be 32 hex digits, got 33 characters",
        ),
        (
            "5d41402abc4b2a76b9719d911017c59g",
            "MD5 \"5d41402abc4b2a76b9719d911017c59g\" contains a non-hex character \"g\"",
        ),
        (
            "5d41402abc4b2a76b9719d911017c59é",
            "MD5 \"5d41402abc4b2a76b9719d911017c59é\" contains a non-hex character \"é\"",
        ),
    ];
    for (arg, message) in cases {
        assert_eq!(BodyMd5::parse(arg), Err(message.to_string()), "{arg:?}");
    }
}

// ---- verify ----

#[test]
fn nothing_to_check_passes() {
    let none = ResponseChecks::default();
    assert!(none.is_empty());
    assert_eq!(none.verify(&response(500, &[], b"")), Ok(()));
    let invert_only = ResponseChecks {
        invert_regex: true,
        ..ResponseChecks::default()
    };
    assert!(invert_only.is_empty());
}

#[test]
fn status_expectation() {
    let expect = ResponseChecks {
        status: Some(status("200-299,301")),
        ..ResponseChecks::default()
    };
    assert!(!expect.is_empty());
    assert_eq!(expect.verify(&response(301, &[], b"")), Ok(()));
    assert_eq!(
        mismatch(&expect, &response(404, &[], b"")),
        "expected status 200-299,301, got 404"
    );
}

#[test]
fn header_expectations() {
    let pass = ResponseChecks {
        headers: vec![header("x-health: ok"), header("Content-Type:")],
        ..ResponseChecks::default()
    };
    assert_eq!(pass.verify(&hello()), Ok(()));

    let wrong_value = ResponseChecks {
        headers: vec![header("Content-Type:"), header("X-Health: OK")],
        ..ResponseChecks::default()
    };
    assert_eq!(
        mismatch(&wrong_value, &hello()),
        "missing response header 'X-Health: OK' (got 'X-Health: ok')"
    );
    let absent = ResponseChecks {
        headers: vec![header("X-Missing: ok")],
        ..ResponseChecks::default()
    };
    assert_eq!(
        mismatch(&absent, &hello()),
        "missing response header 'X-Missing: ok' (header absent)"
    );
    let absent_any = ResponseChecks {
        headers: vec![header("X-Missing:")],
        ..ResponseChecks::default()
    };
    assert_eq!(
        mismatch(&absent_any, &hello()),
        "missing response header 'X-Missing' (header absent)"
    );
}

#[test]
fn header_expectation_with_repeated_fields() {
    let fields = [("V", "1"), ("v", "2"), ("V", "3"), ("V", "4"), ("V", "5")];
    let expect = ResponseChecks {
        headers: vec![header("V: 9")],
        ..ResponseChecks::default()
    };
    assert_eq!(
        mismatch(&expect, &response(200, &fields, b"")),
        "missing response header 'V: 9' (got 'V: 1', 'v: 2', 'V: 3' and 2 more)"
    );
    let any_match = ResponseChecks {
        headers: vec![header("V: 4")],
        ..ResponseChecks::default()
    };
    assert_eq!(any_match.verify(&response(200, &fields, b"")), Ok(()));
}

#[test]
fn md5_expectation() {
    let pass = ResponseChecks {
        md5: Some(BodyMd5::parse("5D41402ABC4B2A76B9719D911017C592").expect("valid")),
        ..ResponseChecks::default()
    };
    assert_eq!(pass.verify(&hello()), Ok(()));
    let fail = ResponseChecks {
        md5: Some(BodyMd5::parse("0cc175b9c0f1b6a831c399e269772661").expect("valid")),
        ..ResponseChecks::default()
    };
    assert_eq!(
        mismatch(&fail, &hello()),
        "body MD5 is 5d41402abc4b2a76b9719d911017c592, expected 0cc175b9c0f1b6a831c399e269772661"
    );
}

#[test]
fn body_expectation() {
    let expect = |body: &[u8]| ResponseChecks {
        body: Some(body.to_vec()),
        ..ResponseChecks::default()
    };
    assert_eq!(expect(b"hello").verify(&hello()), Ok(()));
    assert_eq!(
        mismatch(&expect(b"hello\n"), &hello()),
        "body (5 bytes) differs from the expected 6 bytes (first difference at byte 5)"
    );
    assert_eq!(
        mismatch(&expect(b"hex"), &hello()),
        "body (5 bytes) differs from the expected 3 bytes (first difference at byte 2)"
    );
    assert_eq!(
        mismatch(&expect(b"abc"), &response(200, &[], b"")),
        "body (0 bytes) differs from the expected 3 bytes (first difference at byte 0)"
    );
}

#[test]
fn contains_expectation() {
    let expect = |needle: &str| ResponseChecks {
        contains: Some(needle.to_string()),
        ..ResponseChecks::default()
    };
    assert_eq!(expect("ell").verify(&hello()), Ok(()));
    assert_eq!(expect("").verify(&hello()), Ok(()));
    assert_eq!(expect("a.c").verify(&response(200, &[], b"xa.cx")), Ok(()));
    assert!(expect("a.c").verify(&response(200, &[], b"abc")).is_err());
    assert_eq!(
        expect("é").verify(&response(200, &[], b"\xffcaf\xc3\xa9")),
        Ok(())
    );
    assert_eq!(
        mismatch(&expect("ok"), &hello()),
        "body does not contain \"ok\""
    );
    assert_eq!(
        mismatch(&expect("a\r\nb"), &hello()),
        "body does not contain \"a\\r\\nb\""
    );
}

#[test]
fn regex_expectation() {
    let expect = |pattern: &str, invert_regex: bool| ResponseChecks {
        regex: Some(Regex::new(pattern).expect("valid regex")),
        invert_regex,
        ..ResponseChecks::default()
    };
    assert_eq!(expect("^h.l+o$", false).verify(&hello()), Ok(()));
    assert_eq!(expect("down", true).verify(&hello()), Ok(()));
    assert_eq!(
        mismatch(&expect("^up", false), &hello()),
        "body does not match regex \"^up\""
    );
    assert_eq!(
        mismatch(&expect("l+", true), &hello()),
        "body matches regex \"l+\" (--invert-regex)"
    );
    assert_eq!(
        mismatch(&expect(r"^\d+$", false), &hello()),
        "body does not match regex \"^\\d+$\""
    );
    let binary = response(200, &[], b"up\xff\xfe");
    assert_eq!(expect("^up\u{fffd}+$", false).verify(&binary), Ok(()));
}

#[test]
fn checks_stop_at_the_first_failure_in_order() {
    let all_wrong = ResponseChecks {
        status: Some(status("500")),
        headers: vec![header("X-Health: bad")],
        md5: Some(BodyMd5::parse("0cc175b9c0f1b6a831c399e269772661").expect("valid")),
        body: Some(b"nope".to_vec()),
        contains: Some("nope".to_string()),
        regex: Some(Regex::new("nope").expect("valid regex")),
        invert_regex: false,
    };
    let mut expect = all_wrong.clone();
    let expected_kinds = ["status", "header", "md5", "body", "contains", "regex"];
    for kind in expected_kinds {
        let found = expect.verify(&hello()).expect_err("mismatch");
        let found_kind = match found {
            Mismatch::Status { .. } => "status",
            Mismatch::Header { .. } => "header",
            Mismatch::Md5 { .. } => "md5",
            Mismatch::Body { .. } => "body",
            Mismatch::Contains { .. } => "contains",
            Mismatch::Regex { .. } | Mismatch::InvertedRegex { .. } => "regex",
        };
        assert_eq!(found_kind, kind);
        match kind {
            "status" => expect.status = None,
            "header" => expect.headers.clear(),
            "md5" => expect.md5 = None,
            "body" => expect.body = None,
            "contains" => expect.contains = None,
            _ => expect.regex = None,
        }
    }
    assert_eq!(expect.verify(&hello()), Ok(()));
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "x".repeat(500);
    let expect = ResponseChecks {
        contains: Some(long.clone()),
        ..ResponseChecks::default()
    };
    let message = mismatch(&expect, &hello());
    assert_eq!(
        message,
        format!("body does not contain \"{}...\"", "x".repeat(64))
    );
}

#[test]
fn random_arguments_never_panic() {
    let mut state: u64 = 0x1234_5678_9abc_def1;
    let alphabet: Vec<char> = "0123456789abcdefABCDEF-,: \t\r\n\0é\u{fffd}xX"
        .chars()
        .collect();
    for _ in 0..5000 {
        let len = (state % 40) as usize;
        let mut arg = String::new();
        for _ in 0..len {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            arg.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let results = [
            StatusSet::parse(&arg).err(),
            HeaderMatch::parse(&arg).err(),
            BodyMd5::parse(&arg).err(),
            crate::http::parse_request_header(&arg).err(),
            crate::http::validate_path(&arg).err(),
            crate::http::validate_host(&arg).err(),
        ];
        for message in results.into_iter().flatten() {
            assert!(
                !message.contains('\n') && !message.contains('\r'),
                "{message:?}"
            );
        }
    }
}
