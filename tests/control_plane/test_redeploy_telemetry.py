"""Live redeploys while several telemetry clients read the function's views.

DPDK's telemetry serves each connected client on a thread of its own, and a
redeploy runs on the thread of the client that asked for it: the views
(/turbine/function,NAME, /turbine/functions, /turbine/workers) must never
read a version that the redeploy is freeing, nor race with one another.
The readers go on while turbine shuts down, when the runtime they report
on is freed. Run under ASan, a use after free ends turbine with a report;
the test checks every reply, turbine's exit status and its output.
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log  # noqa: E402

READERS = 6
DEPLOYS = 3000
DURATION_S = 20
VIEWS = ['/turbine/function,counter', '/turbine/functions', '/turbine/workers']


def reader(t, stop, stopping, deadline, results, problems):
    """Read the views in turn until told to stop; note what came back wrong before shutdown."""
    n = 0
    try:
        conn = harness.TelemetryConnection(t)
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                cmd = VIEWS[n % len(VIEWS)]
                reply = conn.ask(cmd)
                n += 1
                if stopping.is_set():  # shutting down: no data is a fair answer
                    continue
                if cmd.startswith('/turbine/function,'):
                    view = reply
                elif cmd == '/turbine/functions':
                    view = reply.get('counter', {}) if isinstance(reply, dict) else {}
                else:
                    held = reply.get('0', {}).get('functions') if isinstance(reply, dict) else None
                    if held != ['counter']:
                        problems.append('%s: %r' % (cmd, reply))
                    continue
                if not isinstance(view, dict) or not view.get('version', '').isdigit() or \
                        not view.get('module', '').endswith('.so') or view.get('environments') != 1:
                    problems.append('%s: %r' % (cmd, reply))
        finally:
            conn.close()
    except Exception as e:  # noqa: BLE001 -- a dead turbine shows up here
        if not stopping.is_set():
            problems.append('reader: %r' % e)
    results.append(n)


def body(c):
    with harness.Testbed('redeploy_telemetry', 47) as bed:
        with bed.turbine({'counter': harness.MODULES['counter']}, lcores='0,1') as t:
            stop, stopping = threading.Event(), threading.Event()
            deadline = time.monotonic() + DURATION_S + 40
            results, problems = [], []
            threads = [threading.Thread(target=reader,
                                        args=(t, stop, stopping, deadline, results, problems),
                                        daemon=True) for _ in range(READERS)]
            for th in threads:
                th.start()

            deployer = harness.TelemetryConnection(t)
            client = bed.client()
            refused, deployed, version = [], 0, 1
            end = time.monotonic() + DURATION_S
            while deployed < DEPLOYS and time.monotonic() < end and t.alive():
                version += 1
                try:
                    r = deployer.ask('/turbine/deploy,counter,%s,%d' %
                                     (harness.MODULES['counter'], version))
                except (OSError, ValueError) as e:  # turbine died: its output says why
                    r = {'error': repr(e)}
                if r.get('ok') != 1:
                    refused.append(r)
                    break
                deployed += 1
                client.send({'id': version, 'fn': 'counter'})
            deployer.close()
            r = client.call({'id': 100000, 'fn': 'counter'})
            client.close()

            # Shut down under the readers, then stop them.
            stopping.set()
            rc, final = t.stop()
            stop.set()
            for th in threads:
                th.join(15)
            log('%d deploys, %d telemetry replies read by %d clients' %
                (deployed, sum(results), READERS))

            c.eq(refused, [], 'every deploy accepted')
            c.ok(deployed >= 50, 'many deploys ran', deployed)
            c.eq(len(results), READERS, 'every reader finished')
            c.ok(min(results, default=0) >= 100, 'every reader kept reading throughout', results)
            c.eq(problems[:5], [], 'every view read whole and sensible')
            c.eq((r or {}).get('version'), str(version), 'the last version serves')
            reports = [line for line in t.err
                       if 'Sanitizer' in line or 'runtime error' in line or 'SEGV' in line]
            if reports or rc != 0:
                log(t.output() if not reports else '\n'.join(t.err))  # a report is long: all of it
            c.eq(reports[:20], [], 'no sanitizer report')
            c.eq(rc, 0, 'turbine exits 0')
            c.ok(final is not None and final['requests'] == final['responses'],
                 'every request it took got a response', final)


if __name__ == '__main__':
    harness.main('redeploy_telemetry', body)
