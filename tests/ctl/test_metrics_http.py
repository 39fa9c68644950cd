#!/usr/bin/python3
# turbinectl metrics over HTTP against a fake telemetry socket: 200 with promtool-clean text, 503 while it is gone.
"""Usage: test_metrics_http.py TURBINECTL TELEMETRY_JSON FAKE_TELEMETRY_PY

Serves the replies of TELEMETRY_JSON (tests/ctl/telemetry.json) on a fake rte_telemetry socket
(tools/ctl/fake_telemetry.py), runs `turbinectl --socket PATH metrics --listen 127.0.0.1:0` and
scrapes it on loopback: the content type, the text (checked by promtool), 503 before the socket
exists and after it goes away, 404 and 405, usage errors, and exit 0 on SIGTERM and SIGINT.
Needs no root and no DPDK."""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

PROMTOOL = '/usr/bin/promtool'
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'


def load_fake(path):
    spec = importlib.util.spec_from_file_location('fake_telemetry', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def answers(fixture):
    """The fixture's sections as the commands that answer them."""
    out = {'/turbine/stats': fixture['stats'], '/turbine/workers': fixture['workers'],
           '/turbine/ports': fixture['ports'], '/turbine/async': fixture['async']}
    out['/turbine/functions'] = {name: {'version': f['version'], 'ready': f['ready']}
                                 for name, f in fixture['functions'].items()}
    for name, f in fixture['functions'].items():
        out['/turbine/function,' + name] = f
    return out


def get(url, method='GET'):
    """(status, content type, body) of one request on loopback."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get('Content-Type'), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('Content-Type'), e.read().decode()


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, what, detail=''):
        if cond:
            self.passed += 1
            print('ok   %s' % what)
        else:
            self.failed += 1
            print('FAIL %s %s' % (what, detail))
        return cond


class Server:
    """turbinectl metrics on an ephemeral loopback port."""

    def __init__(self, ctl, sock_path):
        self.proc = subprocess.Popen([ctl, '--socket', sock_path, '--timeout-ms', '2000',
                                      'metrics', '--listen', '127.0.0.1:0'],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith('listening on 127.0.0.1:'):
            self.kill()
            raise RuntimeError('turbinectl metrics did not start: %r %r' %
                               (line, self.proc.stderr.read()))
        port = int(line.split()[2].rstrip(',').rsplit(':', 1)[1])
        self.url = 'http://127.0.0.1:%d' % port

    def stop(self, sig):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def promtool(text):
    p = subprocess.run([PROMTOOL, 'check', 'metrics'], input=text, capture_output=True,
                       text=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).strip()


def cases(c, ctl, fixture, fake, tmp):
    path = os.path.join(tmp, 'dpdk_telemetry.v2')
    server = Server(ctl, path)
    telemetry = None
    try:
        status, ctype, body = get(server.url + '/metrics')
        c.ok(status == 503, 'no socket yet: 503', (status, body))
        c.ok('cannot be reached' in body, 'no socket yet: says why', repr(body))

        telemetry = fake.FakeTelemetry(path)
        telemetry.answers = answers(fixture)
        status, ctype, body = get(server.url + '/metrics')
        c.ok(status == 200, 'socket up: 200', (status, body[:300]))
        c.ok(ctype == CONTENT_TYPE, 'Content-Type ' + CONTENT_TYPE, repr(ctype))
        for line in ('turbine_requests_total 50',
                     'turbine_function_calls_total{function="echo"} 42',
                     'turbine_function_calls_total{function="hello"} %d'
                     % fixture['functions']['hello']['calls'],
                     'turbine_worker_state{worker="1",state="stuck"} 1',
                     'turbine_async_depth 3',
                     'turbine_async_oldest_age_seconds 1.5'):
            c.ok(line in body.splitlines(), 'scrape has: ' + line)
        sent = telemetry.requests
        c.ok(set(sent) == set(telemetry.answers), 'one request per command and function',
             sorted(sent))
        rc, out = promtool(body)
        c.ok(rc == 0 and out == '', 'promtool check metrics: no error, no lint warning', out)

        status, _, body = get(server.url + '/metrics', method='HEAD')
        c.ok(status == 200 and body == '', 'HEAD /metrics: 200 without a body', status)
        status, _, _ = get(server.url + '/')
        c.ok(status == 404, 'another path: 404', status)
        status, _, _ = get(server.url + '/metrics', method='POST')
        c.ok(status == 405, 'POST: 405', status)

        # The dispatcher goes away and comes back: 503, then 200 again, from the same server.
        telemetry.close()
        status, _, body = get(server.url + '/metrics')
        c.ok(status == 503, 'socket gone: 503', (status, body[:200]))
        os.unlink(path)
        telemetry = fake.FakeTelemetry(path)
        telemetry.answers = answers(fixture)
        status, _, body = get(server.url + '/metrics')
        c.ok(status == 200 and 'turbine_requests_total 50' in body, 'socket back: 200', status)
        # An answer that stops half way (a command refused with null) leaves that part out.
        del telemetry.answers['/turbine/async']
        status, _, body = get(server.url + '/metrics')
        c.ok(status == 200 and 'turbine_async_depth' not in body and
             'turbine_requests_total 50' in body, 'a refused command: the rest still served',
             status)
        telemetry.silent = True
        status, _, body = get(server.url + '/metrics')
        c.ok(status == 503, 'no answer within --timeout-ms: 503', (status, body))
        telemetry.silent = False

        c.ok(server.stop(signal.SIGTERM) == 0, 'SIGTERM: exit 0')
    finally:
        server.kill()
        if telemetry is not None:
            telemetry.close()

    server = Server(ctl, path)
    try:
        c.ok(server.stop(signal.SIGINT) == 0, 'SIGINT: exit 0')
    finally:
        server.kill()

    # The port is taken: exit 1, saying so.
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen(1)
        p = subprocess.run([ctl, '--socket', path, 'metrics', '--listen',
                            '127.0.0.1:%d' % s.getsockname()[1]],
                           capture_output=True, text=True, timeout=10)
        c.ok(p.returncode == 1 and 'cannot listen' in p.stderr, 'port in use: exit 1',
             (p.returncode, p.stderr))
    for what, args in (('no --listen', ['metrics']),
                       ('--listen without a port', ['metrics', '--listen', '127.0.0.1']),
                       ('--listen not an address', ['metrics', '--listen', 'localhost:9']),
                       ('--listen with another command', ['stats', '--listen', '127.0.0.1:0'])):
        p = subprocess.run([ctl, '--socket', path] + args, capture_output=True, text=True,
                           timeout=10)
        c.ok(p.returncode == 64 and p.stderr != '', 'usage: %s: exit 64' % what,
             (p.returncode, p.stderr))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    ctl, fixture_path, fake_path = (os.path.abspath(a) for a in sys.argv[1:])
    if not os.access(PROMTOOL, os.X_OK):
        print('%s is missing: install Debian\'s prometheus (tools/packages [test])' % PROMTOOL)
        return 1
    with open(fixture_path) as f:
        fixture = json.load(f)
    fake = load_fake(fake_path)
    c = Checks()
    with tempfile.TemporaryDirectory(prefix='turbinectl-metrics-') as tmp:
        cases(c, ctl, fixture, fake, tmp)
    print('%d passed, %d failed' % (c.passed, c.failed))
    return 1 if c.failed or not c.passed else 0


if __name__ == '__main__':
    sys.exit(main())
