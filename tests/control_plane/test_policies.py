"""Dispatch policies, each selected in a configuration file: every call answered, spread over workers.

Three workers hold `shared`; calls that each take a few milliseconds arrive
faster than one worker serves them, so any policy that balances at all puts
them on more than one worker. Join-the-shortest-queue, the default, must
also keep the queues short: no worker ends up with most of the calls.
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402

PEAK = os.environ.get('TURBINE_MODULE_PEAK', '')
CALLS = 120


def body(c):
    with harness.Testbed('policies', 45) as bed:
        for policy in ('jsq', 'round-robin', 'p2c'):
            with tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False) as f:
                f.write('dispatch_policy = "%s";\nidle_environment_s = 0;\n'
                        'functions = ( { name = "shared"; module = "%s"; } );\n' % (policy, PEAK))
                conf = f.name
            try:
                with bed.turbine({}, lcores='0@0,1@1,2@1,3@1', args=['--config', conf]) as t:
                    c.ok(' %s dispatch' % policy in t.ready_line, '%s: the policy in use' % policy,
                         t.ready_line)
                    client = bed.client()
                    for i in range(CALLS):
                        client.send({'id': i + 1, 'fn': 'shared', 'event': {'us': 3000}})
                        time.sleep(0.001)
                    deadline = time.monotonic() + 10
                    while len(client.responses) < CALLS and time.monotonic() < deadline:
                        client.recv(0.5)
                    answers = [r for r in client.responses if isinstance(r, dict)]
                    c.eq(len(answers), CALLS, '%s: every call answered' % policy)
                    c.ok(all(a['status'] == 200 for a in answers), '%s: all 200' % policy)
                    per_worker = {}
                    for a in answers:
                        per_worker[a['body']['worker']] = per_worker.get(a['body']['worker'], 0) + 1
                    c.ok(len(per_worker) == 3, '%s: all three workers used' % policy, per_worker)
                    c.ok(max(per_worker.values()) < CALLS * 0.8, '%s: no worker took most of them' % policy,
                         per_worker)
                    client.close()
                    rc, _ = t.stop()
                    c.eq(rc, 0, '%s: turbine exits 0' % policy)
            finally:
                os.unlink(conf)


if __name__ == '__main__':
    if not PEAK:
        harness.log('TURBINE_MODULE_PEAK must be set (run through meson test)')
        sys.exit(1)
    harness.main('policies', body)
