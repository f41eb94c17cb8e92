//! TLS over any [`Transport`] (`--ssl`): openssl runs its handshake and
//! records over the raw TCP client (MASTER) or the kernel stream (BACKUP)
//! through [`Io`], so it never sees a socket and never blocks past `-t`.
//!
//! [`TlsStream`] is itself a `Transport`, so the HTTP probe's one read loop
//! runs unchanged inside TLS. Its `connect` is the TCP connect and then the
//! handshake; a transport failure during it (timeout, RST, signal) keeps
//! its `Failure` and `Step::TlsHandshake`, everything else becomes one
//! `Failure::Tls` line (`cert::handshake_reason`). `finish(clean)` sends
//! close_notify before the inner FIN handshake; by default the inner RST
//! follows the response at once.
//!
//! What a check sends is bounded twice, the same on every carrier: the
//! request's own bytes by [`MAX_SEND_BYTES`], as the CLI checks them, and
//! TLS's own records (handshake, record headers and tags, close_notify)
//! by [`MAX_FRAMING_BYTES`]; the raw client's send buffer holds both.
//!
//! The system trust store is loaded only for `--verify` without
//! `--ca-file`: it costs milliseconds and memory that an unverified check
//! (the default) should not pay.

pub mod cert;
mod session;

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use openssl::ssl::{
    ErrorCode, ShutdownState, Ssl, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509VerifyResult, X509};

use crate::channel::{Ending, Io, Peer, Transport, READ_CHUNK};
use crate::failure::{Failure, Step};
use crate::net::tcp::{MAX_FRAMING_BYTES, MAX_SEND_BYTES};
use crate::trace::Trace;
use cert::{Failed, Fingerprint};
use session::{describe, trace_session};
pub use session::{Leaf, Session};

/// First bytes from the server kept to recognise a plain-text answer.
const HEAD_KEPT: usize = 64;

/// A protocol version `--ssl` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

impl TlsVersion {
    fn ssl(self) -> SslVersion {
        match self {
            TlsVersion::V1_2 => SslVersion::TLS1_2,
            TlsVersion::V1_3 => SslVersion::TLS1_3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::V1_2 => "TLSv1.2",
            TlsVersion::V1_3 => "TLSv1.3",
        }
    }
}

/// The versions offered: `min` and, unless "or newer", only it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub min: TlsVersion,
    pub or_newer: bool,
}

impl Versions {
    /// "TLSv1.3 only", "TLSv1.2 or newer".
    pub fn offered(self) -> String {
        if self.or_newer && self.min != TlsVersion::V1_3 {
            format!("{} or newer", self.min.name())
        } else {
            format!("{} only", self.min.name())
        }
    }
}

/// Which certificates `--verify` trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system store (openssl's default paths).
    System,
    /// `--ca-file`: its PEM, read (and checked) when the options were.
    CaFile { path: PathBuf, pem: Vec<u8> },
}

/// Everything `--ssl` and its options ask for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub versions: Versions,
    /// The name SNI carries and `--verify` checks the certificate against.
    pub server_name: String,
    /// Send SNI: not with `--no-sni`, nor for an address (RFC 6066).
    pub sni: bool,
    /// `--verify` / `--ca-file`; None: the certificate is not verified.
    pub verify: Option<Trust>,
    pub fingerprint: Option<Fingerprint>,
    pub days: Option<cert::Days>,
    /// The handshake may not take more bytes than this (`--max-bytes`).
    pub max_bytes: usize,
}

/// What openssl reads and writes: the transport through [`Io`], with the
/// facts a failed handshake is explained by (first bytes, EOF) and the
/// handshake's byte budget.
struct TlsIo<'t> {
    io: Io<'t>,
    received: usize,
    /// While Some: the handshake may read at most this many bytes.
    budget: Option<usize>,
    over_budget: bool,
    head: Vec<u8>,
    eof: bool,
    /// Bytes given to the transport, and of them the request's own: the
    /// rest is TLS's, held to [`MAX_FRAMING_BYTES`].
    written: usize,
    request: usize,
    over_framing: bool,
    /// Read from the transport, not yet by openssl, from `at` on.
    pending: Vec<u8>,
    at: usize,
}

