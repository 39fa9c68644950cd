"""Turbine on other DPDK ports: an in-process vdev (net_pcap, from a capture file to a capture
file) and net_memif, bridged to a kernel client by dpdk-testpmd.

  test_vdevs.py pcap
  test_vdevs.py memif
"""

import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (ETH_ARP, ETH_IPV4, MODULES, PROTO_ICMP, PROTO_UDP, arp, eth, icmp, ipv4, pack,  # noqa: E402
                     unpack, udp)

TESTPMD = '/usr/bin/dpdk-testpmd'
CLIENT_MAC = '02:00:00:00:07:02'
PCAP_MAGIC = 0xa1b2c3d4
FRAGMENTS = 2
PING_DATA = b'\x12\x34\x00\x01pcap ping'  # identifier, sequence, data


def write_pcap(path, frames):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', PCAP_MAGIC, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack('<IIII', 1700000000, i, len(frame), len(frame)) + frame)


def read_pcap(path):
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack('<I', data[:4])[0]
    end = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(end + 'IIII', data[off:off + 16])
        frames.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return frames


def pcap_requests(bed, mac):
    """Frames for turbine's MAC: an ARP request, a ping, UDP requests (one with IP options), and
    two IP fragments (which af_packet's kernel socket would hold back for reassembly)."""
    src, dst = bed.client_ip, bed.turbine_ip
    requests = {1: {'id': 1, 'fn': 'echo', 'event': {'n': 1}},
                2: {'id': 2, 'fn': 'echo', 'event': 'two'},
                3: {'id': 3, 'fn': 'hello', 'event': {'name': 'pcap'}},
                4: {'id': 4, 'fn': 'echo', 'type': 'DryRun'},
                5: {'id': 5, 'fn': 'nope'},
                6: {'id': 6, 'fn': 'echo', 'event': 'x' * 1000}}
    frames = [eth('ff:ff:ff:ff:ff:ff', CLIENT_MAC, ETH_ARP,
                  arp(1, CLIENT_MAC, src, '00:00:00:00:00:00', dst)),
              eth(mac, CLIENT_MAC, ETH_IPV4, ipv4(src, dst, PROTO_ICMP, icmp(8, 0, PING_DATA)))]

    def request(sport, payload, **ip_kw):
        datagram = udp(src, dst, sport, 9000, payload)
        return eth(mac, CLIENT_MAC, ETH_IPV4, ipv4(src, dst, PROTO_UDP, datagram, **ip_kw))

    for rid, req in requests.items():
        opts = {'ihl': 6, 'options': b'\x01\x01\x01\x00'} if rid == 3 else {}
        frames.append(request(40000 + rid, pack(req), **opts))
    for flags_frag in (0x2000, 0x0010):  # more fragments; an offset
        frames.append(request(40007, pack({'id': 7, 'fn': 'echo'}), flags_frag=flags_frag))
    expected = {1: {'status': 200, 'body': {'n': 1}}, 2: {'status': 200, 'body': 'two'},
                3: {'status': 200, 'body': {'message': 'Hello, pcap!'}}, 4: {'status': 204},
                5: {'status': 404}, 6: {'status': 200, 'body': 'x' * 1000}}
    return frames, expected


def pcap(c):
    # The pcap port touches no network: no namespaces are made, and turbine
    # runs where the test runs.
    fns = {'echo': MODULES['echo'], 'hello': MODULES['hello']}
    with tempfile.TemporaryDirectory(prefix='tb-pcap-') as tmp, \
            harness.Testbed('vdev_pcap', 7, network=False) as bed:
        empty, rx, tx = (os.path.join(tmp, n) for n in ('empty.pcap', 'rx.pcap', 'tx.pcap'))
        write_pcap(empty, [])
        # First run: learn the port's MAC from the ready line.
        t = bed.turbine(fns, vdevs=['net_pcap0,rx_pcap=%s,tx_pcap=%s' % (empty, tx)], netns=False)
        t.start()
        mac = t.mac
        rc, _ = t.stop()
        c.eq(rc, 0, 'pcap: first run exits 0')

        frames, expected = pcap_requests(bed, mac)
        write_pcap(rx, frames)
        t = bed.turbine(fns, vdevs=['net_pcap0,rx_pcap=%s,tx_pcap=%s' % (rx, tx)], netns=False)
        t.start()
        c.eq(t.mac, mac, 'pcap: same MAC on the second run')
        replies = len(frames) - FRAGMENTS
        done = harness.wait_until(lambda: t.stats().get('tx_packets', 0) >= replies, 10)
        c.ok(done, 'pcap: a reply for every frame transmitted', t.stats())
        rc, final = t.stop()
        c.eq(rc, 0, 'pcap: exits 0')
        out = [harness.parse_frame(f) for f in read_pcap(tx)]
        c.eq(len(out), replies, 'pcap: one frame out per frame in, none for a fragment')

        arps = [f for f in out if f['ethertype'] == ETH_ARP]
        c.eq([(f['arp_op'], f['sha'], f['spa'], f['tha'], f['tpa'], f['dst']) for f in arps],
             [(2, mac, bed.turbine_ip, CLIENT_MAC, bed.client_ip, CLIENT_MAC)], 'pcap: ARP reply')
        pings = [f for f in out if f.get('proto') == PROTO_ICMP]
        c.eq([(f['icmp_type'], f['icmp_ok'], f['ip_ok'], f['payload'], f['ip_dst'], f['src'], f['dst'])
              for f in pings],
             [(0, True, True, PING_DATA, bed.client_ip, mac, CLIENT_MAC)],
             'pcap: ICMP echo reply, checksums correct')
        seen = {}
        for f in out:
            if f.get('proto') != PROTO_UDP:
                continue
            resp = unpack(f['payload'])
            rid = resp.get('id')
            seen[rid] = resp
            c.ok(f['ip_ok'] and f['udp_ok'], 'pcap: response %s has correct IPv4 and UDP checksums' % rid,
                 {k: f[k] for k in ('ip_ok', 'udp_ok', 'udp_csum', 'udp_len')})
            c.eq((f['src'], f['dst'], f['ip_src'], f['ip_dst'], f['sport'], f['dport'], f['frag'] & 0x3fff),
                 (mac, CLIENT_MAC, bed.turbine_ip, bed.client_ip, 9000, 40000 + rid, 0),
                 'pcap: response %s addressed back to its sender' % rid)
        c.eq(sorted(seen), sorted(expected), 'pcap: one response per request id')
        for rid, want in expected.items():
            got = seen.get(rid) or {}
            c.eq({k: got.get(k) for k in want}, want, 'pcap: response %d' % rid)
        if isinstance(final, dict):
            c.eq((final.get('requests'), final.get('arp_replies'), final.get('icmp_replies'),
                  final.get('drop_ip_fragment')),
                 (len(expected), 1, 1, FRAGMENTS), 'pcap: final counters')


