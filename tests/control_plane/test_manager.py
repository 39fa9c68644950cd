"""The worker manager: an idle function's environments are torn down to one, a busy one grows.

Three workers; `shared` (unreserved) starts warm on all three. With
--idle-environment-s 1 it shrinks to one environment once idle; a burst of
calls that queue behind that one makes the manager add environments while
the burst runs, each initialised before dispatch may use it: no call is
refused, fails or waits for a cold start. Idle again, it shrinks again. Then the same with
`shared` in process mode: each environment a sandbox process, started (grow) and ended (shrink)
by the control thread.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402

PEAK = os.environ.get('TURBINE_MODULE_PEAK', '')
SANDBOX = os.environ.get('TURBINE_SANDBOX', '')


def environments(t):
    return t.telemetry('/turbine/function,shared')['environments']


class Prefixed:
    """Checks whose names say which isolation mode ran."""

    def __init__(self, checks, prefix):
        self.checks = checks
        self.prefix = prefix

    def ok(self, cond, what, detail=None):
        return self.checks.ok(cond, '%s: %s' % (self.prefix, what), detail)

    def eq(self, actual, expected, what):
        return self.checks.eq(actual, expected, '%s: %s' % (self.prefix, what))


def body(c):
    with harness.Testbed('manager', 44) as bed:
        scenario(Prefixed(c, 'thread'), bed, PEAK)
        if SANDBOX and os.path.exists(SANDBOX):
            scenario(Prefixed(c, 'process'), bed, PEAK + ',isolation=process')
            c.eq(sandbox_count(), 0, 'process: no sandbox left')


def sandbox_count():
    n = 0
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            n += os.readlink('/proc/%s/exe' % pid) in (SANDBOX, SANDBOX + ' (deleted)')
        except OSError:
            pass
    return n


def scenario(c, bed, shared):
    with bed.turbine({'shared': shared, 'echo': harness.MODULES['echo']}, lcores='0@0,1@1,2@1,3@1',
                     args=['--idle-environment-s', '1']) as t:
        c.eq(environments(t), 3, 'an unreserved function starts warm on every worker')
        c.ok(harness.wait_until(lambda: environments(t) == 1, 8.0), 'idle, it shrinks to one')
        c.eq(t.telemetry('/turbine/workers')['0']['state'], 'ok', 'workers stay in dispatch')

        client = harness.UdpClient(bed, bed.turbine_ip, harness.SERVICE_PORT)
        n = 200  # 3 s of calls arriving faster than one environment serves them
        grew = 0
        for i in range(n):
            client.send({'id': i + 1, 'fn': 'shared', 'event': {'us': 20000}})
            time.sleep(0.015)
        deadline = time.monotonic() + 15
        while len(client.responses) < n and time.monotonic() < deadline:
            client.recv(0.5)
            grew = max(grew, environments(t))
        answers = [r for r in client.responses if isinstance(r, dict)]
        c.eq(len(answers), n, 'every call of the burst answered')
        c.ok(all(a['status'] == 200 and 'fn_error' not in a for a in answers),
             'all 200, none failed or refused')
        c.ok(grew > 1, 'calls queueing behind one environment make it grow', grew)
        workers = {a['body']['worker'] for a in answers}
        c.ok(len(workers) > 1, 'and the new environments took calls', workers)
        c.ok(harness.wait_until(lambda: environments(t) == 1, 8.0), 'idle again, it shrinks again')
        r = client.call({'id': 1000, 'fn': 'shared', 'event': {'us': 1}})
        c.eq(r['status'] if r else None, 200, 'and still serves')
        client.close()
        rc, final = t.stop()
        c.eq(rc, 0, 'turbine exits 0')
        c.eq(final['requests'], final['responses'], 'every request got a response')


if __name__ == '__main__':
    if not PEAK:
        harness.log('TURBINE_MODULE_PEAK must be set (run through meson test)')
        sys.exit(1)
    harness.main('manager', body)
