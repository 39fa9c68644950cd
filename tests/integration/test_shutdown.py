"""SIGTERM under traffic: every request turbine admitted gets its response, then it exits 0.

With a handler that never returns (the `loop` module), SIGTERM still ends within
drain_timeout_ms and a second: the calls queued behind it get 503 (the dispatcher
is stopping), the final counters are printed with the stuck worker named, the
environments of the other workers are torn down, and turbine exits 3; a second
signal exits 4 at once. Also the messages of calls refused because the only worker
is stuck, and because the dispatcher is stopping.
"""

import os
import re
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

DRAIN_MS = 1500      # drain_timeout_ms of the runs with a stuck worker
EXIT_SLACK = 1.0     # they must exit within drain_timeout_ms + this many seconds
EXIT_TIMEOUT = 3     # turbine's exit status past the deadline with work left undone
EXIT_SIGNAL = 4      # and on a second signal
QUEUED = 5           # calls queued behind the stuck one
# Far beyond each run: here the handler that never returns is never answered at its deadline
# either (test_deadlines.py), so the shutdown is all that ends it.
LOOP = MODULES['loop'] + ',timeout_ms=600000'


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


def by_id(responses):
    return {r.get('id'): r for r in responses if isinstance(r, dict)}


def stopping(r):
    return (isinstance(r, dict) and r.get('status') == 503 and
            r.get('error') == 'ServiceUnavailableException' and 'stopping' in r.get('message', ''))


def sigterm_and_time(t, timeout):
    """SIGTERM; (exit code or None, seconds until it exited)."""
    start = time.monotonic()
    t.proc.send_signal(signal.SIGTERM)
    rc = t.wait_exit(timeout)
    return rc, time.monotonic() - start


def start_loop(c, cl, label):
    """A warm-up echo, then a call of `loop`, which never returns; its worker is stuck after this."""
    warm = cl.call({'id': 1_000_000, 'fn': 'echo', 'event': 'warm'})
    c.eq((warm or {}).get('status'), 200, label + ': warm-up answered')
    cl.responses.clear()
    cl.send({'id': 0, 'fn': 'loop'})
    time.sleep(0.2)


def check_exit(c, t, label, rc, seconds):
    c.eq(rc, EXIT_TIMEOUT, label + ': exit status %d past drain_timeout_ms' % EXIT_TIMEOUT)
    c.ok(seconds <= DRAIN_MS / 1000 + EXIT_SLACK,
         label + ': exited within drain_timeout_ms + %.0f s' % EXIT_SLACK, '%.2f s' % seconds)
    final = t.final()
    c.ok(isinstance(final, dict), label + ': final counters printed', t.output())
    c.ok(any(re.match(r'turbine: worker \d+ \(lcore \d+\) still busy in function loop for '
                      r'[\d.]+ s$', line) for line in t.err),
         label + ': the stuck worker is named', t.output())
    return final if isinstance(final, dict) else {}


def stuck_apart(c, bed):
    """Dispatcher and worker on separate lcores; the only worker never returns."""
    label = 'stuck worker, dispatcher apart'
    fns = {'loop': LOOP, 'echo': MODULES['echo']}
    with bed.turbine(fns, lcores='0@0,1@1', args=['--drain-timeout-ms', str(DRAIN_MS)]) as t:
        cl = bed.client()
        start_loop(c, cl, label)
        for i in range(1, QUEUED + 1):
            cl.send({'id': i, 'fn': 'echo', 'event': i})
        c.eq(cl.recv(0.3), None, label + ': calls behind the stuck one wait in its queue')
        # Out of dispatch once its heartbeat is a second old: new calls are refused, saying why.
        stale = harness.wait_until(lambda: t.telemetry('/turbine/workers')['0']['state'] == 'stale', 3)
        c.ok(stale, label + ': the worker is reported stale')
        r = cl.call({'id': 100, 'fn': 'echo'}, timeout=1.0)
        msg = (r or {}).get('message', '') if isinstance(r, dict) else ''
        c.ok(isinstance(r, dict) and r.get('status') == 503 and
             re.search(r'no worker can take function echo now: worker 0 is out of dispatch, stuck: '
                       r'its handler \(function loop\) has been running for \d+ ms', msg),
             label + ': a new call hears the only worker is stuck, and for how long', r)
        c.ok('queues are full' not in msg, label + ': not that its queues are full', msg)

        start = time.monotonic()
        t.proc.send_signal(signal.SIGTERM)
        r = cl.call({'id': 101, 'fn': 'echo'}, timeout=1.0)
        c.ok(stopping(r) and 'no worker can take function echo now: the dispatcher is stopping'
             in r.get('message', ''), label + ': a call during the drain hears it is stopping', r)
        rc = t.wait_exit(DRAIN_MS / 1000 + 10)
        seconds = time.monotonic() - start
        while cl.recv(0.3) is not None:
            pass
        final = check_exit(c, t, label, rc, seconds)
        got = by_id(cl.responses)
        queued = [got.get(i) for i in range(1, QUEUED + 1)]
        c.ok(all(stopping(r) for r in queued), label + ': every queued call got 503, stopping', queued)
        c.ok(all('worker 0' in r.get('message', '') for r in queued if stopping(r)),
             label + ': naming the busy worker', queued[:1])
        c.ok(0 not in got, label + ': the stuck call itself got nothing')
        # + 1: the warm-up request; the loop call is the one request without a response.
        c.eq(final.get('requests'), len(cl.responses) + 2, label + ': every other request answered')
        c.eq(final.get('responses'), len(cl.responses) + 1, label + ': final responses = received')


