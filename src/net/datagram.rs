//! A datagram exchange over the raw path, beside `conn` for TCP: one UDP
//! request to VIP:PORT through the real server's MAC, sent again with
//! backoff inside the deadline (UDP loss is normal), answered by the first
//! datagram from VIP:PORT to our port that the caller accepts, or ended at
//! once by an ICMP error that quotes our datagram (port unreachable: the
//! server holds the VIP, nothing listens).
//!
//! Nothing of an answer is trusted before it is matched: the frame parser
//! has checked its lengths and checksums, `classify` its addresses and
//! ports, and the caller's `accept` its content (a DNS ID, say).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use super::wire::{
    self, Flow, IcmpError, Link, Parsed, ETHERNET_HEADER, IPPROTO_UDP, QUOTED_TRANSPORT,
};
use super::Wire;
use crate::channel::{Datagram, Peer};
use crate::failure::{Failure, IcmpErrorKind, Step};
use crate::resend::Backoff;
use crate::trace::{Trace, FRAMES};

/// What a received frame is to an exchange on `flow` (ours, outgoing).
#[derive(Debug, PartialEq, Eq)]
pub enum Classified {
    /// A datagram of our flow, from VIP:PORT to us: its payload.
    Reply(Vec<u8>),
    /// An ICMP error about a datagram of our flow.
    Icmp { kind: IcmpErrorKind, from: IpAddr },
    /// Not for this exchange; why, for `-vvv`.
    Other(&'static str),
}

/// What we sent, to match answers against: our outgoing flow, our MAC,
/// and the UDP header of the datagram as it left (an ICMP error quotes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub flow: Flow,
    pub our_mac: MacAddr,
    pub udp_head: [u8; QUOTED_TRANSPORT],
}

impl Sent {
    /// The match data of `frame`, a UDP frame built by `wire::udp_frame`
    /// for `flow` (no IP options, no extension headers).
    fn of(frame: &[u8], flow: Flow, our_mac: MacAddr) -> Sent {
        let ip_header = if flow.src_ip.is_ipv6() { 40 } else { 20 };
        let at = ETHERNET_HEADER + ip_header;
        let mut udp_head = [0u8; QUOTED_TRANSPORT];
        if let Some(head) = frame.get(at..at + QUOTED_TRANSPORT) {
            udp_head.copy_from_slice(head);
        }
        Sent {
            flow,
            our_mac,
            udp_head,
        }
    }
}

/// Whether the ICMP error `e` is about a packet we sent on `flow` (ours,
/// outgoing) from `our_mac`: addressed to us (MAC and IP), quoting a
/// `protocol` packet of that flow whose first transport bytes `head`
/// accepts (what only the sender knows: a UDP checksum, a TCP sequence
/// number), so a host that never saw the packet cannot end the exchange by
/// guessing our port. Both raw carriers match with it: UDP here, TCP in
/// `conn`. Ok: the error's kind and sender; Err: why not, for `-vvv`.
pub fn icmp_about(
    e: &IcmpError,
    (flow, our_mac): (Flow, MacAddr),
    protocol: u8,
    head: impl Fn(&[u8; QUOTED_TRANSPORT]) -> bool,
) -> Result<(IcmpErrorKind, IpAddr), &'static str> {
    if e.link.dst != our_mac || e.to != flow.src_ip {
        return Err("an ICMP error not for us");
    }
    if e.quoted.protocol == protocol && e.quoted.flow == flow && head(&e.quoted.head) {
        Ok((e.kind, e.from))
    } else {
        Err("an ICMP error about another packet")
    }
}

/// Match `parsed` against what we sent. An ICMP error counts only when it
/// is about our datagram and quotes its UDP header exactly (its checksum
/// covers the request).
pub fn classify(parsed: Parsed, sent: &Sent) -> Classified {
    match parsed {
        Parsed::Udp(f) if f.link.dst != sent.our_mac => Classified::Other("not to our MAC"),
        Parsed::Udp(f) if f.flow == sent.flow.reversed() => Classified::Reply(f.payload),
        Parsed::Udp(_) => Classified::Other("not our flow"),
        Parsed::IcmpError(e) => {
            let ours = (sent.flow, sent.our_mac);
            match icmp_about(&e, ours, IPPROTO_UDP, |head| *head == sent.udp_head) {
                Ok((kind, from)) => Classified::Icmp { kind, from },
                Err(why) => Classified::Other(why),
            }
        }
        _ => Classified::Other("not a datagram"),
    }
}

