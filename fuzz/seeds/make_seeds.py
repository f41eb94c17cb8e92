#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/):
valid frames of every kind we parse, HTTP responses of every framing, and
argument vectors from the tests. Run from fuzz/: python3 seeds/make_seeds.py"""
import ipaddress, os, struct

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

LB_MAC, RS_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000011")
LB4, VIP4 = ipaddress.ip_address("198.51.100.1").packed, ipaddress.ip_address("203.0.113.10").packed
RS4 = ipaddress.ip_address("198.51.100.11").packed
LB6, VIP6 = ipaddress.ip_address("2001:db8::1").packed, ipaddress.ip_address("2001:db8:1::10").packed
RS6 = ipaddress.ip_address("2001:db8::11").packed

def tcp(src, dst, proto_pseudo, flags, payload=b"", mss=None):
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    hdr = struct.pack("!HHIIBBHHH", 80, 40000, 1000, 2000, (5 + len(opts) // 4) << 4, flags, 64240, 0, 0) + opts
    seg = hdr + payload
    c = csum(proto_pseudo(len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]

def v4(flags, payload=b"", mss=None):
    seg = tcp(VIP4, LB4, lambda n: VIP4 + LB4 + struct.pack("!BBH", 0, 6, n), flags, payload, mss)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 1, 0x4000, 64, 6, 0, VIP4, LB4)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return LB_MAC + RS_MAC + b"\x08\x00" + ip + seg

def v6(flags, payload=b"", mss=None):
    seg = tcp(VIP6, LB6, lambda n: VIP6 + LB6 + struct.pack("!I3xB", n, 6), flags, payload, mss)
    ip = struct.pack("!IHBB", 6 << 28, len(seg), 6, 64) + VIP6 + LB6
    return LB_MAC + RS_MAC + b"\x86\xdd" + ip + seg

def arp_reply():
    return LB_MAC + RS_MAC + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + RS_MAC + RS4 + LB_MAC + LB4 + b"\0" * 18

def neighbor_advert():
    icmp = struct.pack("!BBHI", 136, 0, 0, 0x60000000) + RS6 + bytes([2, 1]) + RS_MAC
    c = csum(RS6 + LB6 + struct.pack("!I3xB", len(icmp), 58) + icmp)
    icmp = icmp[:2] + struct.pack("!H", c) + icmp[4:]
    ip = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + RS6 + LB6
    return LB_MAC + RS_MAC + b"\x86\xdd" + ip + icmp

def ip4(proto, src, dst, body):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0x4000, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + body

def ip6(nh, src, dst, body, hop=64):
    return struct.pack("!IHBB", 6 << 28, len(body), nh, hop) + src + dst + body

def pseudo6(src, dst, nh, n):
    return src + dst + struct.pack("!I3xB", n, nh)

def udp(src, dst, sport, dport, payload, v6):
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    pseudo = pseudo6(src, dst, 17, 8 + len(payload)) if v6 else src + dst + struct.pack("!BBH", 0, 17, 8 + len(payload))
    c = csum(pseudo + hdr + payload) or 0xffff
    return hdr[:6] + struct.pack("!H", c) + payload

def udp_v4(payload=b"answer"):
    return LB_MAC + RS_MAC + b"\x08\x00" + ip4(17, VIP4, LB4, udp(VIP4, LB4, 53, 40000, payload, False))

def udp_v6(payload=b"answer"):
    return LB_MAC + RS_MAC + b"\x86\xdd" + ip6(17, VIP6, LB6, udp(VIP6, LB6, 53, 40000, payload, True))

def icmp4(t, code, rest, body):
    msg = struct.pack("!BBH", t, code, 0) + rest + body
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]

def icmp6(src, dst, t, code, rest, body):
    msg = struct.pack("!BBH", t, code, 0) + rest + body
    c = csum(pseudo6(src, dst, 58, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]

def echo_v4(t=0):
    return LB_MAC + RS_MAC + b"\x08\x00" + ip4(1, RS4, LB4, icmp4(t, 0, struct.pack("!HH", 0xbeef, 1), b"check_raw ping"))

def echo_v6(t=129):
    return LB_MAC + RS_MAC + b"\x86\xdd" + ip6(58, RS6, LB6, icmp6(RS6, LB6, t, 0, struct.pack("!HH", 0xbeef, 1), b"check_raw ping"))

ROUTER4 = ipaddress.ip_address("198.51.100.254").packed
ROUTER6 = ipaddress.ip_address("2001:db8::fe").packed

def error_v4(t, code, rest, quoted_proto=17):
    if quoted_proto == 17:
        quoted = ip4(17, LB4, VIP4, udp(LB4, VIP4, 40000, 53, b"query", False))
    else:
        quoted = ip4(6, LB4, VIP4, tcp(LB4, VIP4, lambda n: LB4 + VIP4 + struct.pack("!BBH", 0, 6, n), 0x02, mss=1460))
    return LB_MAC + RS_MAC + b"\x08\x00" + ip4(1, ROUTER4, LB4, icmp4(t, code, rest, quoted[:28]))

def error_v6(t, code, rest):
    quoted = ip6(17, LB6, VIP6, udp(LB6, VIP6, 40000, 53, b"query", True))
    return LB_MAC + RS_MAC + b"\x86\xdd" + ip6(58, ROUTER6, LB6, icmp6(ROUTER6, LB6, t, code, rest, quoted))

def write(target, name, data):
    with open(os.path.join("seeds", target, name), "wb") as f:
        f.write(data)

SYN_ACK, ACK, PSH_ACK, RST_ACK, FIN_ACK = 0x12, 0x10, 0x18, 0x14, 0x11
write("frame_parse", "syn_ack_v4", b"\0" + v4(SYN_ACK, mss=1460))
write("frame_parse", "rst_v4", b"\0" + v4(RST_ACK))
write("frame_parse", "data_v4", b"\0" + v4(PSH_ACK, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
write("frame_parse", "syn_ack_v6", b"\0" + v6(SYN_ACK, mss=1440))
write("frame_parse", "fin_v6", b"\1" + v6(FIN_ACK))
write("frame_parse", "arp_reply", b"\0" + arp_reply())
write("frame_parse", "neighbor_advert", b"\0" + neighbor_advert())
write("frame_parse", "udp_v4", b"\0" + udp_v4())
write("frame_parse", "udp_v6", b"\0" + udp_v6())
write("frame_parse", "udp_v4_empty", b"\1" + udp_v4(b""))
write("frame_parse", "echo_reply_v4", b"\0" + echo_v4())
write("frame_parse", "echo_request_v4", b"\0" + echo_v4(8))
write("frame_parse", "echo_reply_v6", b"\0" + echo_v6())
write("frame_parse", "port_unreachable_v4", b"\0" + error_v4(3, 3, b"\0" * 4))
write("frame_parse", "frag_needed_v4", b"\0" + error_v4(3, 4, struct.pack("!HH", 0, 1400), 6))
write("frame_parse", "time_exceeded_v4", b"\0" + error_v4(11, 0, b"\0" * 4, 6))
write("frame_parse", "port_unreachable_v6", b"\0" + error_v6(1, 4, b"\0" * 4))
write("frame_parse", "packet_too_big_v6", b"\0" + error_v6(2, 0, struct.pack("!I", 1280)))

# tcp_machine: 8-byte records (op, flags, seq offset, ack offset, window, len)
def rec(op, flags=0, seq=0, ack=0, win=65535, n=0):
    return struct.pack("!BBHBHB", op, flags, seq, ack, win, n)
ISN_PLUS_1 = 0x01
write("tcp_machine", "handshake_close", rec(4, 0x12, 0xffff, 1) + rec(0) + rec(4, 0x11, 0, 2) + rec(3))
write("tcp_machine", "request_response", rec(4, 0x12, 0xffff, 1) + rec(1, 0x47, 0x4554, 0x20, 0x2f20, 0x48)
      + rec(4, 0x18, 0, 9, 65535, 4) + rec(4, 0x18, 32, 9, 65535, 4) + rec(3) + rec(4, 0x11, 64, 9))
write("tcp_machine", "reset", rec(4, 0x14, 0, 1))
write("tcp_machine", "retransmit", rec(0x40) + rec(0x80) + rec(4, 0x12, 0xffff, 1) + rec(0x22))

responses = {
    "content_length": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
    "lf_only": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
    "close_delimited": b"HTTP/1.0 200 OK\r\n\r\nbody until close",
    "continue_then_ok": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    "not_found": b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
}
for name, body in responses.items():
    write("http_response", name, b"\x06" + body)

args = {
    "tcp": ["eth0", "198.51.100.11", "203.0.113.10", "80"],
    "tcp_opts": ["-cv", "-t500", "-r", "auto", "eth0", "198.51.100.11", "203.0.113.10", "80"],
    "tcp_v6": ["-6", "--source", "2001:db8::1", "eth0", "2001:db8::11", "2001:db8:1::10", "443"],
    "http": ["-S", "200-299,301", "-R", "Content-Length: 3", "-H", "X-A: b", "--regex", "^ok", "--invert-regex",
             "eth0", "198.51.100.11", "203.0.113.10", "80", "www", "/health"],
    "vip": ["--segment", "--port", "80", "--arp-leak", "critical", "-r", "auto",
            "eth0", "198.51.100.11", "203.0.113.10"],
}
for name, argv in args.items():
    which = {"http": 3, "vip": 4}.get(name, 1)
    write("cli_args", name, bytes([which]) + b"\0".join(a.encode() for a in argv))

requests = {
    "scrape": b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:10117\r\nAccept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
    "probe": b"GET /probe?module=http_vip&target=198.51.100.11&debug=true HTTP/1.1\r\nHost: x\r\n\r\n",
    "probe_v6": b"GET /probe?target=2001%3Adb8%3A%3A11&module=dns+vip HTTP/1.0\r\n\r\n",
    "head": b"HEAD / HTTP/1.0\n\n",
    "status_json": b"GET /status.json HTTP/1.1\r\n\r\n",
    "post": b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
    "bad_percent": b"GET /probe?module=%zz&target=%4 HTTP/1.1\r\n\r\n",
    # What Prometheus 2.x and 3.x send (scrape_configs, then the blackbox
    # style relabeling to /probe), what a browser and curl send, and what
    # the listener must refuse: seen by the fuzzer as they arrive, in
    # pieces of (first byte + 1) bytes.
    "scrape_prom3": b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:10117\r\nUser-Agent: Prometheus/3.1.0\r\nAccept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
    "scrape_text": b"GET /metrics HTTP/1.1\r\nHost: lb1:10117\r\nUser-Agent: Prometheus/2.45.0\r\nAccept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 9.5\r\n\r\n",
    "probe_relabel": b"GET /probe?module=http_vip&target=198.51.100.11%3A80 HTTP/1.1\r\nHost: 127.0.0.1:10117\r\nUser-Agent: Prometheus/2.53.0\r\nAccept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 4.500\r\n\r\n",
    "probe_v6_brackets": b"GET /probe?module=tcp_vip&target=%5B2001%3Adb8%3A%3A11%5D%3A443&debug=true HTTP/1.1\r\nHost: [::1]:10117\r\n\r\n",
    "probe_debug_false": b"GET /probe?debug=false&module=dns&target=198.51.100.11&module=other HTTP/1.1\r\n\r\n",
    "probe_empty": b"GET /probe?module=&target= HTTP/1.1\r\n\r\n",
    "browser": b"GET / HTTP/1.1\r\nHost: 127.0.0.1:10117\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nSec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nPriority: u=0, i\r\n\r\n",
    "favicon": b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1:10117\r\nAccept: image/avif,image/webp,*/*\r\nReferer: http://127.0.0.1:10117/\r\n\r\n",
    "curl_json": b"GET /status.json?x=%C3%A9+y HTTP/1.1\r\nHost: localhost:10117\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    "head_metrics": b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute_form": b"GET http://127.0.0.1:10117/metrics HTTP/1.1\r\nHost: 127.0.0.1:10117\r\n\r\n",
    "options_star": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "h2_preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "tls_hello": bytes.fromhex("16030100c4010000c00303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00",
    "http09": b"GET /metrics\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
    "no_colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "nul_query": b"GET /probe?module=a%00&target=%C0%AF HTTP/1.1\r\n\r\n",
    "high_bytes": b"GET /\xc3\xa9?t=\xff HTTP/1.1\r\nAccept: \xff\xfe\r\n\r\n",
    "timeout_bad": b"GET /metrics HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: 1e400\r\nX-Prometheus-Scrape-Timeout-Seconds: -0\r\n\r\n",
}
for name, raw in requests.items():
    write("web_request", name, b"\x07" + raw)
# The same scrape fed one byte at a time, and in 256-byte pieces.
write("web_request", "scrape_bytewise", b"\x00" + requests["scrape"])
write("web_request", "browser_whole", b"\xff" + requests["browser"])

# DNS answers to "www.example.test": every record type the checks match,
# a name compressed against the question, NXDOMAIN with a SOA, truncated.
def qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"

def dns(rcode, flags, qtype, answers, authority=b"", nauth=0):
    head = struct.pack("!HHHHHH", 0x1234, 0x8180 | flags | rcode, 1, len(answers), nauth, 0)
    return head + qname("www.example.test") + struct.pack("!HH", qtype, 1) + b"".join(answers) + authority

def rr(rtype, rdata, name=b"\xc0\x0c", ttl=300):
    return name + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata

A, NS, CNAME, SOA, MX, TXT, AAAA = 1, 2, 5, 6, 15, 16, 28
soa = qname("ns.example.test") + qname("admin.example.test") + struct.pack("!IIIII", 1, 3600, 600, 86400, 60)
answers = {
    "a": dns(0, 0, A, [rr(A, ipaddress.ip_address("198.51.100.50").packed)]),
    "aaaa": dns(0, 0, AAAA, [rr(AAAA, ipaddress.ip_address("2001:db8::50").packed)]),
    "cname_a": dns(0, 0, A, [rr(CNAME, qname("web.example.test")),
                              rr(A, ipaddress.ip_address("198.51.100.50").packed, name=qname("web.example.test"))]),
    "mx": dns(0, 0, MX, [rr(MX, struct.pack("!H", 10) + b"\x02mx\xc0\x10")]),
    "txt": dns(0, 0, TXT, [rr(TXT, b"\x06v=spf1\x04-all")]),
    "nxdomain_soa": dns(3, 0, A, [], rr(SOA, soa, name=b"\xc0\x10"), 1),
    "truncated": dns(0, 0x0200, A, []),
    "servfail": dns(2, 0, A, []),
}
os.makedirs(os.path.join("seeds", "dns_answer"), exist_ok=True)
for name, data in answers.items():
    write("dns_answer", name, data)
