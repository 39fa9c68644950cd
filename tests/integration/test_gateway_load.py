"""turbine-gateway under load: 10,000 SigV4-signed calls from several client threads, none lost or crossed.

Each of THREADS threads keeps one HTTP/1.1 connection to the gateway (made inside the client's
namespace) and sends its share of the calls one after another, each signed by botocore's own
SigV4 signer, each with a payload no other call has. Every call must come back 200 with its own
payload echoed (an answer crossed to another call, or lost, fails), every x-amzn-RequestId must
be distinct, the gateway's counters must show each call answered once (its retransmits and the
duplicate answers it discarded are printed), and Turbine must have seen no fewer requests than
the gateway sent and no more than it sent with its retransmits. The whole run is bounded in time.
"""

import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_gateway as tg  # noqa: E402
from harness import MODULES, log  # noqa: E402

CALLS = 10000
THREADS = 8
TIME_LIMIT = 400.0      # seconds for all the calls, far above what they take on a loaded machine


def run_share(bed, port, t, ids, results, errors, deadline):
    try:
        conn = tg.connection(bed, port)
        for i in ids:
            if time.monotonic() > deadline:
                errors.append('thread %d: out of time at call %d' % (t, i))
                return
            payload = json.dumps({'i': i, 'thread': t, 'tag': 'call-%06d' % i}).encode()
            status, headers, data = tg.raw_call(conn, port, tg.ALPHA, 'echo', payload)
            results[i] = (status, payload, data, headers.get('x-amzn-requestid'))
        conn.close()
    except Exception as e:  # reported by the checks below
        errors.append('thread %d: %r' % (t, e))


def body(c):
    with harness.Testbed('gateway_load', 61) as bed, \
            tempfile.TemporaryDirectory(prefix='tb-gateway-load-') as tmp:
        t = tg.start_turbine(bed, {'echo': MODULES['echo']}, lcores='0')
        creds = os.path.join(tmp, 'credentials')
        tg.write_credentials(creds)
        gw = tg.Gateway(bed, creds).start()
        before = t.stats()

        results = [None] * CALLS
        errors = []
        start = time.monotonic()
        deadline = start + TIME_LIMIT
        threads = [threading.Thread(target=run_share,
                                    args=(bed, gw.port, k, range(k, CALLS, THREADS), results, errors,
                                          deadline), daemon=True)
                   for k in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(max(1.0, deadline - time.monotonic() + 5))
        elapsed = time.monotonic() - start
        log('%d calls from %d threads in %.1f s: %.0f calls/s' % (CALLS, THREADS, elapsed, CALLS / elapsed))
        c.eq(errors, [], 'no client thread failed or ran out of time')

        lost = [i for i, r in enumerate(results) if r is None]
        c.eq(len(lost), 0, 'every call was answered (none lost)')
        bad = [(i, r[0], r[2][:80]) for i, r in enumerate(results)
               if r is not None and (r[0] != 200 or json.loads(r[2]) != json.loads(r[1]))]
        c.ok(not bad, 'every answer is 200 with its own call\'s payload', bad[:5])
        rids = [r[3] for r in results if r is not None]
        c.eq(len(set(rids)), CALLS, 'every call has its own x-amzn-RequestId')

        after = t.stats()
        final = gw.stop() or {}
        c.eq((final.get('requests'), final.get('answered'), final.get('calls'), final.get('answers')),
             (CALLS, CALLS, CALLS, CALLS), 'the gateway read, sent and answered each call once')
        c.eq((final.get('timeouts'), final.get('failed'), final.get('full'), final.get('garbage')),
             (0, 0, 0, 0), 'no call timed out, failed or was refused')
        log('retransmits %s, duplicate answers discarded %s' % (final.get('retransmits'),
                                                                final.get('duplicates')))
        seen = after['requests'] - before['requests']
        c.ok(CALLS <= seen <= CALLS + final.get('retransmits', 0),
             'Turbine saw each call, and a second copy only where the gateway retransmitted',
             (seen, final.get('retransmits')))


if __name__ == '__main__':
    harness.main('gateway_load', body, required=[harness.TURBINE, tg.TURBINE_GATEWAY, MODULES['echo']])
