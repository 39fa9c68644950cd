#!/usr/bin/python3
"""Seed corpus for fuzz_frame_request: whole frames and bare UDP payloads, good and bad.

Run from anywhere: python3 tests/fuzz/make_corpus.py  (needs python3-msgpack).
The files are committed; rerun after changing this script.
"""
import os
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

SVC_MAC = bytes.fromhex("020000000001")
CLI_MAC = bytes.fromhex("020000000002")
SVC_IP = bytes([10, 0, 0, 1])
CLI_IP = bytes([10, 0, 0, 2])
SVC_PORT = 9000
CLI_PORT = 40000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(proto, l4, options=b"", frag=0, dst=SVC_IP):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(l4), 0x1234, frag,
                      64, proto, 0, CLI_IP, dst) + options
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + l4


def udp_frame(payload, port=SVC_PORT, options=b"", cksum=True, pad=0):
    """cksum: True (correct), False (none: 0) or "partial" (the pseudo-header sum a kernel
    leaves for the device to finish)."""
    length = 8 + len(payload)
    u = struct.pack("!HHHH", CLI_PORT, port, length, 0) + payload
    pseudo = CLI_IP + SVC_IP + struct.pack("!BBH", 0, 17, length)
    if cksum == "partial":
        u = u[:6] + struct.pack("!H", ~csum(pseudo) & 0xFFFF) + u[8:]
    elif cksum:
        c = csum(pseudo + u) or 0xFFFF
        u = u[:6] + struct.pack("!H", c) + u[8:]
    return SVC_MAC + CLI_MAC + b"\x08\x00" + ipv4(17, u, options) + b"\xee" * pad


def arp_request(target=SVC_IP):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, CLI_MAC, CLI_IP, b"\0" * 6, target)
    return b"\xff" * 6 + CLI_MAC + b"\x08\x06" + body + b"\0" * 18


def icmp_echo(data=bytes(range(32))):
    msg = struct.pack("!BBHHH", 8, 0, 0, 0xBEEF, 1) + data
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    return SVC_MAC + CLI_MAC + b"\x08\x00" + ipv4(1, msg)


def nest(depth):
    v = None
    for _ in range(depth):
        v = [v]
    return v


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def main():
    full = pack({"v": 1, "id": 42, "fn": "echo:$LATEST", "type": "RequestResponse",
                 "tenant": "acme", "event": {"hello": "world", "n": [1, -2, 3.5, None, True]},
                 "timeout_ms": 3000, "ctx": {"client": b"\x00\x01"}, "log": "Tail",
                 "trace": "Root=1-5759e988-bd862e3fe1be46a994272793"})
    minimal = pack({"id": 7, "fn": "echo", "event": {"hello": "world"}})
    dry = pack({"id": 8, "fn": "echo", "type": "DryRun"})
    nested = pack({"id": 9, "fn": "echo", "event": [[[[[[[[[[{"k": "v"}]]]]]]]]]]})
    unknown = pack({"id": 10, "fn": "echo", "future": {"a": [1, {"b": b"bin"}]},
                    "ext": msgpack.ExtType(5, b"xyz")})

    seeds = {
        # whole frames
        "frame_udp_full": udp_frame(full),
        "frame_udp_minimal": udp_frame(minimal),
        "frame_udp_dryrun_options": udp_frame(dry, options=b"\x01" * 8),
        "frame_udp_no_cksum_padded": udp_frame(pack({"id": 1, "fn": "f"}), cksum=False, pad=20),
        "frame_udp_not_a_map": udp_frame(pack([1, 2, 3])),
        "frame_udp_cksum_partial": udp_frame(minimal, cksum="partial"),
        "frame_udp_wrong_port": udp_frame(minimal, port=9001),
        "frame_arp_request": arp_request(),
        "frame_arp_other": arp_request(CLI_IP),
        "frame_icmp_echo": icmp_echo(),
        "frame_ipv6": SVC_MAC + CLI_MAC + b"\x86\xdd" + b"\x60" + b"\0" * 39,
        # bare payloads
        "payload_full": full,
        "payload_minimal": minimal,
        "payload_nested": nested,
        "payload_unknown_keys": unknown,
        "payload_empty_strings": pack({"id": 0, "fn": "f", "trace": "", "ctx": "", "event": b""}),
        "payload_bad_version": pack({"v": 2, "id": 1, "fn": "echo"}),
        "payload_bad_type": pack({"id": 1, "fn": "echo", "type": "Nope"}),
        "payload_event_idempotent": pack({"id": 11, "fn": "echo", "type": "Event",
                                          "idempotency_key": "k"}),
        # just past the bounds: refused
        "payload_idempotency_empty": pack({"id": 12, "fn": "echo", "type": "Event",
                                           "idempotency_key": ""}),
        "payload_timeout_zero": pack({"id": 13, "fn": "echo", "timeout_ms": 0}),
        # every str width, and an id in a signed format
        "payload_wide_formats": b"\x84\xa2id\xd0\x05\xa2fn\xd9\x04echo"
                                b"\xa6tenant\xda\x00\x04acme\xa5trace\xdb\x00\x00\x00\x00",
        # keys in every str width (a decoder that matches fixstr keys fast must still find these),
        # and a known key that ends the payload with no value after it
        "payload_wide_keys": b"\x84\xd9\x02id\x09\xda\x00\x02fn\xa1f"
                             b"\xdb\x00\x00\x00\x04type\xa5Event\xd9\x0fidempotency_key\xa1k",
        "payload_key_last": b"\x83\xa2id\x01\xa2fn\xa1f\xa1v",
        # an API Gateway proxy event: maps three deep, str8 values, a uint64, nil and false,
        # the event last so that its walk ends at the payload's end
        "payload_apigw": pack({"id": 1500, "fn": "echo", "event": {
            "resource": "/orders/{id}", "path": "/orders/17", "httpMethod": "GET",
            "headers": {"Accept": "application/json", "Host": "api.example.com",
                        "X-Amzn-Trace-Id": "Root=1-65a1b2c3-4d5e6f708192a3b4c5d6e7f8"},
            "pathParameters": {"id": "17"},
            "requestContext": {"accountId": "123456789012", "identity": {"sourceIp": "198.51.100.7"},
                               "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                               "requestTimeEpoch": 1700000000000},
            "body": None, "isBase64Encoded": False}}),
        # an event measured in line up to a nested value, then walked on from there; one with
        # 0xc1 among its flat values; a 16-character fn with a bad byte and the request after it
        "payload_event_nested_middle": pack({"id": 3, "fn": "echo", "event": {
            "a": 1, "b": [1, {"c": 2}], "d": "x"}, "ctx": "c"}),
        "payload_event_flat_malformed": b"\x83\xa2id\x01\xa2fn\xa1f\xa5event\x82\xa1a\xc1\xa1b\x01",
        "payload_fn_sixteen": pack({"id": 4, "fn": "abcdefghijklmn!p", "event": {"hello": "world"}}),
        "payload_truncated": full[:-7],
        "payload_trailing": minimal + b"\xc0",
        "payload_deep": b"\x81\xa5event" + b"\x91" * 40 + b"\xc0",
        # the deepest event accepted: the request map plus 31 levels
        "payload_deep_limit": pack({"id": 1, "fn": "f", "event": nest(31)}),
        "payload_str32_claim": b"\x83\xa2id\x01\xa2fn\xa1f\xa5event\xdb\xff\xff\xff\xffabc",
        "payload_array32_claim": b"\x81\xa1x\xdd\xff\xff\xff\xff\x01",
    }
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
