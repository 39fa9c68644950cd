"""A function's limits change under load: each call runs under one published version of them.

One dispatcher and one worker, so that calls wait in the ring between
admission and run. The `peak` handler holds each call a millisecond and
reports the memory it was given and the time it had left as it started.
Meanwhile the limits move through steps i = 1, 2, ...: timeout_ms set to
10 (i + 1) s, then memory_mb to 128 + i (a timeout is told from the time
left however long the call waited, up to 10 s). Published states are therefore
(timeout i, memory i) and, between the two commands, (timeout i, memory
i - 1); a call that reports a memory newer than its timeout, or older by
more than a step, ran under a mix that was never published.
"""

import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log  # noqa: E402

PEAK = os.environ.get('TURBINE_MODULE_PEAK', '')
STEPS = 80
STEP_GAP_S = 0.04
STEP_S = 10           # timeout of step i: STEP_S * (i + 1) seconds
BASE_MB = 128         # memory of step i: BASE_MB + i
CALL_US = 1000
BURST = 8             # calls sent together: they wait in the ring behind one another


def ask(sock, cmd):
    sock.send(cmd.encode())
    return json.loads(sock.recv(1 << 16).decode())[cmd.split(',', 1)[0]]


def load(client, stop, sent):
    """Bursts of calls, each sent once the last is answered, until told to stop (bounded)."""
    while not stop.is_set() and sent[0] < 20000:
        first = sent[0] + 1
        for _ in range(BURST):
            sent[0] += 1
            client.send({'id': sent[0], 'fn': 'peak', 'event': {'us': CALL_US}})
        # No more than a burst waits in the ring: a call's wait stays far below a step.
        answered, deadline = 0, time.monotonic() + 5
        while answered < BURST and time.monotonic() < deadline:
            r = client.recv(0.5)
            answered += isinstance(r, dict) and r.get('id', 0) >= first


def body(c):
    with harness.Testbed('limits_snapshot', 48) as bed:
        fns = {'peak': '%s,timeout_ms=%d,memory_mb=%d' % (PEAK, STEP_S * 1000, BASE_MB)}
        with bed.turbine(fns, lcores='0,1') as t:
            ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ctl.settimeout(10)
            ctl.connect('/var/run/dpdk/%s/dpdk_telemetry.v2' % t.prefix)
            ctl.recv(1 << 16)

            client = bed.client()
            stop, sent = threading.Event(), [0]
            th = threading.Thread(target=load, args=(client, stop, sent), daemon=True)
            th.start()
            refused = []
            for i in range(1, STEPS + 1):
                timeout_ms, memory_mb = STEP_S * (i + 1) * 1000, BASE_MB + i
                for key, value in (('timeout_ms', timeout_ms), ('memory_mb', memory_mb)):
                    r = ask(ctl, '/turbine/set,peak,%s=%d' % (key, value))
                    if r.get('ok') != 1:
                        refused.append((key, value, r))
                time.sleep(STEP_GAP_S)
            stop.set()
            th.join(10)
            view = ask(ctl, '/turbine/function,peak')
            ctl.close()
            deadline = time.monotonic() + 10
            while len(client.responses) < sent[0] and time.monotonic() < deadline:
                client.recv(0.5)
            client.close()

            answers = [r for r in client.responses if isinstance(r, dict)]
            ok = [a for a in answers if a.get('status') == 200 and 'fn_error' not in a]
            others = [a for a in answers if a not in ok]
            mixed, states = [], set()
            for a in ok:
                # The timeout's step: the smallest whose timeout is at least the time left.
                step_t = -(-a['body']['remaining_ms'] // (STEP_S * 1000)) - 1
                step_m = a['body']['memory_mb'] - BASE_MB
                states.add((step_t, step_m))
                if step_m not in (step_t, step_t - 1):
                    mixed.append((a['id'], a['body']))
            log('%d calls sent, %d answered 200, %d states seen' % (sent[0], len(ok), len(states)))
            c.eq(refused, [], 'every change accepted')
            c.eq(others[:3], [], 'every call answered 200 without a function error')
            c.ok(len(ok) >= 500, 'calls ran throughout', (len(ok), sent[0]))
            c.ok(len({s[0] for s in states}) >= STEPS // 2, 'calls ran under most of the steps',
                 sorted(states))
            c.eq(mixed[:5], [], 'every call ran under limits that were published together')
            c.eq((view.get('timeout_ms'), view.get('memory_mb')),
                 (STEP_S * (STEPS + 1) * 1000, BASE_MB + STEPS), 'telemetry shows the last values')
            rc, _ = t.stop()
            c.eq(rc, 0, 'turbine exits 0')


if __name__ == '__main__':
    if not PEAK:
        harness.log('TURBINE_MODULE_PEAK must be set (run through meson test)')
        sys.exit(1)
    harness.main('limits_snapshot', body)
