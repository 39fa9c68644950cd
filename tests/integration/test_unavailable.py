"""503 when no worker can take a call: the message says why, so that an operator can act on it.

A worker drained by an operator (the telemetry drain command) and full queues here;
a stuck worker and a stopping dispatcher in test_shutdown.py, which has a handler
that never returns. Full queues: one worker, calls of 5 ms sent faster than that
into a ring of 1024; then SIGTERM with a short drain_timeout_ms, so that the worker,
busy but not stuck, has its queue taken over at the deadline: every call is
answered exactly once, run (200) or refused (503).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES  # noqa: E402

RING = 1024          # RUNTIME_RING_SIZE: one dispatcher-worker queue holds RING - 1
FLOOD = 1500         # calls sent at once: well past what the queue holds
SPIN_US = 5000       # each: the worker runs about ten while the flood arrives
DRAIN_MS = 300
PACE = 50            # calls sent between short pauses


def collect(cl, seconds):
    """Receive whatever comes for this long."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        cl.recv(max(0.01, end - time.monotonic()))


def body(c):
    with harness.Testbed('unavailable', 9) as bed:
        fns = {'echo': MODULES['echo'], 'spin': MODULES['spin'] + ',timeout_ms=10000'}
        with bed.turbine(fns, lcores='0,1', args=['--drain-timeout-ms', str(DRAIN_MS)]) as t:
            cl = bed.client()
            c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, 'served before')

            c.eq(t.telemetry('/turbine/drain,0'), {'ok': 1}, 'drain worker 0')
            r = cl.call({'id': 2, 'fn': 'echo'})
            c.eq((r or {}).get('message'),
                 'no worker can take function echo now: worker 0 is out of dispatch, '
                 'drained by an operator', 'a drained worker: the message says so')
            c.eq(t.telemetry('/turbine/undrain,0'), {'ok': 1}, 'undrain worker 0')
            c.eq((cl.call({'id': 3, 'fn': 'echo'}) or {}).get('status'), 200, 'served again')

            before = t.stats()
            cl.responses.clear()
            # Paced a little, so that the port's receive ring does not overflow on a busy machine.
            for i in range(FLOOD):
                cl.send({'id': 1000 + i, 'fn': 'spin', 'event': {'us': SPIN_US}})
                if i % PACE == PACE - 1:
                    time.sleep(0.002)
            # The refusals come at once; the queue takes seconds more to run.
            collect(cl, 1.0)
            full = [r for r in cl.responses if isinstance(r, dict) and r.get('status') == 503]
            received = t.stats()['requests'] - before['requests']
            harness.log('%d of %d calls received; %d refused while the queue was full' %
                        (received, FLOOD, len(full)))
            c.ok(received > RING + 50, 'the flood outgrows the queue', received)
            c.ok(len(full) > 0, 'the calls past a full queue are refused', len(full))
            c.eq({r.get('message') for r in full},
                 {'no worker can take function spin now: its queues are full'},
                 'full queues: the message says so')
            after = t.stats()
            c.eq(after['drop_ring_full'] - before['drop_ring_full'], len(full),
                 'counted as drop_ring_full')

            t.proc.send_signal(signal.SIGTERM)
            rc = t.wait_exit(30)
            while cl.recv(0.5) is not None:
                pass
            final = t.final() or {}
            got = [r for r in cl.responses if isinstance(r, dict)]
            ids = [r.get('id') for r in got]
            statuses = {}
            for r in got:
                key = (r.get('status'), r.get('message', '').split(':')[0])
                statuses[key] = statuses.get(key, 0) + 1
            harness.log('answers: %s' % statuses)
            c.eq(rc, 3, 'exit status 3: calls were still queued at the deadline')
            c.eq(len(ids), len(set(ids)), 'no call of the flood answered twice')
            c.eq(len(ids), received, 'every call of the flood that arrived answered, none missing')
            full_ids = {r.get('id') for r in full}
            c.ok(all(r.get('status') == 200 or 'stopping' in r.get('message', '') or
                     r.get('id') in full_ids for r in got),
                 'each one run, refused as full, or refused as stopping')
            c.ok(any('stopping' in r.get('message', '') for r in got),
                 'the queue taken over at the deadline was answered 503, stopping')
            c.ok('requests' in final and final['requests'] == final.get('responses'),
                 'final: every request answered', t.output())


harness.main('unavailable', body)
