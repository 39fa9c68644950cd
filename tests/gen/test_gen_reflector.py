"""turbine-gen's reply matching against a reflector that drops and duplicates on purpose.

The generator runs on net_af_packet at one end of a veth pair; at the other
end a raw socket sends every frame back with the MACs swapped (what
dpdk-testpmd's macswap does), except that it drops every 10th frame and
sends every 7th (not dropped) twice. The generator, in --reflector mode,
must count exactly those as lost and as duplicates, and everything else as
received once.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402

TURBINE_GEN = os.environ.get('TURBINE_GEN', '')
DROP_EVERY = 10
DUP_EVERY = 7
RATE = 500
DURATION_S = 2


class Reflector(threading.Thread):
    """Echo UDP frames back, MACs swapped; drop and duplicate on a fixed pattern; count it all."""

    def __init__(self, bed):
        super().__init__(daemon=True)
        self.sock = bed.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
        self.sock.bind((bed.client_if, 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.seen = self.dropped = self.duplicated = 0

    def run(self):
        while not self.stop.is_set() and self.seen < 100000:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            # Only frames arriving on the wire (not our own transmissions) and carrying UDP.
            if addr[2] == socket.PACKET_OUTGOING or len(frame) < 42 or frame[23] != 17:
                continue
            self.seen += 1
            if self.seen % DROP_EVERY == 0:
                self.dropped += 1
                continue
            back = frame[6:12] + frame[0:6] + frame[12:]
            self.sock.send(back)
            if self.seen % DUP_EVERY == 0:
                self.sock.send(back)
                self.duplicated += 1


def body(c):
    with tempfile.TemporaryDirectory(prefix='tb-refl-') as tmp, \
            harness.Testbed('gen_reflector', 46) as bed:
        refl = Reflector(bed)
        refl.start()
        out = os.path.join(tmp, 'refl.json')
        prefix = bed.next_prefix() + '-gen'
        cmd = ['ip', 'netns', 'exec', bed.server_ns, TURBINE_GEN, '--lcores', '0@1',
               '--file-prefix', prefix, '--no-pci', '--no-huge', '-m', '256',
               '--vdev', 'net_af_packet0,iface=' + bed.host_if, '--', '--reflector',
               '--to', bed.turbine_ip, '--src-ip', bed.client_ip, '--fn', 'echo',
               '--rate', str(RATE), '--warmup', '0', '--duration', str(DURATION_S),
               '--drain-ms', '1000', '--json', out, '--quiet']
        harness.log('running: ' + ' '.join(cmd))
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=60, stdin=subprocess.DEVNULL)
        finally:
            harness.remove_dpdk_files(prefix)
            refl.stop.set()
            refl.join(5)
        harness.log(p.stdout[-2000:])
        harness.log('\n'.join(l for l in p.stderr.splitlines() if not l.startswith(('EAL', 'TELEMETRY'))))
        c.eq(p.returncode, 0, 'turbine-gen completed')
        with open(out) as f:
            g = json.load(f)
        harness.log('reflector: seen %d dropped %d duplicated %d; generator: sent %s received %s '
                    'lost %s duplicates %s' % (refl.seen, refl.dropped, refl.duplicated, g['sent'],
                                               g['received'], g['lost'], g['duplicates']))
        c.ok(g['sent'] >= RATE * DURATION_S * 0.9, 'the load was sent', g['sent'])
        c.eq(refl.seen, g['sent'], 'the reflector saw every request')
        c.ok(refl.dropped > 0 and refl.duplicated > 0, 'it dropped and duplicated some')
        c.eq(g['lost'], refl.dropped, 'every dropped request is counted lost')
        c.eq(g['duplicates'], refl.duplicated, 'every duplicated reply is counted as a duplicate')
        c.eq(g['received'], g['sent'] - refl.dropped, 'everything else received exactly once')
        c.eq(g['by_status'], {'reflected': g['received']}, 'all under status "reflected"')


if __name__ == '__main__':
    harness.main('gen_reflector', body, required=[TURBINE_GEN])
