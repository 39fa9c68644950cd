"""SIGTERM under traffic: every request turbine admitted gets its response, then it exits 0."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES  # noqa: E402

BURST = 400          # requests sent before SIGTERM
LATE = 200           # requests sent just after SIGTERM, while turbine drains
SPIN_US = 500        # service time of each: the burst is 200 ms of work
SIGNAL_AFTER = 40    # responses received before SIGTERM
QUIET_END = 2.0      # seconds without a response that end the collection
MAX_COLLECT = 15.0


def burst(c, bed, lcores, label):
    with bed.turbine({'spin': MODULES['spin'], 'echo': MODULES['echo']}, lcores=lcores) as t:
        cl = bed.client()
        warm = cl.call({'id': 1_000_000, 'fn': 'echo', 'event': 'warm'})
        c.eq((warm or {}).get('status'), 200, label + ': warm-up answered')
        cl.responses.clear()
        for i in range(BURST):
            cl.send({'id': i, 'fn': 'spin', 'event': {'us': SPIN_US}})
        signalled_at = None
        start = time.monotonic()
        last = start
        while time.monotonic() - start < MAX_COLLECT:
            r = cl.recv(0.1)
            now = time.monotonic()
            if r is not None:
                last = now
            if signalled_at is None and (len(cl.responses) >= SIGNAL_AFTER or now - start > 1.0):
                t.proc.send_signal(signal.SIGTERM)
                signalled_at = len(cl.responses)
                for i in range(BURST, BURST + LATE):
                    cl.send({'id': i, 'fn': 'spin', 'event': {'us': SPIN_US}})
            if signalled_at is not None and now - last > QUIET_END:
                break
        rc = t.wait_exit(30)
        t.kill()
        while cl.recv(0.2) is not None:  # anything sent just before it exited
            pass
        final = t.final()
        got = cl.responses
        ids = [r.get('id') for r in got if isinstance(r, dict)]
        statuses = sorted({r.get('status') for r in got if isinstance(r, dict)})
        late = len([i for i in ids if isinstance(i, int) and i >= BURST])
        harness.log('%s: %d responses (%d before SIGTERM, %d to requests sent after it), statuses %s; '
                    'final %s' % (label, len(got), signalled_at or 0, late, statuses,
                     {k: final.get(k) for k in ('requests', 'responses', 'status_200', 'status_503')}
                     if isinstance(final, dict) else final))
        c.eq(rc, 0, label + ': exit code 0 after SIGTERM under traffic')
        if not c.ok(isinstance(final, dict), label + ': final counters printed', t.output()):
            return
        c.eq(len(ids), len(set(ids)), label + ': no response twice')
        c.ok(set(ids) <= set(range(BURST + LATE)), label + ': responses answer the burst')
        c.ok(set(statuses) <= {200, 503}, label + ': every response is 200 or 503 (draining)', statuses)
        # + 1: the warm-up request
        c.eq(final.get('requests'), len(got) + 1, label + ': every admitted request answered '
             '(final requests = responses received)')
        c.eq(final.get('responses'), len(got) + 1, label + ': final responses = responses received')
        c.ok(0 < len(got), label + ': some of the burst served', len(got))


def body(c):
    with harness.Testbed('shutdown', 5) as bed:
        burst(c, bed, '0,1', 'dispatcher + worker')
        burst(c, bed, '0', 'one lcore')


harness.main('shutdown', body)
