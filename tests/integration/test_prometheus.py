"""The real Prometheus server scrapes `turbinectl metrics` and its query API returns Turbine's counts.

Turbine runs on af_packet with echo and hello; the client namespace sends a known number of calls;
`turbinectl -f PREFIX metrics` serves /metrics on 127.0.0.1 and Debian's prometheus scrapes it
every second (its own HTTP API on 127.0.0.1 too). The test polls the API until the request
counter equals the calls sent, then checks a per-function series and the async queue's gauge.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES  # noqa: E402

TURBINECTL = os.environ.get('TURBINECTL', '')
PROMETHEUS = '/usr/bin/prometheus'
CALLS = {'echo': 7, 'hello': 3}
SCRAPE_WAIT = 30.0


def free_port():
    """A loopback TCP port nothing listens on now (prometheus takes no port 0)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def query(api, expr):
    """The instant vector of expr as {frozenset(labels): value}, or None when the API fails."""
    url = '%s/api/v1/query?%s' % (api, urllib.parse.urlencode({'query': expr}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.loads(r.read().decode())
    except (OSError, ValueError):
        return None
    if doc.get('status') != 'success':
        return None
    return {frozenset(s['metric'].items()): float(s['value'][1]) for s in doc['data']['result']}


def stop(proc, name):
    """SIGTERM, then SIGKILL; the exit code (None when it had to be killed)."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        harness.log('%s did not exit within 15 s of SIGTERM; killing it' % name)
        proc.kill()
        proc.wait(10)
        return None


def tail(path, n=20):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-n:])
    except OSError:
        return ''


def start_metrics(prefix):
    """turbinectl metrics on an ephemeral loopback port: (process, port)."""
    proc = subprocess.Popen([TURBINECTL, '-f', prefix, 'metrics', '--listen', '127.0.0.1:0'],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith('listening on 127.0.0.1:'):
        stop(proc, 'turbinectl')
        raise RuntimeError('turbinectl metrics did not start: %r' % line)
    return proc, int(line.split()[2].rstrip(',').rsplit(':', 1)[1])


def start_prometheus(tmp, target_port):
    """Prometheus scraping 127.0.0.1:target_port every second: (process, API base, log path)."""
    port = free_port()
    config = os.path.join(tmp, 'prometheus.yml')
    with open(config, 'w') as f:
        f.write('global:\n'
                '  scrape_interval: 1s\n'
                '  scrape_timeout: 1s\n'
                'scrape_configs:\n'
                '  - job_name: turbine\n'
                '    static_configs:\n'
                '      - targets: ["127.0.0.1:%d"]\n' % target_port)
    log_path = os.path.join(tmp, 'prometheus.log')
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([PROMETHEUS, '--config.file=' + config,
                                 '--storage.tsdb.path=' + os.path.join(tmp, 'data'),
                                 '--web.listen-address=127.0.0.1:%d' % port],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=tmp)
    return proc, 'http://127.0.0.1:%d' % port, log_path


def send_calls(c, bed):
    """The calls of CALLS from the client namespace, each answered 200 before the next."""
    cl = bed.client()
    try:
        n = 0
        for fn, count in CALLS.items():
            for i in range(count):
                n += 1
                r = cl.call({'id': n, 'fn': fn, 'event': {'i': i}}, timeout=5.0)
                c.ok(isinstance(r, dict) and r.get('status') == 200, 'call %d (%s) answered 200'
                     % (n, fn), r)
    finally:
        cl.close()
    return n


def only_value(vector):
    """The value of a vector holding exactly one series, else None."""
    if not vector or len(vector) != 1:
        return None
    return next(iter(vector.values()))


def body(c):
    if not os.access(PROMETHEUS, os.X_OK):
        c.ok(False, '%s is installed (Debian\'s prometheus, tools/packages [test])' % PROMETHEUS)
        return
    fns = {name: MODULES[name] for name in CALLS}
    tmp = tempfile.mkdtemp(prefix='turbine-prometheus-')
    metrics = prom = None
    try:
        with harness.Testbed('prometheus', 52) as bed, bed.turbine(fns) as t:
            sent = send_calls(c, bed)
            c.eq(t.stats().get('requests'), sent, 'turbine counted the calls sent')

            metrics, port = start_metrics(t.prefix)
            with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as r:
                c.eq(r.headers.get('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8',
                     'the Content-Type of the exposition format')
                text = r.read().decode()
            p = subprocess.run(['promtool', 'check', 'metrics'], input=text, text=True,
                               capture_output=True, timeout=30)
            c.ok(p.returncode == 0 and (p.stdout + p.stderr).strip() == '',
                 'promtool check metrics on a real turbine\'s scrape', p.stdout + p.stderr)

            # A counter added to the data plane is exposed anyway, with a stand-in help text;
            # this asks for a real one in tools/ctl/prometheus.c's prom_stats_rules.
            generic = [line for line in text.splitlines()
                       if line.startswith('# HELP') and 'The data-plane counter' in line]
            c.ok(not generic, 'every counter of /turbine/stats has a help text of its own',
                 generic)

            prom, api, log_path = start_prometheus(tmp, port)
            # Scraped once a second: the value arrives within a few scrapes of the server's start.
            started = time.monotonic()
            got = harness.wait_until(
                lambda: only_value(query(api, 'turbine_requests_total{job="turbine"}')) == sent,
                SCRAPE_WAIT, interval=0.5)
            vector = query(api, 'turbine_requests_total{job="turbine"}')
            harness.log('Prometheus\' API answered in %.1f s' % (time.monotonic() - started))
            c.ok(got, 'Prometheus\' API returns turbine_requests_total = %d, the calls sent'
                 % sent, 'got %r; prometheus log:\n%s' % (vector, tail(log_path)))

            for fn, count in CALLS.items():
                v = only_value(query(api, 'turbine_function_calls_total{job="turbine",function="%s"}'
                                     % fn))
                c.eq(v, count, 'turbine_function_calls_total{function="%s"}' % fn)
            v = only_value(query(api, 'turbine_async_depth{job="turbine"}'))
            c.eq(v, 0, 'the async queue\'s depth gauge is scraped (nothing queued)')
            v = only_value(query(api, 'up{job="turbine"}'))
            c.eq(v, 1, 'the target is up')

            c.eq(stop(metrics, 'turbinectl'), 0, 'turbinectl metrics exits 0 on SIGTERM')
            c.eq(stop(prom, 'prometheus'), 0, 'prometheus exits 0 on SIGTERM')
    finally:
        stop(metrics, 'turbinectl')
        stop(prom, 'prometheus')
        shutil.rmtree(tmp, ignore_errors=True)


harness.main('prometheus', body, required=[harness.TURBINE, TURBINECTL] +
             [MODULES[name] for name in CALLS])
