//! The HTTP checks' options: taken raw from the command line, then checked
//! into a request and the expectations the response must meet.

use crate::http::{self, BodyMd5, HeaderMatch, Method, Request, ResponseChecks, StatusSet};

use super::values::parse_max_bytes;
use super::{Collector, Common, HttpConfig, Mode};
use crate::text;

/// HOST, PATH and (GET check) MD5, whichever form supplied them.
pub(super) struct HttpFields {
    pub host: String,
    pub path: String,
    pub md5: Option<String>,
}

/// The HTTP options as given, before they are checked.
#[derive(Debug, Default)]
pub(super) struct HttpOptions {
    method: Option<String>,
    headers: Vec<String>,
    status: Option<String>,
    response_headers: Vec<String>,
    md5: Option<String>,
    body: Option<String>,
    contains: Option<String>,
    regex: Option<String>,
    invert_regex: bool,
    max_bytes: Option<String>,
}

/// Compiled regexes are bounded so a pathological pattern cannot eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl HttpOptions {
    pub(super) fn take(c: &mut Collector, mode: Mode) -> HttpOptions {
        let mut o = HttpOptions {
            max_bytes: c.value(["-m", "--max-bytes"]),
            ..HttpOptions::default()
        };
        if mode == Mode::Http {
            o.method = c.value(["-M", "--method"]);
            o.headers = c.values(["-H", "--header"]);
            o.status = c.value(["-S", "--status-code"]);
            o.response_headers = c.values(["-R", "--response-header"]);
            o.md5 = c.value(["-A", "--hash"]);
            o.body = c.value(["-B", "--body"]);
            o.contains = c.value(["-s", "--string"]);
            o.regex = c.value("--regex");
            o.invert_regex = c.flag("--invert-regex");
        }
        o
    }

    /// Check every value; `fields` are HOST, PATH and the GET check's MD5,
    /// from the positional arguments or the ldirectord form's options.
    pub(super) fn into_config(
        self,
        mode: Mode,
        common: Common,
        clean_close: bool,
        fields: HttpFields,
    ) -> Result<HttpConfig, String> {
        let (host, path) = (&fields.host, &fields.path);
        let method = match self.method.as_deref() {
            None => Method::Get,
            Some(m) => Method::parse(m).map_err(|e| format!("invalid --method: {e}"))?,
        };
        if self.headers.len() > http::request::MAX_REQUEST_HEADERS {
            return Err(format!(
                "too many -H headers ({}, at most {})",
                self.headers.len(),
                http::request::MAX_REQUEST_HEADERS
            ));
        }
        let headers = self
            .headers
            .iter()
            .map(|h| {
                http::parse_request_header(h)
                    .map_err(|e| format!("invalid -H '{}': {e}", text::arg(h)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        http::validate_host(host)
            .map_err(|e| format!("invalid HOST '{}': {e}", text::arg(host)))?;
        http::validate_path(path)
            .map_err(|e| format!("invalid PATH '{}': {e}", text::arg(path)))?;
        let request = Request::new(method, host, path, headers)?;
        let request_len = request.to_bytes().len();
        if request_len > crate::net::tcp::MAX_SEND_BYTES {
            return Err(format!(
                "request of {request_len} bytes is too large (at most {})",
                crate::net::tcp::MAX_SEND_BYTES
            ));
        }
        let mut expect = ResponseChecks::default();
        if mode == Mode::HttpGet {
            expect.status = Some(StatusSet::success());
            expect.md5 = fields
                .md5
                .as_deref()
                .map(|m| {
                    BodyMd5::parse(m).map_err(|e| format!("invalid MD5 '{}': {e}", text::arg(m)))
                })
                .transpose()?;
        } else {
            expect.status = self
                .status
                .as_deref()
                .map(|s| {
                    StatusSet::parse(s)
                        .map_err(|e| format!("invalid --status-code '{}': {e}", text::arg(s)))
                })
                .transpose()?;
            if self.response_headers.len() > http::request::MAX_REQUEST_HEADERS {
                return Err(format!(
                    "too many -R headers ({}, at most {})",
                    self.response_headers.len(),
                    http::request::MAX_REQUEST_HEADERS
                ));
            }
            expect.headers = self
                .response_headers
                .iter()
                .map(|h| {
                    HeaderMatch::parse(h).map_err(|e| format!("invalid -R '{}': {e}", text::arg(h)))
                })
                .collect::<Result<_, _>>()?;
            expect.md5 = self
                .md5
                .as_deref()
                .map(|m| {
                    BodyMd5::parse(m).map_err(|e| format!("invalid --hash '{}': {e}", text::arg(m)))
                })
                .transpose()?;
            expect.body = self.body.map(String::into_bytes);
            expect.contains = self.contains;
            expect.regex = self
                .regex
                .as_deref()
                .map(|r| {
                    regex::RegexBuilder::new(r)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            format!(
                                "invalid --regex '{}': {}",
                                text::arg(r),
                                text::flatten(&e.to_string())
                            )
                        })
                })
                .transpose()?;
            expect.invert_regex = self.invert_regex;
            if self.invert_regex && expect.regex.is_none() {
                return Err("--invert-regex needs --regex".into());
            }
            if expect.is_empty() {
                return Err(
                    "nothing to verify: give at least one of -S, -R, -A, -B, --string, --regex"
                        .into(),
                );
            }
        }
        let max_bytes = match self.max_bytes.as_deref() {
            None => http::DEFAULT_MAX_BYTES,
            Some(m) => parse_max_bytes(m)?,
        };
        Ok(HttpConfig {
            common,
            clean_close,
            request,
            expect,
            max_bytes,
            tls: None,
        })
    }
}
