"""Counting under load: reserved concurrency, rate limits, tenants, on the real dispatcher.

One dispatcher and three workers (four lcores on two CPUs, mapped with
--lcores), so that without its reservation a function could run three
calls at once. The `peak` handler sleeps and records how many calls were
inside it at once across the whole process: the limits must bound that,
refuse the excess with 429 and the right reason, and never time out.
Limits are then changed while running, with turbinectl.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log  # noqa: E402

PEAK = os.environ.get('TURBINE_MODULE_PEAK', '')
TURBINECTL = os.environ.get('TURBINECTL', '')
LCORES = '0@0,1@1,2@1,3@1'
RESERVED = 2
BURST_CALLS = 200   # ten times what the reservation can serve while each call sleeps


def burst(client, requests, gap_s=0.001, wait_s=10.0):
    """Send each request (bounded), then collect responses by id until all arrive or wait_s passes."""
    client.drain()
    for r in requests:
        client.send(r)
        if gap_s:
            time.sleep(gap_s)
    got = {}
    deadline = time.monotonic() + wait_s
    while len(got) < len(requests) and time.monotonic() < deadline:
        resp = client.recv(0.5)
        if isinstance(resp, dict):
            got.setdefault(resp.get('id'), []).append(resp)
    return got


def ctl(t, *args):
    p = subprocess.run([TURBINECTL, '-f', t.prefix] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30, stdin=subprocess.DEVNULL)
    log('turbinectl %s -> %d %s%s' % (' '.join(args), p.returncode, p.stdout.strip(), p.stderr.strip()))
    return p


def body(c):
    with harness.Testbed('limits', 41) as bed:
        fns = {
            'peak': '%s,reserved_concurrency=%d' % (PEAK, RESERVED),
            'echo': harness.MODULES['echo'] + ',rate=50,burst=10',
            'private': harness.MODULES['echo'] + ',tenants=acme:beta',
            'shared': PEAK,
        }
        args = ['--tenant', 'beta,concurrency=1']
        with bed.turbine(fns, lcores=LCORES, args=args) as t:
            c.eq((t.dispatchers, t.workers), (1, 3), 'one dispatcher, three workers')
            fn = t.telemetry('/turbine/function,peak')
            c.eq(fn['environments'], RESERVED, 'a reserved function gets as many environments as its reservation')
            c.eq(t.telemetry('/turbine/function,shared')['environments'], 3,
                 'an unreserved one gets one per worker')

            client = bed.client()
            # -- reserved concurrency, ten times over
            reqs = [{'id': i, 'fn': 'peak', 'event': {'us': 20000}} for i in range(1, BURST_CALLS + 1)]
            got = burst(client, reqs)
            c.eq(sorted(got), list(range(1, BURST_CALLS + 1)), 'every call answered')
            c.ok(all(len(v) == 1 for v in got.values()), 'exactly once')
            answers = [v[0] for v in got.values()]
            ok = [a for a in answers if a['status'] == 200]
            refused = [a for a in answers if a['status'] == 429]
            c.eq(len(ok) + len(refused), BURST_CALLS, 'each answer is a 200 or a 429 (no timeout, no 503)')
            c.ok(len(refused) > BURST_CALLS // 2, 'most of a 10x burst is refused', len(refused))
            c.ok(len(ok) >= RESERVED, 'the reservation is used', len(ok))
            c.ok(all(a.get('reason') == 'ReservedFunctionConcurrentInvocationLimitExceeded' and
                     a.get('error') == 'TooManyRequestsException' and a.get('retry_after_ms', 0) > 0
                     for a in refused), 'every refusal names the reserved concurrency')
            c.ok(all('fn_error' not in a for a in ok), 'every admitted call succeeded')
            peak = max(a['body']['peak'] for a in ok)
            c.ok(peak <= RESERVED, 'calls in flight never exceed the reservation', peak)
            workers = {a['body']['worker'] for a in ok}
            c.ok(len(workers) <= RESERVED, 'and run on at most that many workers', workers)
            fn = t.telemetry('/turbine/function,peak')
            c.eq(fn['in_flight'], 0, 'nothing left in flight')
            c.eq(fn['throttles']['ReservedFunctionConcurrentInvocationLimitExceeded'], len(refused),
                 'telemetry counts the refusals by reason')

            # -- the function's rate limit: 50/s, burst 10
            start = time.monotonic()
            got = burst(client, [{'id': 1000 + i, 'fn': 'echo'} for i in range(100)], gap_s=0.002)
            elapsed = time.monotonic() - start
            answers = [v[0] for v in got.values()]
            admitted = sum(a['status'] == 200 for a in answers)
            limit = 10 + 50 * elapsed + 1
            c.eq(len(answers), 100, 'every rate-limited call answered')
            c.ok(10 <= admitted <= limit, 'the bucket admits its burst plus the rate and no more',
                 (admitted, round(limit, 1)))
            c.ok(all(a.get('reason') == 'ReservedFunctionInvocationRateLimitExceeded'
                     for a in answers if a['status'] == 429), 'refusals name the rate limit')

            # -- tenants: a function only some tenants may call, a tenant's own concurrency
            r = client.call({'id': 2000, 'fn': 'private', 'tenant': 'other'})
            c.eq((r['status'], r['error']), (403, 'AccessDeniedException'), 'an unlisted tenant gets 403')
            r = client.call({'id': 2001, 'fn': 'private'})
            c.eq(r['status'], 403, 'so does the default tenant')
            r = client.call({'id': 2002, 'fn': 'private', 'tenant': 'acme'})
            c.eq(r['status'], 200, 'a listed tenant is served')
            r = client.call({'id': 2003, 'fn': 'private', 'tenant': 'acme', 'type': 'DryRun'})
            c.eq(r['status'], 204, 'DryRun checks the tenant: allowed')
            r = client.call({'id': 2004, 'fn': 'private', 'tenant': 'other', 'type': 'DryRun'})
            c.eq(r['status'], 403, 'DryRun checks the tenant: refused')
            got = burst(client, [{'id': 3000 + i, 'fn': 'shared', 'tenant': 'beta', 'event': {'us': 20000}}
                                 for i in range(20)])
            answers = [v[0] for v in got.values()]
            c.ok(all(a['status'] in (200, 429) for a in answers) and len(answers) == 20,
                 'a tenant over its concurrency gets 200 or 429')
            c.ok(all(a.get('reason') == 'ConcurrentInvocationLimitExceeded'
                     for a in answers if a['status'] == 429) and
                 any(a['status'] == 429 for a in answers), 'refusals name the tenant concurrency')
            c.ok(max(a['body']['peak'] for a in answers if a['status'] == 200) <= 3,
                 'shared ran within its workers')

            # -- changed while running
            c.eq(ctl(t, 'set', 'echo', 'rate=0').returncode, 0, 'turbinectl lifts the rate limit')
            got = burst(client, [{'id': 4000 + i, 'fn': 'echo'} for i in range(50)], gap_s=0.001)
            c.ok(len(got) == 50 and all(v[0]['status'] == 200 for v in got.values()),
                 'then every call is admitted')
            c.eq(ctl(t, 'set', 'private', 'tenants=other').returncode, 0, 'turbinectl changes the tenants')
            r = client.call({'id': 5000, 'fn': 'private', 'tenant': 'other'})
            c.eq(r['status'], 200, 'the newly listed tenant is served')
            r = client.call({'id': 5001, 'fn': 'private', 'tenant': 'acme'})
            c.eq(r['status'], 403, 'the dropped one is refused')
            c.eq(ctl(t, 'tenant', 'newco', 'rate=1', 'burst=1').returncode, 0, 'turbinectl declares a tenant')
            got = burst(client, [{'id': 6000 + i, 'fn': 'echo', 'tenant': 'newco'} for i in range(5)], gap_s=0)
            statuses = sorted(v[0]['status'] for v in got.values())
            c.eq(statuses, [200, 429, 429, 429, 429], 'its rate applies at once')
            c.ok(all(v[0].get('reason') == 'CallerRateLimitExceeded' for v in got.values()
                     if v[0]['status'] == 429), 'with the caller rate reason')
            p = ctl(t, 'set', 'echo', 'version=9')
            c.ok(p.returncode == 1 and 'cannot change' in p.stderr, 'a key that cannot change is refused')
            p = ctl(t, 'set', 'echo', 'reserved_concurrency=200000')
            c.ok(p.returncode == 1 and 'out of range' in p.stderr, 'an out-of-range value is refused')
            # A call that names no tenant is the default tenant's: named while running, its
            # limit applies to such calls at once (the dispatcher does not look the name up per call).
            c.eq(ctl(t, 'tenant', 'default', 'rate=1', 'burst=1').returncode, 0,
                 'turbinectl declares the default tenant')
            got = burst(client, [{'id': 7000 + i, 'fn': 'echo'} for i in range(5)], gap_s=0)
            statuses = sorted(v[0]['status'] for v in got.values())
            c.eq(statuses, [200, 429, 429, 429, 429], 'calls without a tenant take its rate at once')
            c.ok(all(v[0].get('reason') == 'CallerRateLimitExceeded' for v in got.values()
                     if v[0]['status'] == 429), 'with the caller rate reason')
            r = client.call({'id': 7100, 'fn': 'echo', 'tenant': 'acme'})
            c.eq(r['status'], 200, 'a named tenant is not held back by it')

            client.close()
            rc, final = t.stop()
            c.eq(rc, 0, 'turbine exits 0')
            c.eq(final['requests'], final['responses'], 'every request got a response')

        # Two dispatchers share one reservation: each admits against its share (3 = 2 + 1).
        vdev = bed.af_packet_vdev() + ',qpairs=2'
        args = ['--dispatch-lcores', '0,1', '--worker-lcores', '2,3']
        with bed.turbine({'peak': '%s,reserved_concurrency=3' % PEAK}, lcores=LCORES,
                         vdevs=[vdev], args=args) as t:
            c.eq((t.dispatchers, t.workers), (2, 2), 'two dispatchers, two workers')
            clients = [bed.client() for _ in range(8)]
            for k, cl in enumerate(clients):
                for i in range(25):
                    cl.send({'id': 10000 + k * 100 + i, 'fn': 'peak', 'event': {'us': 20000}})
                    time.sleep(0.0005)
            answers = []
            deadline = time.monotonic() + 10
            for cl in clients:
                while len(cl.responses) < cl.sent and time.monotonic() < deadline:
                    cl.recv(0.5)
                answers += [r for r in cl.responses if isinstance(r, dict)]
                cl.close()
            c.eq(len(answers), 200, 'every call answered with two dispatchers')
            ok = [a for a in answers if a['status'] == 200]
            c.ok(all(a['status'] == 200 or a.get('reason') ==
                     'ReservedFunctionConcurrentInvocationLimitExceeded' for a in answers),
                 'each is a 200 or a reserved-concurrency 429')
            peak = max(a['body']['peak'] for a in ok)
            c.ok(peak <= 3, 'together they never exceed the reservation', peak)
            stats = t.stats()
            rc, final = t.stop()
            c.eq(rc, 0, 'turbine exits 0')
            c.eq(final['requests'], 200, 'turbine saw them all')


if __name__ == '__main__':
    if not PEAK or not TURBINECTL:
        harness.log('TURBINE_MODULE_PEAK and TURBINECTL must be set (run through meson test)')
        sys.exit(1)
    harness.main('limits', body)