def stuck_one_lcore(c, bed):
    """Run to completion on one lcore: the handler holds the only lcore, the bound comes from another thread."""
    label = 'stuck handler, one lcore'
    fns = {'loop': LOOP, 'echo': MODULES['echo']}
    with bed.turbine(fns, lcores='0', args=['--drain-timeout-ms', str(DRAIN_MS)]) as t:
        cl = bed.client()
        start_loop(c, cl, label)
        rc, seconds = sigterm_and_time(t, DRAIN_MS / 1000 + 10)
        final = check_exit(c, t, label, rc, seconds)
        c.eq(final.get('requests'), 2, label + ': the final counters count both requests')


def stuck_two_workers(c, bed):
    """Two workers, one stuck: calls alternate (round-robin), half wait behind the stuck one."""
    label = 'one of two workers stuck'
    fns = {'loop': LOOP, 'echo': MODULES['echo']}
    with bed.turbine(fns, lcores='0@0,1@1,2@1', args=['--drain-timeout-ms', str(DRAIN_MS),
                                                     '--dispatch-policy', 'round-robin']) as t:
        cl = bed.client()
        start_loop(c, cl, label)
        for i in range(1, 2 * QUEUED + 1):
            cl.send({'id': i, 'fn': 'echo', 'event': i})
        while cl.recv(0.3) is not None:
            pass
        served = [r.get('id') for r in cl.responses if isinstance(r, dict) and r.get('status') == 200]
        c.ok(0 < len(served) < 2 * QUEUED, label + ': the free worker serves its share', served)
        rc, seconds = sigterm_and_time(t, DRAIN_MS / 1000 + 10)
        while cl.recv(0.3) is not None:
            pass
        check_exit(c, t, label, rc, seconds)
        got = by_id(cl.responses)
        c.eq(sorted(got), list(range(1, 2 * QUEUED + 1)), label + ': every call but the stuck one answered')
        c.ok(all(got[i].get('status') == 200 or stopping(got[i]) for i in got),
             label + ': with 200, or 503 stopping for those behind the stuck one',
             sorted(got[i].get('status') for i in got))
        busy = [int(m.group(1)) for m in (re.match(r'turbine: worker (\d+) \(lcore \d+\) still busy',
                                                   line) for line in t.err) if m]
        finis = [int(m.group(1)) for m in (re.match(r'loop: fini on worker (\d+)$', line)
                                           for line in t.err) if m]
        c.ok(len(busy) == 1 and finis == [1 - busy[0]],
             label + ': fini ran for the free worker\'s environment only', (busy, finis))


def zero_timeout(c, bed):
    """drain_timeout_ms 0: no wait at all, and with nothing left undone that is still exit 0."""
    label = 'drain_timeout_ms 0'
    with bed.turbine({'echo': MODULES['echo']}, lcores='0,1', args=['--drain-timeout-ms', '0']) as t:
        cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, label + ': served')
        rc, final = t.stop()
        c.eq(rc, 0, label + ': nothing was queued: exit 0')
        c.ok(isinstance(final, dict), label + ': final counters printed', t.output())


def double_signal(c, bed):
    label = 'second signal'
    fns = {'loop': LOOP, 'echo': MODULES['echo']}
    with bed.turbine(fns, lcores='0@0,1@1', args=['--drain-timeout-ms', '30000']) as t:
        cl = bed.client()
        start_loop(c, cl, label)
        t.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        c.ok(t.alive(), label + ': the first signal waits for the drain')
        rc, seconds = sigterm_and_time(t, 10)
        c.eq(rc, EXIT_SIGNAL, label + ': exit status %d' % EXIT_SIGNAL)
        c.ok(seconds < 1.0, label + ': at once', '%.2f s' % seconds)
        c.ok(isinstance(t.final(), dict), label + ': final counters printed', t.output())


def body(c):
    with harness.Testbed('shutdown', 5) as bed:
        burst(c, bed, '0,1', 'dispatcher + worker')
        burst(c, bed, '0', 'one lcore')
        stuck_apart(c, bed)
        stuck_one_lcore(c, bed)
        stuck_two_workers(c, bed)
        zero_timeout(c, bed)
        double_signal(c, bed)


harness.main('shutdown', body)