impl Read for TlsIo<'_> {
    /// openssl asks for a record header (5 bytes), then its body: serve
    /// that from what the transport gave in one read, so a plain-text
    /// answer is seen whole and the transport is asked once per segment.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.pending.len() {
            self.pending.resize(READ_CHUNK, 0);
            let n = match self.io.read(&mut self.pending) {
                Ok(n) => n,
                Err(e) => {
                    self.pending.clear();
                    return Err(e);
                }
            };
            self.pending.truncate(n);
            self.at = 0;
            if n == 0 {
                self.eof = true;
                return Ok(0);
            }
            let keep = (HEAD_KEPT - self.head.len()).min(n);
            self.head.extend_from_slice(&self.pending[..keep]);
            self.received = self.received.saturating_add(n);
            if self.budget.is_some_and(|budget| self.received > budget) {
                self.over_budget = true;
                return Err(io::Error::other("handshake larger than --max-bytes"));
            }
        }
        let n = (self.pending.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl TlsIo<'_> {
    /// True when what the transport gave and openssl has not read yet is
    /// whole TLS records (so reading them cannot wait on the network).
    fn whole_records_pending(&self) -> bool {
        let mut rest = &self.pending[self.at..];
        if rest.is_empty() {
            return false;
        }
        // Each round removes one record header at least.
        while rest.len() >= 5 {
            let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if rest.len() < 5 + len {
                return false;
            }
            rest = &rest[5 + len..];
        }
        rest.is_empty()
    }
}

impl Write for TlsIo<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let written = self.written.saturating_add(data.len());
        if written > self.request.saturating_add(MAX_FRAMING_BYTES) {
            self.over_framing = true;
            return Err(io::Error::other("TLS records over their bound"));
        }
        let n = self.io.write(data)?;
        self.written = self.written.saturating_add(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }
}

enum TlsState<'t> {
    /// Before connect: the transport TLS will run over.
    Idle(&'t mut dyn Transport),
    Tls(Box<SslStream<TlsIo<'t>>>),
    /// openssl could not even wrap the transport (out of memory): the
    /// transport's owner still ends it on drop.
    Lost,
}

/// TLS over a [`Transport`], itself a `Transport` (see the module doc).
pub struct TlsStream<'t> {
    link: TlsState<'t>,
    config: &'t TlsConfig,
    peer: Peer,
    session: Option<Session>,
    /// Application data came from the server (it will close first).
    answered: bool,
    /// Only used once the transport is `Lost`.
    spare: Trace,
}

