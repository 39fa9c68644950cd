"""Integration test harness: namespaces, veth, the turbine process, and its clients.

Every test builds the same small network: two network namespaces joined by a
veth pair. Turbine runs in one of them (its side of the pair has no address:
DPDK's net_af_packet owns it), the kernel clients in the other, with addresses
from 198.18.0.0/15 only. Keeping turbine's side out of the root namespace
means the host kernel never sees the test traffic, so nothing can be routed
or forwarded anywhere else. Everything is torn down on exit, on failure and
on SIGTERM (meson's timeout); namespaces left by a killed run are removed by
the next one.

Paths of the built binaries arrive in the environment (tests/integration/meson.build).
"""

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import msgpack

TURBINE = os.environ.get('TURBINE', '')
TURBINE_INVOKE = os.environ.get('TURBINE_INVOKE', '')
MODULES = {name: os.environ.get('TURBINE_MODULE_' + name.upper(), '')
           for name in ('echo', 'hello', 'spin', 'fail', 'counter', 'loop', 'crash', 'hog',
                        'journal', 'initfail')}
SERVICE_PORT = 9000

# DPDK memory for every turbine the tests start. Anonymous memory (--no-huge)
# works for all the vdevs used here (af_packet, pcap, memif copy mode), leaves
# nothing behind in hugetlbfs when a run is killed, and does not compete with
# the demo or another tree for the reserved hugepages. TURBINE_TEST_MEM
# overrides it, e.g. "--socket-mem 256" to run on hugepages.
EAL_MEMORY = os.environ.get('TURBINE_TEST_MEM', '--no-huge -m 512').split()

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
READY_RE = re.compile(r'^turbine: ready: port (\d+) ([0-9A-Fa-f:]{17}) ([\d.]+):(\d+), '
                      r'(\d+) dispatchers?(?:\(s\))?, (\d+) workers?(?:\(s\))?')
NETNS_RE = re.compile(r'^tb-[a-z0-9_]+-(\d+)(?:-s)?$')

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Interrupted(Exception):
    """SIGTERM or SIGINT arrived (meson's timeout): unwind and clean up."""


