"""Many telemetry clients at once, each asking about a function of its own.

DPDK serves each client on a thread of its own and splits a command from its
parameters there. Every reply must answer the command its own client sent:
about the function it named, never another client's, and never with the
parameter lost. Half the clients interleave a command without parameters.
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log  # noqa: E402

CLIENTS = 8  # DPDK takes ten at most, the harness's own among them
DURATION_S = 10
FUNCTIONS = ['echo', 'counter', 'hello']


def client(t, i, deadline, counts, problems):
    """Ask about one function and, every other time for odd clients, the ports; check each reply."""
    mine = FUNCTIONS[i % len(FUNCTIONS)]
    cmds = ['/turbine/function,' + mine] + (['/turbine/ports'] if i % 2 else [])
    n = 0
    try:
        conn = harness.TelemetryConnection(t)
        try:
            while time.monotonic() < deadline:
                cmd = cmds[n % len(cmds)]
                reply = conn.ask(cmd)
                n += 1
                if cmd == '/turbine/ports':
                    if not isinstance(reply, dict) or 'name' not in reply:
                        problems.append('%s: %r' % (cmd, reply))
                elif not isinstance(reply, dict) or \
                        not reply.get('module', '').endswith('/%s.so' % mine):
                    problems.append('%s: %r' % (cmd, reply.get('module') if isinstance(reply, dict)
                                                else reply))
        finally:
            conn.close()
    except Exception as e:  # noqa: BLE001 -- a dead turbine shows up here
        problems.append('client %d: %r' % (i, e))
    counts.append(n)


def body(c):
    with harness.Testbed('telemetry_clients', 49) as bed:
        fns = {name: harness.MODULES[name] for name in FUNCTIONS}
        with bed.turbine(fns, lcores='0,1') as t:
            deadline = time.monotonic() + DURATION_S
            counts, problems = [], []
            threads = [threading.Thread(target=client, args=(t, i, deadline, counts, problems),
                                        daemon=True) for i in range(CLIENTS)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(DURATION_S + 30)
            log('%d replies to %d clients, %d wrong' % (sum(counts), CLIENTS, len(problems)))
            c.eq(len(counts), CLIENTS, 'every client finished')
            c.ok(min(counts, default=0) >= 100, 'every client was answered throughout', counts)
            c.eq(problems[:5], [], "every reply answers its own client's command")
            rc, _ = t.stop()
            c.eq(rc, 0, 'turbine exits 0')


if __name__ == '__main__':
    harness.main('telemetry_clients', body)