impl<'t> TlsStream<'t> {
    pub fn new(inner: &'t mut dyn Transport, config: &'t TlsConfig) -> TlsStream<'t> {
        TlsStream {
            peer: inner.peer().clone(),
            link: TlsState::Idle(inner),
            config,
            session: None,
            answered: false,
            spare: Trace::new(0),
        }
    }

    /// What the handshake agreed on, once it has.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    fn context(&self) -> Result<SslContext, Failure> {
        let local = |e: openssl::error::ErrorStack| {
            Failure::Local(format!("cannot set up TLS: {}", flat(&e.to_string())))
        };
        let c = self.config;
        let mut ctx = SslContext::builder(SslMethod::tls_client()).map_err(local)?;
        ctx.set_min_proto_version(Some(c.versions.min.ssl()))
            .map_err(local)?;
        if !c.versions.or_newer {
            ctx.set_max_proto_version(Some(c.versions.min.ssl()))
                .map_err(local)?;
        }
        // A close-delimited body ends with the server's FIN; without this
        // OpenSSL 3 calls a FIN without close_notify an error.
        ctx.set_options(SslOptions::IGNORE_UNEXPECTED_EOF | SslOptions::NO_COMPRESSION);
        match &c.verify {
            None => ctx.set_verify(SslVerifyMode::NONE),
            Some(trust) => {
                ctx.set_verify(SslVerifyMode::PEER);
                match trust {
                    Trust::System => ctx.set_default_verify_paths().map_err(local)?,
                    Trust::CaFile { pem, .. } => {
                        for ca in X509::stack_from_pem(pem).map_err(local)? {
                            ctx.cert_store_mut().add_cert(ca).map_err(local)?;
                        }
                    }
                }
            }
        }
        Ok(ctx.build())
    }

    fn ssl(&self, ctx: &SslContext) -> Result<Ssl, Failure> {
        let local = |e: openssl::error::ErrorStack| {
            Failure::Local(format!("cannot set up TLS: {}", flat(&e.to_string())))
        };
        let c = self.config;
        let mut ssl = Ssl::new(ctx).map_err(local)?;
        if c.sni {
            ssl.set_hostname(&c.server_name).map_err(local)?;
        }
        if c.verify.is_some() {
            let param = ssl.param_mut();
            match c.server_name.parse::<IpAddr>() {
                Ok(ip) => param.set_ip(ip).map_err(local)?,
                Err(_) => param.set_host(&c.server_name).map_err(local)?,
            }
        }
        Ok(ssl)
    }

    /// The handshake over the connected `inner`.
    fn handshake(&mut self, inner: &'t mut dyn Transport) -> Result<(), Failure> {
        let ssl = match self.context().and_then(|ctx| self.ssl(&ctx)) {
            Ok(ssl) => ssl,
            Err(failure) => {
                self.link = TlsState::Idle(inner);
                return Err(failure);
            }
        };
        let wire = TlsIo {
            io: Io::new(inner, Step::TlsHandshake),
            received: 0,
            budget: Some(self.config.max_bytes),
            over_budget: false,
            head: Vec::new(),
            eof: false,
            written: 0,
            request: 0,
            over_framing: false,
            pending: Vec::new(),
            at: 0,
        };
        let mut stream = match SslStream::new(ssl, wire) {
            Ok(stream) => Box::new(stream),
            Err(e) => {
                return Err(Failure::Local(format!(
                    "cannot set up TLS: {}",
                    flat(&e.to_string())
                )))
            }
        };
        let result = stream.connect();
        self.link = TlsState::Tls(stream);
        let TlsState::Tls(stream) = &mut self.link else {
            unreachable!("set just above")
        };
        if let Err(e) = result {
            let failure = handshake_failure(stream, &e, self.config);
            // The inner RST at once: nothing more is going to be said.
            let _ = stream.get_mut().io.transport().finish(false);
            return Err(failure);
        }
        stream.get_mut().budget = None;
        Ok(())
    }

    /// `--fingerprint`: a mismatch ends the check before any request.
    fn check_fingerprint(&self, session: &Session) -> Result<(), Failure> {
        let Some(want) = self.config.fingerprint else {
            return Ok(());
        };
        match &session.leaf {
            Some(leaf) if leaf.fingerprint == want => Ok(()),
            Some(leaf) => Err(Failure::Tls(format!(
                "certificate '{}' has the SHA-256 fingerprint {}, not {want}",
                leaf.name, leaf.fingerprint
            ))),
            None => Err(Failure::Tls(
                "the server sent no certificate to compare the fingerprint with".into(),
            )),
        }
    }

    fn stream(&mut self) -> Result<&mut SslStream<TlsIo<'t>>, Failure> {
        match &mut self.link {
            TlsState::Tls(stream) => Ok(stream),
            _ => Err(Failure::Local("the TLS connection is not open".into())),
        }
    }

    /// A failure of a TLS read or write after the handshake.
    fn after_handshake(&mut self, e: openssl::ssl::Error, step: Step) -> Failure {
        match self.stream() {
            Ok(stream) => match stream.get_mut().io.take_failure() {
                Some(failure) => failure,
                None => Failure::Tls(format!("while waiting for the {step}: {}", error_text(&e))),
            },
            Err(failure) => failure,
        }
    }
}