/// UDP from our reserved port to VIP:PORT over the raw path.
pub struct UdpFlow<'w, 'a> {
    wire: &'w mut Wire<'a>,
    link: Link,
    flow: Flow,
    ip_id: u16,
    peer: Peer,
}

impl<'w, 'a> UdpFlow<'w, 'a> {
    pub fn new(wire: &'w mut Wire<'a>, link: Link, flow: Flow, ip_id: u16, peer: Peer) -> Self {
        UdpFlow {
            wire,
            link,
            flow,
            ip_id,
            peer,
        }
    }
}

impl Datagram for UdpFlow<'_, '_> {
    fn exchange(
        &mut self,
        request: &[u8],
        accept: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(Vec<u8>, Duration), Failure> {
        let bytes = wire::udp_frame(self.link, self.flow, self.ip_id, request);
        self.ip_id = self.ip_id.wrapping_add(1);
        let sent = Sent::of(&bytes, self.flow, self.link.src);
        let (flow, len) = (self.flow, request.len());
        let what = move || {
            format!(
                "UDP {}:{} > {}:{}, {len} bytes",
                flow.src_ip, flow.src_port, flow.dst_ip, flow.dst_port
            )
        };
        let started = Instant::now();
        let answer = self
            .wire
            .ask(&bytes, what, Backoff::REQUESTS, |trace, parsed| {
                // Formatted only when -vvv will show it.
                let shown = if trace.enabled(FRAMES) {
                    parsed.to_string()
                } else {
                    String::new()
                };
                match classify(parsed, &sent) {
                    Classified::Reply(payload) => match accept(&payload) {
                        Ok(()) => {
                            trace.frame(|| format!("< {shown}"));
                            Some(Ok(payload))
                        }
                        Err(why) => {
                            trace.frame(|| format!("< {shown} (ignored: {why})"));
                            None
                        }
                    },
                    Classified::Icmp { kind, from } => {
                        trace.frame(|| format!("< {shown}"));
                        Some(Err(Failure::Icmp { kind, from }))
                    }
                    Classified::Other(why) => {
                        trace.frame(|| format!("< {shown} (ignored: {why})"));
                        None
                    }
                }
            })?;
        match answer {
            Some(Ok(payload)) => Ok((payload, started.elapsed())),
            Some(Err(failure)) => Err(failure),
            None => Err(Failure::Timeout(Step::Reply)),
        }
    }

    fn peer(&self) -> &Peer {
        &self.peer
    }

    fn trace(&mut self) -> &mut Trace {
        self.wire.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
    const RS: MacAddr = MacAddr(2, 0, 0, 0, 0, 0x11);

    fn ours() -> Flow {
        Flow {
            src_ip: "198.51.100.1".parse().unwrap(),
            dst_ip: "203.0.113.10".parse().unwrap(),
            src_port: 40000,
            dst_port: 53,
        }
    }

    fn parse(frame: &[u8]) -> Parsed {
        wire::parse(frame, false).unwrap()
    }

    /// What we sent for `flow`: the request "query".
    fn sent(flow: Flow) -> Sent {
        let link = Link { src: US, dst: RS };
        Sent::of(&wire::udp_frame(link, flow, 1, b"query"), flow, US)
    }

    fn reply_frame(flow: Flow, dst_mac: MacAddr) -> Vec<u8> {
        let link = Link {
            src: RS,
            dst: dst_mac,
        };
        wire::udp_frame(link, flow, 7, b"answer")
    }

    #[test]
    fn a_reply_of_our_flow_is_taken() {
        let got = classify(parse(&reply_frame(ours().reversed(), US)), &sent(ours()));
        assert_eq!(got, Classified::Reply(b"answer".to_vec()));
    }

    #[test]
    fn replies_from_elsewhere_are_not() {
        let mut wrong_port = ours().reversed();
        wrong_port.src_port = 54;
        let mut wrong_addr = ours().reversed();
        wrong_addr.src_ip = "198.51.100.11".parse().unwrap();
        let mut to_other_port = ours().reversed();
        to_other_port.dst_port = 40001;
        for flow in [wrong_port, wrong_addr, to_other_port, ours()] {
            let got = classify(parse(&reply_frame(flow, US)), &sent(ours()));
            assert!(matches!(got, Classified::Other(_)), "{flow:?}: {got:?}");
        }
        let other_mac = MacAddr(2, 0, 0, 0, 0, 9);
        let got = classify(
            parse(&reply_frame(ours().reversed(), other_mac)),
            &sent(ours()),
        );
        assert_eq!(got, Classified::Other("not to our MAC"));
    }

    /// The IP packet we sent, as an ICMP error quotes it.
    fn sent_packet(flow: Flow) -> Vec<u8> {
        let link = Link { src: US, dst: RS };
        wire::udp_frame(link, flow, 1, b"query")[wire::ETHERNET_HEADER..].to_vec()
    }

    #[test]
    fn an_icmp_error_quoting_our_datagram_ends_the_exchange() {
        let link = Link { src: RS, dst: US };
        let vip: IpAddr = "203.0.113.10".parse().unwrap();
        let error = wire::icmp_error_frame(
            link,
            vip,
            ours().src_ip,
            IcmpErrorKind::PortUnreachable,
            &sent_packet(ours()),
        );
        assert_eq!(
            classify(parse(&error), &sent(ours())),
            Classified::Icmp {
                kind: IcmpErrorKind::PortUnreachable,
                from: vip
            }
        );
        // About another datagram of ours (another port): not this exchange's.
        let mut other = ours();
        other.src_port = 40001;
        let error = wire::icmp_error_frame(
            link,
            vip,
            ours().src_ip,
            IcmpErrorKind::PortUnreachable,
            &sent_packet(other),
        );
        assert!(matches!(
            classify(parse(&error), &sent(ours())),
            Classified::Other(_)
        ));
        // A forged error: our flow, but not the datagram we sent (another
        // payload, so another checksum), or not addressed to us.
        let forged = {
            let link = Link { src: US, dst: RS };
            wire::udp_frame(link, ours(), 1, b"guess")[wire::ETHERNET_HEADER..].to_vec()
        };
        let error = wire::icmp_error_frame(
            link,
            vip,
            ours().src_ip,
            IcmpErrorKind::PortUnreachable,
            &forged,
        );
        assert!(matches!(
            classify(parse(&error), &sent(ours())),
            Classified::Other(_)
        ));
        let to_someone_else = wire::icmp_error_frame(
            link,
            vip,
            "198.51.100.2".parse().unwrap(),
            IcmpErrorKind::PortUnreachable,
            &sent_packet(ours()),
        );
        assert_eq!(
            classify(parse(&to_someone_else), &sent(ours())),
            Classified::Other("an ICMP error not for us")
        );
    }

    #[test]
    fn ipv6_replies_and_errors_match_too() {
        let flow = Flow {
            src_ip: "2001:db8::1".parse().unwrap(),
            dst_ip: "2001:db8:1::10".parse().unwrap(),
            src_port: 40000,
            dst_port: 53,
        };
        let got = classify(parse(&reply_frame(flow.reversed(), US)), &sent(flow));
        assert_eq!(got, Classified::Reply(b"answer".to_vec()));
        let error = wire::icmp_error_frame(
            Link { src: RS, dst: US },
            flow.dst_ip,
            flow.src_ip,
            IcmpErrorKind::PortUnreachable,
            &sent_packet(flow),
        );
        assert!(matches!(
            classify(parse(&error), &sent(flow)),
            Classified::Icmp {
                kind: IcmpErrorKind::PortUnreachable,
                ..
            }
        ));
    }
}