class Testpmd:
    """dpdk-testpmd forwarding between two ports (io mode) until stopped."""

    def __init__(self, bed, args):
        self.prefix = bed.next_prefix()
        self.cmd = ['ip', 'netns', 'exec', bed.server_ns, TESTPMD, '--file-prefix', self.prefix,
                    '--no-pci'] + args
        self.proc = None

    def start(self):
        harness.log('starting: ' + ' '.join(self.cmd))
        self.log = tempfile.TemporaryFile(mode='w+')
        # testpmd without --interactive runs until a line arrives on its stdin.
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=self.log,
                                     stderr=subprocess.STDOUT, text=True)

    def output(self):
        self.log.seek(0)
        return self.log.read()[-3000:]

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write('\n')
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        harness.remove_dpdk_files(self.prefix)


def memif(c):
    if not os.access(TESTPMD, os.X_OK):
        harness.skip(TESTPMD + ' is not installed (package dpdk-dev)')
    sock = '/run/tb-memif-%d.sock' % os.getpid()
    fns = {'echo': MODULES['echo'], 'hello': MODULES['hello']}
    with harness.Testbed('vdev_memif', 8) as bed:
        try:
            # Turbine serves the memif socket on CPU 0; testpmd's two lcores
            # (main, forwarding) share CPU 1 and copy frames between the veth
            # (af_packet) and memif.
            t = bed.turbine(fns, vdevs=['net_memif0,role=server,socket=%s,socket-abstract=no' % sock])
            t.start()
            c.ok(os.path.exists(sock), 'memif: turbine listens on %s' % sock)
            pmd = Testpmd(bed, ['--lcores', '0@1,1@1'] + harness.EAL_MEMORY +
                          ['--vdev', 'net_memif0,role=client,socket=%s,socket-abstract=no' % sock,
                           '--vdev', 'net_af_packet1,iface=%s' % bed.host_if, '--',
                           '--forward-mode=io', '--auto-start', '--total-num-mbufs=8192'])
            bed.processes.append(pmd)
            pmd.start()
            # testpmd needs a moment to start its ports and connect to the memif socket.
            up = harness.wait_until(lambda: pmd.proc.poll() is not None or bed.ns_run(
                ['ping', '-n', '-c', '1', '-W', '1', bed.turbine_ip]).returncode == 0, 30)
            c.ok(up and pmd.proc.poll() is None, 'memif: the bridge carries a ping', pmd.output())
            rc, doc, p = bed.invoke('echo', '{"over": "memif"}', timeout=30)
            if not c.eq((rc, (doc or {}).get('body')), (0, {'over': 'memif'}), 'memif: echo through testpmd'):
                harness.log(p.stdout, p.stderr, t.output(), pmd.output())
            rc, doc, p = bed.invoke('hello', '{"name": "memif"}')
            c.eq((doc or {}).get('body'), {'message': 'Hello, memif!'}, 'memif: hello')
            cl = bed.client()
            bodies = [(cl.call({'id': i, 'fn': 'echo', 'event': i}) or {}).get('body') for i in range(20)]
            c.eq(bodies, list(range(20)), 'memif: 20 requests from a Python client')
            stats = t.stats()
            c.ok(stats.get('requests', 0) >= 22, 'memif: requests counted', stats.get('requests'))
            rc, final = t.stop()
            c.eq(rc, 0, 'memif: turbine exits 0')
        finally:
            for p in bed.processes:
                if isinstance(p, Testpmd):
                    p.kill()
            if os.path.exists(sock):
                os.unlink(sock)


def body(c):
    which = sys.argv[1] if len(sys.argv) > 1 else ''
    if which == 'pcap':
        pcap(c)
    elif which == 'memif':
        memif(c)
    else:
        raise SystemExit('usage: test_vdevs.py pcap|memif')


harness.main('vdevs ' + (sys.argv[1] if len(sys.argv) > 1 else ''), body)
