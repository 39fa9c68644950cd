"""Telemetry read with DPDK's own client, dpdk-telemetry.py, and turbinectl's views of it.

Also the worker manager: a worker stuck in a long call stops beating, is
reported and taken out of dispatch, and comes back when it beats again; a
drained worker takes no new calls.
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log  # noqa: E402

TURBINECTL = os.environ.get('TURBINECTL', '')
DPDK_TELEMETRY = '/usr/bin/dpdk-telemetry.py'


def dpdk_telemetry(t, *cmds):
    """Send commands through dpdk-telemetry.py's interactive loop; the replies, parsed, in order."""
    p = subprocess.run(['/usr/bin/python3', DPDK_TELEMETRY, '-f', t.prefix],
                       input='\n'.join(cmds) + '\n', stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    replies = []
    for line in p.stdout.splitlines():
        line = line.strip().lstrip('-> ').strip()
        if line.startswith('{'):
            try:
                replies.append(json.loads(line))
            except ValueError:
                pass
    log('dpdk-telemetry.py: %d replies' % len(replies))
    return replies


def ctl(t, *args):
    p = subprocess.run([TURBINECTL, '-f', t.prefix] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30, stdin=subprocess.DEVNULL)
    log('turbinectl %s -> %d\n%s%s' % (' '.join(args), p.returncode, p.stdout, p.stderr))
    return p


def body(c):
    with harness.Testbed('telemetry', 43) as bed:
        fns = {'echo': harness.MODULES['echo'], 'spin': harness.MODULES['spin'] + ',timeout_ms=5000'}
        with bed.turbine(fns, lcores='0,1') as t:
            client = bed.client()
            for i in range(10):
                client.call({'id': i + 1, 'fn': 'echo', 'event': i})

            cmds = ['/turbine/stats', '/turbine/functions', '/turbine/function,echo',
                    '/turbine/workers', '/turbine/ports', '/turbine/function,nope']
            replies = dpdk_telemetry(t, *cmds)
            c.eq(len(replies), len(cmds), 'dpdk-telemetry.py: one reply per command')
            by_cmd = {}
            for r in replies[:-1]:
                by_cmd.update(r)
            c.eq(replies[-1:], [{'/turbine/function': None}], 'an unknown function: no data')
            c.eq(by_cmd.get('/turbine/stats', {}).get('status_200'), 10, 'stats: ten 200s')
            c.ok(by_cmd.get('/turbine/stats', {}).get('mempool_size', 0) > 0, 'stats: mempool size')
            fnd = by_cmd.get('/turbine/functions', {})
            c.eq(sorted(fnd), ['echo', 'spin'], 'functions: both listed')
            c.eq(fnd.get('echo', {}).get('version'), '1', 'functions: version')
            one = by_cmd.get('/turbine/function', {})
            c.eq(one.get('calls'), 10, 'function,echo: ten calls')
            c.eq(one.get('latency_ns', {}).get('count'), 10, 'function,echo: ten latencies')
            c.ok(0 < one.get('latency_ns', {}).get('p50', 0) <= one['latency_ns']['p99'],
                 'function,echo: ordered percentiles')
            c.eq(sorted(one.get('throttles', {})),
                 sorted(['ReservedFunctionConcurrentInvocationLimitExceeded',
                         'ConcurrentInvocationLimitExceeded',
                         'ReservedFunctionInvocationRateLimitExceeded', 'CallerRateLimitExceeded']),
                 'function,echo: throttles by every reason')
            wk = by_cmd.get('/turbine/workers', {})
            c.eq(list(wk), ['0'], 'workers: one')
            c.eq(wk.get('0', {}).get('state'), 'ok', 'workers: beating')
            c.eq(sorted(wk.get('0', {}).get('functions', [])), ['echo', 'spin'], 'workers: holds both')
            ports = by_cmd.get('/turbine/ports', {})
            c.eq(ports.get('mac', '').lower(), t.mac, 'ports: the MAC of the ready line')
            c.ok(ports.get('ipackets', 0) >= 10, 'ports: packets counted')

            for sub in (['stats'], ['functions'], ['function', 'echo'], ['workers'], ['ports']):
                c.eq(ctl(t, *sub).returncode, 0, 'turbinectl %s' % ' '.join(sub))
            p = ctl(t, '--json', 'workers')
            c.eq(json.loads(p.stdout).get('0', {}).get('lcore'), 1, 'turbinectl --json workers')
            # The asynchronous queue: one Event, seen by turbinectl once it ran.
            ev = client.call({'id': 90, 'fn': 'echo', 'type': 'Event', 'event': 1})
            c.eq((ev or {}).get('status'), 202, 'an Event accepted')
            ran = harness.wait_until(
                lambda: json.loads(ctl(t, '--json', 'async').stdout).get('succeeded') == 1, 5.0)
            c.ok(ran, 'turbinectl --json async: the Event succeeded', ctl(t, '--json', 'async').stdout)
            p = ctl(t, 'async')
            c.ok(p.returncode == 0 and any(line.split()[:2] == ['depth', '0']
                                           for line in p.stdout.splitlines()),
                 'turbinectl async: depth 0 once it ran', p.stdout)

            # A call that keeps the only worker busy for 2.5 s: its loop stops coming round.
            client.send({'id': 100, 'fn': 'spin', 'event': {'us': 2500000}})
            stale = harness.wait_until(
                lambda: t.telemetry('/turbine/workers')['0']['state'] == 'stale', 3.0)
            c.ok(stale, 'a worker stuck in a call is reported stale')
            r = client.call({'id': 101, 'fn': 'echo'}, timeout=1.0)
            c.ok(r is not None and r['status'] == 503 and r['error'] == 'ServiceUnavailableException',
                 'and takes no new call: 503, not a wait', r)
            back = harness.wait_until(lambda: t.telemetry('/turbine/workers')['0']['state'] == 'ok', 5.0)
            c.ok(back, 'it is back once it beats again')
            client.drain()
            late = [x for x in client.responses if isinstance(x, dict) and x.get('id') == 100]
            c.ok(late and late[0]['status'] == 200, 'the long call itself was answered', late)
            c.ok(any('stopped beating' in line for line in t.err), 'the operator was told')

            c.eq(ctl(t, 'drain', '0').returncode, 0, 'turbinectl drain')
            r = client.call({'id': 102, 'fn': 'echo'})
            c.eq(r['status'] if r else None, 503, 'a drained worker takes no call')
            c.eq(t.telemetry('/turbine/workers')['0']['state'], 'drained', 'and says it is drained')
            c.eq(ctl(t, 'undrain', '0').returncode, 0, 'turbinectl undrain')
            r = client.call({'id': 103, 'fn': 'echo'})
            c.eq(r['status'] if r else None, 200, 'then it serves again')
            c.eq(ctl(t, 'drain', '7').returncode, 1, 'draining a worker that does not exist is refused')
            client.close()
            rc, _ = t.stop()
            c.eq(rc, 0, 'turbine exits 0')


if __name__ == '__main__':
    if not TURBINECTL or not os.path.exists(DPDK_TELEMETRY):
        harness.skip('needs turbinectl and dpdk-telemetry.py (package dpdk-dev)')
    harness.main('telemetry', body)
