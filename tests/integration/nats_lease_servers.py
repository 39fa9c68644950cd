"""NATS servers for the integration tests: Debian's nats-server with JetStream, on loopback.

A server runs inside a network namespace the test created (the turbines'
one, whose loopback is brought up), so that it is reachable from the
turbines there and from nothing else; its storage is a temporary folder
removed with it. The test kills what it starts, also on failure.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import harness

NATS_SERVER = next((p for p in ('/usr/sbin/nats-server', '/usr/bin/nats-server')
                    if os.path.exists(p)), None)


def available():
    return NATS_SERVER is not None


class NatsServer:
    """One nats-server -js in namespace `netns`, listening on 127.0.0.1:port."""

    def __init__(self, netns, port=4222, name='n1'):
        self.netns = netns
        self.port = port
        self.name = name
        self.url = 'nats://127.0.0.1:%d' % port
        self.store = None
        self.proc = None
        self.log = None

    def start(self, timeout=15.0):
        harness.run(['ip', '-n', self.netns, 'link', 'set', 'lo', 'up'])
        if self.store is None:
            self.store = tempfile.mkdtemp(prefix='tb-nats-')
        self.log = open(os.path.join(self.store, 'server.log'), 'a')
        cmd = ['ip', 'netns', 'exec', self.netns, NATS_SERVER, '-js', '-sd', self.store,
               '-a', '127.0.0.1', '-p', str(self.port), '-n', self.name]
        harness.log('starting: ' + ' '.join(cmd))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not harness.wait_until(self.listening, timeout, 0.1):
            self.stop()
            raise RuntimeError('nats-server did not listen on %s within %.0f s' % (self.url, timeout))
        return self

    def listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError('nats-server exited %s:\n%s' % (self.proc.returncode, self.output()))
        with harness.in_netns(self.netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(0.5)
            s.connect(('127.0.0.1', self.port))
            return s.recv(4096).startswith(b'INFO')
        except OSError:
            return False
        finally:
            s.close()

    def output(self):
        if self.store is None:
            return ''
        try:
            with open(os.path.join(self.store, 'server.log')) as f:
                return ''.join(f.readlines()[-40:])
        except OSError:
            return ''

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self):
        """Kill it and remove its storage."""
        self.kill()
        if self.store is not None:
            shutil.rmtree(self.store, ignore_errors=True)
            self.store = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def kv_get(server, bucket, key, timeout=5.0):
    """A key's value in a bucket, read over the NATS protocol itself (no client library):
    the JetStream direct-get API of the bucket's stream. None when the key is missing."""
    with harness.in_netns(server.netns):
        s = socket.create_connection(('127.0.0.1', server.port), timeout)
    try:
        f = s.makefile('rb')
        f.readline()                                    # INFO
        inbox = '_INBOX.tb%d' % os.getpid()
        req = b'{"last_by_subj":"$KV.%s.%s"}' % (bucket.encode(), key.encode())
        s.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
                  b'SUB %s 1\r\nPUB $JS.API.DIRECT.GET.KV_%s %s %d\r\n%s\r\nPING\r\n'
                  % (inbox.encode(), bucket.encode(), inbox.encode(), len(req), req))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            line = f.readline()
            if line.startswith(b'HMSG'):
                parts = line.split()
                hlen, tlen = int(parts[-2]), int(parts[-1])
                body = f.read(tlen + 2)[:tlen]
                headers, payload = body[:hlen], body[hlen:]
                if b' 404' in headers.split(b'\r\n')[0] or b'Status: 404' in headers:
                    return None
                return payload.decode()
            if line.startswith(b'-ERR'):
                raise RuntimeError('NATS: %s' % line.decode().strip())
        return None
    finally:
        s.close()