impl Transport for TlsStream<'_> {
    /// The TCP connect, then the handshake; Ok: the time both took.
    fn connect(&mut self) -> Result<Duration, Failure> {
        let TlsState::Idle(inner) = std::mem::replace(&mut self.link, TlsState::Lost) else {
            return Err(Failure::Local("TLS connect called twice".into()));
        };
        let start = Instant::now();
        let tcp = match inner.connect() {
            Ok(rtt) => rtt,
            Err(failure) => {
                self.link = TlsState::Idle(inner);
                return Err(failure);
            }
        };
        let shaken = Instant::now();
        self.handshake(inner)?;
        let handshake = shaken.elapsed();
        let stream = self.stream()?;
        let session = describe(stream.ssl(), tcp, handshake);
        trace_session(stream.get_mut().io.transport().trace(), &session);
        if let Err(failure) = self.check_fingerprint(&session) {
            let _ = self.stream()?.get_mut().io.transport().finish(false);
            return Err(failure);
        }
        self.session = Some(session);
        Ok(start.elapsed())
    }

    fn write_all(&mut self, data: &[u8]) -> Result<(), Failure> {
        let stream = self.stream()?;
        let wire = stream.get_mut();
        let request = wire.request.saturating_add(data.len());
        if request > MAX_SEND_BYTES {
            return Err(Failure::Local(format!(
                "a request of {request} bytes is too large (at most {MAX_SEND_BYTES})"
            )));
        }
        wire.request = request;
        wire.io.step = Step::ResponseStart;
        match stream.write_all(data) {
            Ok(()) => Ok(()),
            Err(e) => Err(match stream.get_mut().io.take_failure() {
                Some(failure) => failure,
                None if stream.get_ref().over_framing => Failure::Local(format!(
                    "TLS's own records came to more than {MAX_FRAMING_BYTES} bytes"
                )),
                None => Failure::Tls(format!("cannot send: {}", flat(&e.to_string()))),
            }),
        }
    }

    fn read(&mut self, buf: &mut [u8], step: Step) -> Result<usize, Failure> {
        let stream = self.stream()?;
        stream.get_mut().io.step = step;
        match stream.ssl_read(buf) {
            Ok(n) => {
                self.answered = true;
                Ok(n)
            }
            // close_notify, or (IGNORE_UNEXPECTED_EOF) a bare FIN.
            Err(e) if e.code() == ErrorCode::ZERO_RETURN => Ok(0),
            Err(e) => Err(self.after_handshake(e, step)),
        }
    }

    /// RST at once by default. With `clean`: a server that has answered
    /// (HTTP, `Connection: close`) closes first, with its close_notify and
    /// its FIN, so wait for that (within the close budget) and send ours
    /// only if it did not come, since a record sent to a socket the server
    /// has closed draws an RST. A server that has said nothing (the TCP
    /// check) waits for us: close_notify first. Then the inner FIN
    /// handshake.
    fn finish(&mut self, clean: bool) -> Result<Ending, Failure> {
        let answered = self.answered;
        match &mut self.link {
            TlsState::Idle(inner) => inner.finish(clean),
            TlsState::Tls(stream) => {
                if clean {
                    stream.get_mut().io.step = Step::Close;
                    stream.get_mut().io.transport().bound_close();
                    let mut sink = [0u8; 4096];
                    // Each read takes a record or ends: bounded by the
                    // close budget, and in count here.
                    for _ in 0..1024 {
                        if !answered && !stream.get_ref().whole_records_pending() {
                            break;
                        }
                        if stream.ssl_read(&mut sink).is_err() {
                            break;
                        }
                        if stream.get_shutdown().contains(ShutdownState::RECEIVED)
                            || stream.get_ref().eof
                        {
                            break;
                        }
                    }
                    if !stream.get_shutdown().contains(ShutdownState::RECEIVED)
                        && !stream.get_ref().eof
                    {
                        // Best effort: the answer is in; a failed send
                        // shows in the inner close that follows.
                        let _ = stream.shutdown();
                    }
                    // A timeout waiting for the server's close is the
                    // inner close's to report, as NoFinInTime.
                    let _ = stream.get_mut().io.take_failure();
                }
                stream.get_mut().io.transport().finish(clean)
            }
            TlsState::Lost => Ok(Ending::Reset),
        }
    }

    fn peer(&self) -> &Peer {
        &self.peer
    }

    fn trace(&mut self) -> &mut Trace {
        match &mut self.link {
            TlsState::Idle(inner) => inner.trace(),
            TlsState::Tls(stream) => stream.get_mut().io.transport().trace(),
            TlsState::Lost => &mut self.spare,
        }
    }

    fn retransmissions(&self) -> u32 {
        match &self.link {
            TlsState::Idle(inner) => inner.retransmissions(),
            TlsState::Tls(stream) => stream.get_ref().io.get_ref().retransmissions(),
            TlsState::Lost => 0,
        }
    }
}

/// The one failure a failed handshake is reported as.
fn handshake_failure(
    stream: &mut SslStream<TlsIo<'_>>,
    e: &openssl::ssl::Error,
    config: &TlsConfig,
) -> Failure {
    let verify = stream.ssl().verify_result();
    let wire = stream.get_mut();
    if let Some(failure) = wire.io.take_failure() {
        return failure;
    }
    if wire.over_budget {
        return Failure::Tls(format!(
            "the handshake took more than {} bytes (--max-bytes)",
            config.max_bytes
        ));
    }
    let reasons = e
        .ssl_error()
        .map(|stack| {
            stack
                .errors()
                .iter()
                .filter_map(|err| err.reason().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let offered = config.versions.offered();
    let failed = Failed {
        head: &wire.head,
        eof: wire.eof,
        reasons,
        verify: (config.verify.is_some() && verify != X509VerifyResult::OK)
            .then(|| verify.error_string().to_string()),
        name: &config.server_name,
        offered: &offered,
    };
    Failure::Tls(cert::handshake_reason(&failed))
}

fn error_text(e: &openssl::ssl::Error) -> String {
    flat(&e.to_string())
}

fn flat(text: &str) -> String {
    crate::text::flatten(text)
}

#[cfg(test)]
mod tests;
