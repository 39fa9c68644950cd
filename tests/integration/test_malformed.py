"""Malformed input through the port: every bad frame counted under its reason, every bad payload
answered 400, no crash, and the mempool back to its baseline afterwards."""

import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (ETH_ARP, ETH_IPV4, ETH_IPV6, ETH_VLAN, MODULES, PROTO_ICMP, PROTO_TCP,  # noqa: E402
                     PROTO_UDP, arp, eth, icmp, ipv4, pack, udp)

COPIES = 3  # each bad frame is sent this many times


def frame_corpus(bed, t, sport):
    """(what, frame, counter it must land in). Each frame has exactly one defect.

    No IP fragments here: DPDK's af_packet port joins its socket to a fanout
    group with PACKET_FANOUT_FLAG_DEFRAG, so the kernel holds fragments back
    for reassembly and turbine never sees one. test_vdevs.py sends them
    through the pcap port instead.
    """
    us, them = bed.client_mac, t.mac
    src, dst = bed.client_ip, bed.turbine_ip
    req = pack({'id': 1, 'fn': 'echo'})
    good_udp = udp(src, dst, sport, 9000, req)

    def ip_frame(payload, proto=PROTO_UDP, **kw):
        return eth(them, us, ETH_IPV4, ipv4(src, kw.pop('ip_dst', dst), proto, payload, **kw))

    def to_service(payload, port=9000, **udp_kw):
        return ip_frame(udp(src, dst, sport, port, payload, **udp_kw))

    whole = ip_frame(good_udp)
    partial = struct.unpack('!H', udp(src, dst, sport, 9000, req, csum='partial')[6:8])[0]
    other = '198.18.%d.3' % bed.k
    return [
        ('Ethernet header only', eth(them, us, ETH_IPV4, b''), 'drop_truncated'),
        ('IPv4 header cut at 10 bytes', whole[:24], 'drop_truncated'),
        ('ARP cut at 20 bytes', eth('ff:ff:ff:ff:ff:ff', us, ETH_ARP,
                                    arp(1, us, src, '00:00:00:00:00:00', dst)[:20]), 'drop_truncated'),
        ('UDP header cut at 4 bytes', ip_frame(good_udp[:4]), 'drop_truncated'),
        ('IP total length beyond the frame', whole[:-len(req) // 2], 'drop_ip_bad_header'),
        ('IPv6', eth(them, us, ETH_IPV6, bytes(40) + good_udp), 'drop_not_ipv4_or_arp'),
        ('VLAN tag', eth(them, us, ETH_VLAN, struct.pack('!HH', 5, ETH_IPV4) + whole[14:]),
         'drop_not_ipv4_or_arp'),
        ('ARP reply', eth(them, us, ETH_ARP, arp(2, us, src, them, dst)), 'drop_arp_other'),
        ('ARP request for another address', eth('ff:ff:ff:ff:ff:ff', us, ETH_ARP,
                                                arp(1, us, src, '00:00:00:00:00:00', other)),
         'drop_arp_other'),
        ('IHL 4', ip_frame(good_udp, ihl=4), 'drop_ip_bad_header'),
        ('IP version 6 in an IPv4 frame', ip_frame(good_udp, version=6), 'drop_ip_bad_header'),
        ('IP total length 19', ip_frame(good_udp, total_length=19), 'drop_ip_bad_header'),
        ('bad IP header checksum', ip_frame(good_udp, csum=0x1234), 'drop_ip_bad_checksum'),
        ('IP to another address', ip_frame(udp(src, other, sport, 9000, req), ip_dst=other),
         'drop_ip_not_ours'),
        ('ICMP echo reply', ip_frame(icmp(0, 0, b'\0\1\0\1ping'), PROTO_ICMP), 'drop_icmp_other'),
        ('ICMP timestamp request', ip_frame(icmp(13, 0, bytes(16)), PROTO_ICMP), 'drop_icmp_other'),
        ('TCP SYN', ip_frame(struct.pack('!HHIIBBHHH', sport, 9000, 1, 0, 0x50, 0x02, 1024, 0, 0),
                             PROTO_TCP), 'drop_not_udp'),
        ('UDP length beyond the IP length', to_service(req, length=8 + len(req) + 4), 'drop_udp_bad_length'),
        ('UDP length short of the IP length', to_service(req, length=8 + len(req) - 4), 'drop_udp_bad_length'),
        ('UDP length 7', to_service(req, length=7), 'drop_udp_bad_length'),
        ('bad UDP checksum', to_service(req, csum=0xbeef), 'drop_udp_bad_checksum'),
        ('UDP checksum one off the pseudo-header sum', to_service(req, csum=partial ^ 1),
         'drop_udp_bad_checksum'),
        ('UDP to another port', to_service(req, port=9001), 'drop_udp_wrong_port'),
        # A partial checksum is "not computed" on every port: dropped for the port alone.
        ('UDP to another port, checksum left partial', to_service(req, port=9001, csum='partial'),
         'drop_udp_wrong_port'),
        # One byte over what MTU 1500 carries. Only the client's end has a
        # larger MTU: turbine's end keeps 1500 (so does its port), and a veth
        # still delivers frames of up to MTU + 18 bytes, which this is.
        ('UDP payload of 1473 bytes', to_service(pack({'id': 2, 'fn': 'echo', 'event': 'x' * 1450})
                                                 .ljust(1473, b'\xc0')), 'drop_oversize'),
    ]


def accepted_corpus(bed, t, sport):
    """Unusual but valid requests, each of which must be answered."""
    us, them = bed.client_mac, t.mac
    src, dst = bed.client_ip, bed.turbine_ip

    def request(rid, **kw):
        payload = pack({'id': rid, 'fn': 'echo', 'event': rid})
        return eth(them, us, ETH_IPV4, ipv4(src, dst, PROTO_UDP, udp(src, dst, sport, 9000, payload,
                                                                       csum=kw.pop('csum', None)), **kw))
    return [
        ('IP options', 101, request(101, ihl=6, options=b'\x01\x01\x01\x00')),
        ('UDP checksum 0 (none)', 102, request(102, csum=0)),
        ('Ethernet padding after the IP packet', 103, request(103) + bytes(24)),
        ('TTL 1 and DF set', 104, request(104, ttl=1, flags_frag=0x4000)),
        ('UDP checksum left partial (the pseudo-header sum)', 105, request(105, csum='partial')),
    ]


def payload_corpus():
    """(what, UDP payload, must it be 400): garbage in datagrams to the service port."""
    rng = random.Random(20240611)
    deep = b'\x91' * 1400 + b'\xc0'  # as deep as one datagram allows
    cases = [
        ('empty payload', b'', True),
        ('array', pack([1, 2]), True),
        ('positive fixint', b'\x05', True),
        ('nil', b'\xc0', True),
        ('never-used byte 0xc1', b'\xc1', True),
        ('deep nesting', deep, True),
        ('str header claiming 4 GiB', b'\xdb\xff\xff\xff\xff' + b'abc', True),
        ('map header claiming 4 G entries', b'\xdf\xff\xff\xff\xff\xa2id\x01', True),
        ('array header claiming 4 G items', b'\xdd\xff\xff\xff\xff\x01', True),
        ('fn str claiming 4 GiB', b'\x82\xa2id\x01\xa2fn\xdb\xff\xff\xff\xffecho', True),
        ('bin header claiming 4 GiB', b'\xc6\xff\xff\xff\xff\x00', True),
        ('ext type', b'\xd4\x01\x02', True),
        ('map truncated after a key', b'\x82\xa2id', True),
        ('id is a map', pack({'id': {'x': 1}, 'fn': 'echo'}), True),
        ('fn is an array', pack({'id': 3, 'fn': ['echo']}), True),
        ('fn is bin', pack({'id': 3, 'fn': b'echo'}), True),
        ('type is nil', pack({'id': 3, 'fn': 'echo', 'type': None}), True),
        ('float32 id', b'\x82\xa2id\xca\x3f\x80\x00\x00\xa2fn\xa4echo', True),
        ('event deeply nested', b'\x83\xa2id\x04\xa2fn\xa4echo\xa5event' + b'\x91' * 1300 + b'\xc0', False),
    ]
    for i in range(20):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        if data[0] & 0xf0 == 0x80 or data[0] in (0xde, 0xdf):
            data = b'\xc1' + data[1:]  # keep it from being a map by chance
        cases.append(('random bytes #%d' % i, data, True))
    return cases


def body(c):
    with harness.Testbed('malformed', 4, client_mtu=9000) as bed, \
            bed.turbine({'echo': MODULES['echo']}) as t:
        cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'echo', 'event': 'warm'}) or {}).get('body'), 'warm',
             'echo before the corpus')
        baseline = t.stats()
        c.ok(baseline.get('mempool_size', 0) > 0 and 'mempool_in_use' in baseline,
             'telemetry reports the mempool', baseline)

        raw = bed.raw()
        frames = frame_corpus(bed, t, cl.port)
        before = t.stats()
        for _, frame, _ in frames:
            for _ in range(COPIES):
                raw.send(frame)
        want = len(frames) * COPIES
        after = harness.wait_until(
            lambda: (lambda s: s if s['rx_packets'] - before['rx_packets'] >= want else None)(t.stats()), 3)
        after = after or t.stats()
        c.ok(after['rx_packets'] - before['rx_packets'] >= want, 'turbine received every bad frame',
             (before['rx_packets'], after['rx_packets'], want))
        drops = [n for n in before if n.startswith('drop_')]
        expected = {n: 0 for n in drops}
        for _, _, counter in frames:
            expected[counter] = expected.get(counter, 0) + COPIES
        got = harness.counter_delta(before, after, drops)
        for what, _, counter in frames:
            c.eq(got.get(counter), expected[counter], '%s -> %s' % (what, counter))
        c.eq({n: v for n, v in got.items() if v}, {n: v for n, v in expected.items() if v},
             'no drop counted under any other reason')
        c.eq(after['requests'] - before['requests'], 0, 'no bad frame taken as a request')
        c.eq(after['rx_csum_partial'] - before['rx_csum_partial'], COPIES,
             'rx_csum_partial counts the partial checksum to another port')
        c.eq(cl.recv(0.2), None, 'no response to a bad frame')

        before = t.stats()
        for what, rid, frame in accepted_corpus(bed, t, cl.port):
            raw.send(frame)
            r = cl.recv(2)
            c.eq((r or {}).get('id') if isinstance(r, dict) else r, rid, 'accepted: ' + what)
        c.eq(t.stats()['rx_csum_partial'] - before['rx_csum_partial'], 1,
             'rx_csum_partial counts the one accepted request with a partial checksum')

        for what, data, must_400 in payload_corpus():
            r = cl.call(data, timeout=2)
            if not c.ok(isinstance(r, dict), 'payload %s: answered' % what, r):
                continue
            if must_400:
                c.eq((r.get('status'), r.get('error')), (400, 'InvalidRequestContentException'),
                     'payload %s: 400' % what)
            else:
                c.ok(r.get('status') in (200, 400), 'payload %s: 200 or 400' % what, r)

        c.eq((cl.call({'id': 5, 'fn': 'echo', 'event': 'still here'}) or {}).get('body'), 'still here',
             'turbine still answers after the corpus')
        stats = t.stats()
        c.eq(stats['responses'] - baseline['responses'], len(cl.responses) - 1,
             'responses counter = responses received')
        c.eq(stats['status_400'] - baseline['status_400'],
             harness.status_counts(cl.responses).get('status_400', 0), 'status_400 counter')
        settled = harness.wait_until(lambda: t.stats()['mempool_in_use'] == baseline['mempool_in_use'], 2)
        c.ok(settled, 'mempool in use back to its baseline (%d)' % baseline['mempool_in_use'],
             t.stats()['mempool_in_use'])
        c.ok(t.alive(), 'turbine still running')
        rc, final = t.stop()
        c.eq(rc, 0, 'turbine exits 0')


harness.main('malformed', body)