def _on_signal(signum, _frame):
    raise Interrupted('signal %d' % signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def log(*args):
    print(*args, flush=True)


def run(cmd, check=True, timeout=30, **kw):
    """Run a command, capturing its output; raise with that output when check fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and p.returncode != 0:
        raise RuntimeError('%s: exit %d\n%s%s' % (' '.join(cmd), p.returncode, p.stdout, p.stderr))
    return p


# ---------------------------------------------------------------- checks

class Checks:
    """Assertions that record a failure and carry on, so one run shows every problem."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []

    def ok(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            log('ok     %s' % what)
        else:
            self.failed.append(what)
            log('FAIL   %s' % what)
            if detail is not None:
                log('       %s' % (detail,))
        return bool(cond)

    def eq(self, actual, expected, what):
        return self.ok(actual == expected, what,
                       'got      %r\n       expected %r' % (actual, expected))

    def finish(self):
        log('%s: %d checks passed, %d failed' % (self.name, self.passed, len(self.failed)))
        for what in self.failed:
            log('  failed: %s' % what)
        return 1 if self.failed or self.passed == 0 else 0


def main(name, body, required=None):
    """Run body(checks) and exit with the result; print the traceback of an error.

    `required`: the built files the test needs (default: turbine, the CLI and every module).
    """
    checks = Checks(name)
    if os.geteuid() != 0:
        skip('needs root: network namespaces, veth pairs, raw sockets and DPDK')
    if required is None:
        required = [TURBINE, TURBINE_INVOKE] + list(MODULES.values())
    missing = [p for p in required if not p or not os.path.exists(p)]
    if missing:
        log('missing built files (run through meson test): %s' % missing)
        sys.exit(1)
    try:
        body(checks)
    except Interrupted as e:
        checks.failed.append('interrupted by %s' % e)
        log('interrupted: %s' % e)
    except Exception:
        traceback.print_exc()
        checks.failed.append('exception: %s' % sys.exc_info()[1])
    sys.exit(checks.finish())


def skip(reason):
    """Exit with meson's skip code."""
    log('SKIP: %s' % reason)
    sys.exit(77)


def wait_until(cond, timeout, interval=0.05):
    """Poll cond() until it is true or timeout seconds pass; return its last value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------- namespaces

@contextlib.contextmanager
def in_netns(name):
    """Switch this thread into a named network namespace, and back.

    A socket keeps the namespace it was created in, so clients are created
    inside and used from here.
    """
    orig = os.open('/proc/self/ns/net', os.O_RDONLY)
    target = os.open('/run/netns/' + name, os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), 'setns ' + name)
        try:
            yield
        finally:
            if _libc.setns(orig, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), 'setns back')
    finally:
        os.close(target)
        os.close(orig)


def remove_stale():
    """Delete namespaces and DPDK run directories of earlier runs whose process is gone."""
    p = run(['ip', 'netns', 'list'], check=False)
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ''
        m = NETNS_RE.match(name)
        if m and not os.path.exists('/proc/' + m.group(1)):
            run(['ip', 'netns', 'del', name], check=False)
    for d in ('/var/run/dpdk', '/dev/hugepages'):
        if not os.path.isdir(d):
            continue
        for entry in os.listdir(d):
            m = re.match(r'^tb-[a-z0-9_]+-(\d+)-\d+', entry)
            if m and not os.path.exists('/proc/' + m.group(1)):
                path = os.path.join(d, entry)
                if os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(path)


def remove_dpdk_files(prefix):
    """What a DPDK process with this --file-prefix leaves behind: run directory, hugepage files."""
    shutil.rmtree('/var/run/dpdk/' + prefix, ignore_errors=True)
    if os.path.isdir('/dev/hugepages'):
        for entry in os.listdir('/dev/hugepages'):
            if entry.startswith(prefix + 'map_'):
                with contextlib.suppress(OSError):
                    os.unlink('/dev/hugepages/' + entry)


class Testbed:
    """Turbine's namespace and the client's, joined by a veth pair.

    `k` picks the test's subnet, 198.18.k.0/24: turbine is .1, the client .2.
    `client_mtu` raises the MTU of the client's end only (to send frames
    larger than turbine's port accepts). With `network` false nothing is
    created: the bed only names things and cleans up the processes.
    """

    def __init__(self, test, k, client_mtu=None, network=True):
        pid = os.getpid()
        self.test = test
        self.k = k
        self.client_ns = 'tb-%s-%d' % (test, pid)
        self.server_ns = self.client_ns + '-s'
        self.host_if = ('tbh%dx%x' % (k, pid))[:15]
        self.client_if = ('tbn%dx%x' % (k, pid))[:15]
        self.turbine_ip = '198.18.%d.1' % k
        self.client_ip = '198.18.%d.2' % k
        self.client_mtu = client_mtu
        self.network = network
        self.client_mac = None
        self.prefix = 'tb-%s-%d' % (test, pid)
        self.starts = 0
        self.processes = []
        self.created = []

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()
        return False

    def up(self):
        remove_stale()
        if not self.network:
            return
        for ns in (self.client_ns, self.server_ns):
            run(['ip', 'netns', 'add', ns])
            self.created.append(ns)
            # No IPv6 in either namespace: its neighbour discovery and MLD
            # would reach turbine and blur the drop counters the tests check.
            run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw',
                 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
        run(['ip', 'link', 'add', self.host_if, 'netns', self.server_ns, 'type', 'veth',
             'peer', 'name', self.client_if, 'netns', self.client_ns])
        if self.client_mtu:
            run(['ip', '-n', self.client_ns, 'link', 'set', self.client_if, 'mtu', str(self.client_mtu)])
        run(['ip', '-n', self.server_ns, 'link', 'set', self.host_if, 'up'])
        run(['ip', '-n', self.client_ns, 'link', 'set', self.client_if, 'up'])
        run(['ip', '-n', self.client_ns, 'addr', 'add', self.client_ip + '/24', 'dev', self.client_if])
        # The client keeps the kernel's default offloads, as a user's would: its
        # UDP checksums reach turbine partial (counted as rx_csum_partial).
        info = json.loads(run(['ip', '-n', self.client_ns, '-j', 'link', 'show', 'dev',
                               self.client_if]).stdout)
        self.client_mac = info[0]['address']

    def down(self):
        for p in self.processes:
            p.kill()
        for ns in reversed(self.created):
            run(['ip', 'netns', 'del', ns], check=False)
        self.created = []

    def next_prefix(self):
        self.starts += 1
        return '%s-%d' % (self.prefix, self.starts)

    def af_packet_vdev(self):
        return 'net_af_packet0,iface=' + self.host_if

    def turbine(self, fns, **kw):
        """A Turbine on this bed's veth, or on the given vdevs (started by `with` or start())."""
        t = Turbine(self, fns, **kw)
        self.processes.append(t)
        return t

    # -- clients, all inside the client namespace

    def socket(self, family, kind, proto=0):
        with in_netns(self.client_ns):
            return socket.socket(family, kind, proto)

    def client(self, port=SERVICE_PORT, ip=None):
        return UdpClient(self, ip or self.turbine_ip, port)

    def raw(self):
        return RawPort(self)

    def ns_run(self, cmd, timeout=30, check=False):
        return run(['ip', 'netns', 'exec', self.client_ns] + cmd, timeout=timeout, check=check)

    def invoke(self, *args, to=None, timeout=20):
        """Run turbine-invoke in the client namespace: (exit code, parsed JSON or None, process)."""
        cmd = [TURBINE_INVOKE]
        if to is not False:
            cmd += ['--to', to or self.turbine_ip]
        p = self.ns_run(cmd + list(args), timeout=timeout)
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            doc = None
        return p.returncode, doc, p


# ---------------------------------------------------------------- turbine

def fn_args(fns):
    """--fn arguments from {name: path or 'path,key=value...'}."""
    out = []
    for name, spec in fns.items():
        out += ['--fn', '%s=%s' % (name, spec)]
    return out


class Turbine:
    """One turbine process in the bed's server namespace."""

    def __init__(self, bed, fns, lcores='0', vdevs=None, args=(), quiet=True, ip=True, netns=True):
        self.bed = bed
        self.prefix = bed.next_prefix()
        self.vdevs = vdevs if vdevs is not None else [bed.af_packet_vdev()]
        cmd = ['ip', 'netns', 'exec', bed.server_ns] if netns else []
        # An lcore list ('0,1') or a map onto CPUs ('0@0,1@1,2@1') for more lcores than CPUs.
        cmd += [TURBINE, '--lcores' if '@' in lcores else '-l', lcores, '--file-prefix', self.prefix,
                '--no-pci'] + EAL_MEMORY
        for v in self.vdevs:
            cmd += ['--vdev', v]
        cmd += ['--']
        if ip:
            cmd += ['--ip', bed.turbine_ip]
        # The asynchronous queue in a folder of its own, removed with the process's files;
        # a test that keeps its queue across restarts passes --async-dir itself (it comes later).
        self.own_async_dir = tempfile.mkdtemp(prefix='turbine-async-')
        cmd += ['--async-dir', self.own_async_dir]
        cmd += fn_args(fns) + list(args)
        if quiet:
            cmd.append('--quiet')
        self.cmd = cmd
        self.proc = None
        self.out = []
        self.err = []
        self.ready_line = None
        self.ready = threading.Event()
        self.mac = self.ip = self.port = None
        self.dispatchers = self.workers = None
        self.readers = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def _read(self, stream, lines, watch):
        for line in stream:
            line = line.rstrip('\n')
            lines.append(line)
            if watch and self.ready_line is None and line.startswith('turbine: ready:'):
                self.ready_line = line
                self.ready.set()
        self.ready.set()  # the process is gone: stop waiting

    def start(self, wait=True):
        log('starting: ' + ' '.join(self.cmd))
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors='replace')
        for stream, lines, watch in ((self.proc.stdout, self.out, True), (self.proc.stderr, self.err, False)):
            t = threading.Thread(target=self._read, args=(stream, lines, watch), daemon=True)
            t.start()
            self.readers.append(t)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        self.ready.wait(timeout)
        if self.ready_line is None:
            alive = self.proc.poll() is None
            self.kill()
            raise RuntimeError('turbine did not report ready within %.0f s (%s)\n%s' %
                               (timeout, 'still running' if alive else 'exited %s' % self.proc.returncode,
                                self.output()))
        m = READY_RE.match(self.ready_line)
        if not m:
            raise RuntimeError('unexpected ready line: %r' % self.ready_line)
        self.mac = m.group(2).lower()
        self.ip, self.port = m.group(3), int(m.group(4))
        self.dispatchers, self.workers = int(m.group(5)), int(m.group(6))
        log(self.ready_line)

    def output(self):
        return '--- stdout\n%s\n--- stderr\n%s' % ('\n'.join(self.out[-60:]), '\n'.join(self.err[-60:]))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait for the process and its output; return the exit code (None: still running)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.readers:
            t.join(5)
        return rc

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait; return (exit code or None when it had to be killed, final counters or None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            log('turbine did not exit within %.0f s of SIGTERM; killing it' % timeout)
            self.kill()
        self.cleanup_files()
        return rc, self.final()

    def final(self):
        for line in reversed(self.out):
            if line.startswith('turbine: final '):
                try:
                    return json.loads(line[len('turbine: final '):])
                except ValueError:
                    return None
        return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.wait_exit(10)
        self.cleanup_files()

    def cleanup_files(self):
        if self.proc is not None and self.proc.poll() is not None:
            remove_dpdk_files(self.prefix)
            shutil.rmtree(self.own_async_dir, ignore_errors=True)

    # -- telemetry

    def telemetry(self, cmd):
        """One command ("/cmd" or "/cmd,params"); its data (the reply is keyed by "/cmd" alone)."""
        conn = TelemetryConnection(self, timeout=5)
        try:
            return conn.ask(cmd)
        finally:
            conn.close()

    def stats(self):
        return self.telemetry('/turbine/stats')


# ---------------------------------------------------------------- clients


class TelemetryConnection:
    """A client of turbine's telemetry socket, kept open: DPDK serves it on a thread of its own."""

    def __init__(self, t, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        path = '/var/run/dpdk/%s/dpdk_telemetry.v2' % t.prefix
        for attempt in range(50):
            try:
                self.sock.connect(path)
                break
            except BlockingIOError:  # the listener's backlog is short: clients connecting at once wait
                if attempt == 49:
                    self.sock.close()
                    raise
                time.sleep(0.1)
        greeting = json.loads(self.sock.recv(1 << 16).decode())
        self.size = max(int(greeting.get('max_output_len', 16384)), 1 << 16)

    def ask(self, cmd):
        """One command ("/cmd" or "/cmd,params"); its data (the reply is keyed by "/cmd" alone)."""
        self.sock.send(cmd.encode())
        data = self.sock.recv(self.size)
        if not data:
            raise ConnectionError('telemetry closed the connection')
        return json.loads(data.decode())[cmd.split(',', 1)[0]]

    def close(self):
        self.sock.close()


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


class UdpClient:
    """A kernel UDP socket in the client namespace that talks msgpack to turbine.

    Every response it receives is kept in `responses`, so a test can compare
    what it saw with turbine's counters.
    """

    def __init__(self, bed, ip, port):
        self.addr = (ip, port)
        self.sock = bed.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((bed.client_ip, 0))
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.responses = []

    def close(self):
        self.sock.close()

    def send(self, payload):
        """Send one request: bytes as they are, anything else packed."""
        data = payload if isinstance(payload, (bytes, bytearray)) else pack(payload)
        self.sock.sendto(data, self.addr)
        self.sent += 1

    def recv(self, timeout=3.0):
        """One response, decoded (None on timeout; the raw bytes when they do not decode)."""
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            return None
        try:
            resp = unpack(data)
        except Exception:
            resp = data
        self.responses.append(resp)
        return resp

    def drain(self):
        while self.recv(0.01) is not None:
            pass

    def call(self, payload, timeout=3.0):
        self.drain()
        self.send(payload)
        return self.recv(timeout)


class RawPort:
    """An AF_PACKET socket on the client's end of the veth: sends crafted Ethernet frames."""

    def __init__(self, bed):
        self.sock = bed.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.sock.bind((bed.client_if, 0))
        self.mac = bed.client_mac

    def send(self, frame):
        self.sock.send(frame)

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- frames

ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17


def mac_bytes(mac):
    return bytes(int(b, 16) for b in mac.split(':'))


def ip_bytes(ip):
    return socket.inet_aton(ip)


def checksum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth(dst, src, ethertype, payload):
    return mac_bytes(dst) + mac_bytes(src) + struct.pack('!H', ethertype) + payload


def ipv4(src, dst, proto, payload, ihl=5, version=4, total_length=None, flags_frag=0,
         ident=1, ttl=64, options=b'', csum=None):
    """An IPv4 packet; any header field can be given wrong on purpose."""
    opts = options.ljust((ihl - 5) * 4, b'\0') if ihl > 5 else b''
    hlen = 20 + len(opts)
    tl = hlen + len(payload) if total_length is None else total_length
    hdr = struct.pack('!BBHHHBBH4s4s', (version << 4) | (ihl & 0xf), 0, tl, ident, flags_frag,
                      ttl, proto, 0, ip_bytes(src), ip_bytes(dst)) + opts
    c = checksum(hdr) if csum is None else csum
    hdr = hdr[:10] + struct.pack('!H', c) + hdr[12:]
    return hdr + payload


def udp_pseudo_header(src, dst, length):
    return ip_bytes(src) + ip_bytes(dst) + struct.pack('!BBH', 0, PROTO_UDP, length)


def udp(src, dst, sport, dport, payload, length=None, csum=None):
    """A UDP datagram with a correct checksum unless one is given (0: none; 'partial': what a
    kernel leaves for the device to finish, the folded pseudo-header sum)."""
    ln = 8 + len(payload) if length is None else length
    hdr = struct.pack('!HHHH', sport, dport, ln, 0)
    pseudo = udp_pseudo_header(src, dst, 8 + len(payload))
    if csum is None:
        csum = checksum(pseudo + hdr + payload) or 0xffff
    elif csum == 'partial':
        csum = ~checksum(pseudo) & 0xffff
    return hdr[:6] + struct.pack('!H', csum) + payload


def udp_frame(dst_mac, src_mac, src, dst, sport, dport, payload, **ipkw):
    return eth(dst_mac, src_mac, ETH_IPV4, ipv4(src, dst, PROTO_UDP,
                                                 udp(src, dst, sport, dport, payload), **ipkw))


def arp(op, sha, spa, tha, tpa):
    return struct.pack('!HHBBH6s4s6s4s', 1, ETH_IPV4, 6, 4, op, mac_bytes(sha), ip_bytes(spa),
                       mac_bytes(tha), ip_bytes(tpa))


def icmp(icmp_type, code, rest):
    hdr = struct.pack('!BBH', icmp_type, code, 0) + rest
    return hdr[:2] + struct.pack('!H', checksum(hdr)) + hdr[4:]


def parse_frame(frame):
    """Decode an Ethernet/IPv4/UDP|ICMP|ARP frame into a dict, checking every checksum."""
    out = {'dst': ':'.join('%02x' % b for b in frame[0:6]),
           'src': ':'.join('%02x' % b for b in frame[6:12]),
           'ethertype': struct.unpack('!H', frame[12:14])[0]}
    if out['ethertype'] == ETH_ARP:
        f = struct.unpack('!HHBBH6s4s6s4s', frame[14:42])
        out.update(arp_op=f[4], sha=':'.join('%02x' % b for b in f[5]), spa=socket.inet_ntoa(f[6]),
                   tha=':'.join('%02x' % b for b in f[7]), tpa=socket.inet_ntoa(f[8]))
        return out
    if out['ethertype'] != ETH_IPV4:
        return out
    ip = frame[14:]
    ihl = (ip[0] & 0xf) * 4
    tl = struct.unpack('!H', ip[2:4])[0]
    out.update(ip_ok=checksum(ip[:ihl]) == 0, ip_len=tl, proto=ip[9],
               ip_src=socket.inet_ntoa(ip[12:16]), ip_dst=socket.inet_ntoa(ip[16:20]),
               frag=struct.unpack('!H', ip[6:8])[0])
    l4 = ip[ihl:tl]
    if ip[9] == PROTO_UDP:
        sport, dport, ln, csum = struct.unpack('!HHHH', l4[:8])
        pseudo = ip[12:20] + struct.pack('!BBH', 0, PROTO_UDP, ln)
        out.update(sport=sport, dport=dport, udp_len=ln, udp_csum=csum,
                   udp_ok=csum != 0 and ln == len(l4) and checksum(pseudo + l4) == 0,
                   payload=l4[8:])
    elif ip[9] == PROTO_ICMP:
        out.update(icmp_type=l4[0], icmp_ok=checksum(l4) == 0, payload=l4[4:])
    return out


# ---------------------------------------------------------------- expectations

def counter_delta(before, after, names):
    return {n: after.get(n, 0) - before.get(n, 0) for n in names}


def status_counts(responses):
    """{'status_200': n, ...} and fn_errors from what a client received."""
    counts = {}
    for r in responses:
        if isinstance(r, dict) and 'status' in r:
            key = 'status_%d' % r['status']
            counts[key] = counts.get(key, 0) + 1
            if r.get('fn_error'):
                counts['fn_errors'] = counts.get('fn_errors', 0) + 1
    return counts


STATUS_COUNTERS = ['status_%d' % s for s in (200, 202, 204, 400, 403, 404, 413, 429, 500, 502, 503)]
