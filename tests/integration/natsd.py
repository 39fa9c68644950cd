"""NATS servers with JetStream for the tests of the jetstream queue backend, and a second Turbine link.

Each server is Debian's nats-server, started inside the bed's server namespace (where turbine
runs, so that both reach it on that namespace's loopback and nothing else can), listening on
127.0.0.1 on a free port, its store in a temporary folder. `cluster(bed, 3)` starts three
clustered on loopback (-cluster/-routes). Every server is killed by PID when the test ends.

`second_link(bed, k)` joins the same two namespaces with another veth pair (198.18.k.0/24), so a
second turbine (node B) runs beside the first, on its own port, reaching the same NATS servers.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import harness
from harness import log, run

NATS_SERVER = os.environ.get('NATS_SERVER', '/usr/sbin/nats-server')   # Debian's nats-server
READY_WITHIN = 20.0


def loopback_up(bed):
    run(['ip', '-n', bed.server_ns, 'link', 'set', 'lo', 'up'])


_given = set()


def free_port(bed):
    """A TCP port nobody listens on in the bed's server namespace, and not given before."""
    while True:
        with harness.in_netns(bed.server_ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _given:
            _given.add(port)
            return port


def _connects(bed, port):
    with harness.in_netns(bed.server_ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class NatsServer:
    """One nats-server -js in the bed's server namespace; start() waits until it is ready."""

    def __init__(self, bed, name='n1', port=None, cluster_port=None, routes=()):
        self.bed = bed
        self.name = name
        self.port = port or free_port(bed)
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.monitor_port = free_port(bed)
        self.store = tempfile.mkdtemp(prefix='tb-nats-%s-' % name)
        self.logfile = os.path.join(self.store, 'nats.log')
        self.proc = None

    @property
    def url(self):
        return 'nats://127.0.0.1:%d' % self.port

    def cmd(self):
        cmd = ['ip', 'netns', 'exec', self.bed.server_ns, NATS_SERVER, '-js', '-sd',
               os.path.join(self.store, 'js'), '-a', '127.0.0.1', '-p', str(self.port),
               '-n', self.name, '-l', self.logfile, '-m', str(self.monitor_port)]
        if self.cluster_port:
            cmd += ['--cluster_name', 'tb', '--cluster', 'nats://127.0.0.1:%d' % self.cluster_port,
                    '--routes', ','.join('nats://127.0.0.1:%d' % p for p in self.routes)]
        return cmd

    def start(self, wait=True):
        log('starting: ' + ' '.join(self.cmd()))
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self.start_wait() if wait else self

    def start_wait(self):
        if not harness.wait_until(lambda: self.proc.poll() is not None or
                                           _connects(self.bed, self.port), READY_WITHIN):
            raise RuntimeError('nats-server %s did not listen within %.0f s\n%s' %
                               (self.name, READY_WITHIN, self.log_tail()))
        if self.proc.poll() is not None:
            raise RuntimeError('nats-server %s exited %s\n%s' % (self.name, self.proc.returncode,
                                                                  self.log_tail()))
        return self

    def monitor(self, path):
        """A monitoring endpoint's JSON (/connz, /jsz...), None when it does not answer."""
        try:
            with harness.in_netns(self.bed.server_ns):
                with urllib.request.urlopen('http://127.0.0.1:%d%s' % (self.monitor_port, path),
                                            timeout=2) as r:
                    return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def client_names(self):
        """Names of the clients connected to this server."""
        doc = self.monitor('/connz') or {}
        return [c.get('name') for c in doc.get('connections') or []]

    def meta_leader(self):
        """The JetStream meta group's leader as this server sees it ('' when none yet)."""
        doc = self.monitor('/jsz') or {}
        return (doc.get('meta_cluster') or {}).get('leader') or ''

    def stream_detail(self, stream):
        """`stream` as this server's /jsz reports it: name, config, state (first_seq, last_seq,
        messages...), cluster and consumer_detail (each with delivered.consumer_seq and
        .stream_seq, num_redelivered...); {} when it does not know it."""
        doc = self.monitor('/jsz?streams=true&consumers=true&config=true') or {}
        for acc in doc.get('account_details') or []:
            for st in acc.get('stream_detail') or []:
                if st.get('name') == stream:
                    return st
        return {}

    def stream_leader(self, stream):
        """The name of the server leading `stream`'s replicas, as this server reports it."""
        return (self.stream_detail(stream).get('cluster') or {}).get('leader') or ''

    def log_tail(self, n=30):
        try:
            with open(self.logfile) as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def kill(self):
        """SIGKILL, as a crash (the store stays for a restart)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def close(self):
        self.kill()
        shutil.rmtree(self.store, ignore_errors=True)


def cluster(bed, n=3):
    """n clustered servers on loopback (not yet started): each routes to every other."""
    ports = [free_port(bed) for _ in range(2 * n)]
    client, routes = ports[:n], ports[n:]
    return [NatsServer(bed, 'n%d' % (i + 1), client[i], routes[i],
                       [routes[j] for j in range(n) if j != i]) for i in range(n)]


def cluster_url(servers):
    return ','.join(s.url for s in servers)


def start_cluster(servers):
    """Start them all, then wait until JetStream has a meta leader (streams can be made)."""
    for s in servers:
        s.start(wait=False)
    for s in servers:
        s.start_wait()
    if not harness.wait_until(lambda: all(s.meta_leader() for s in servers), READY_WITHIN):
        raise RuntimeError('the NATS cluster has no JetStream leader after %.0f s\n%s' %
                           (READY_WITHIN, servers[0].log_tail()))


def second_link(bed, k):
    """A bed for node B: another veth pair between the same namespaces, 198.18.k.0/24."""
    b = harness.Testbed(bed.test, k, network=False)
    run(['ip', 'link', 'add', b.host_if, 'netns', bed.server_ns, 'type', 'veth',
         'peer', 'name', b.client_if, 'netns', bed.client_ns])
    run(['ip', '-n', bed.server_ns, 'link', 'set', b.host_if, 'up'])
    run(['ip', '-n', bed.client_ns, 'link', 'set', b.client_if, 'up'])
    run(['ip', '-n', bed.client_ns, 'addr', 'add', b.client_ip + '/24', 'dev', b.client_if])
    time.sleep(0.1)
    return b


def settings(url, stream, replicas=1, ack_wait_ms=3000):
    """The configuration keys of the jetstream backend, for test_async.Case's `settings`."""
    return {'async_backend': 'jetstream', 'nats_url': url, 'nats_stream': stream,
            'nats_replicas': replicas, 'nats_ack_wait_ms': ack_wait_ms}
