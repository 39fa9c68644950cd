"""isolation = "process": every environment a sandbox process, and what a handler can no longer do.

The dispatcher on one lcore and two workers on another CPU (--lcores 0@0,1@1,2@1), a kernel
client in a namespace. Checked: the example handlers answer the same in both modes; a crash
answers Runtime.ExitError with Lambda's message, twice in a row (its sandbox is replaced, a cold
start counted each time), where in thread mode the same crash ends the whole process; an overrun
and a handler that never returns answer Sandbox.Timedout at the deadline, not when the handler
would return, and the sandbox is replaced; a handler over memory_mb answers Runtime.OutOfMemory
(or Runtime.ExitError) and turbine goes on; other functions and the function's other environment
keep answering meanwhile; the mbufs in use come back to their baseline; SIGTERM leaves no
sandbox process, and neither does SIGKILL (PR_SET_PDEATHSIG). Then on a single lcore: ARP,
ping and other calls are answered while a sandbox runs a handler.
"""

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES, log  # noqa: E402

SANDBOX = os.environ.get('TURBINE_SANDBOX', '')
# build-asan: AddressSanitizer reports a crash and exits 1, and reserves so much address space
# that no RLIMIT_AS can apply (workers/jail.c).
ASAN = 'address' in os.environ.get('TURBINE_SANITIZE', '')
LCORES = '0@0,1@1,2@1'
CRASH_MESSAGE = 'RequestId: %d Error: Runtime exited with error: signal: segmentation fault'
DEADLINE_MS = 100
# A generous bound for a noisy machine: the handler itself would run for seconds.
ANSWER_BOUND_S = 0.4
READY_WAIT_S = 10.0


def process(name, keys=''):
    return MODULES[name] + ',isolation=process' + keys


def envs(t, fn):
    """{worker id: its environment's record} from /turbine/function,FN."""
    return t.telemetry('/turbine/function,' + fn).get('environments_by_worker', {})


def restarts(t, fn):
    return sum(e.get('restarts', 0) for e in envs(t, fn).values())


def all_ready(t, fn, at_least=0):
    """Every sandbox of fn ready, and restarted at least `at_least` times in all."""
    e = envs(t, fn)
    return (bool(e) and all(x.get('sandbox_state') == 'ready' for x in e.values()) and
            sum(x.get('restarts', 0) for x in e.values()) >= at_least)


def fn_error(r):
    """(errorType, errorMessage) of a 200 with fn_error, or None."""
    if not isinstance(r, dict) or r.get('status') != 200 or r.get('fn_error') != 'Unhandled':
        return None
    body = r.get('body') if isinstance(r.get('body'), dict) else {}
    return body.get('errorType'), body.get('errorMessage')


def timed_call(cl, req, timeout=5.0):
    start = time.monotonic()
    r = cl.call(req, timeout)
    return r, time.monotonic() - start


def sandbox_pids():
    """Every running process whose executable is this build's turbine-sandbox.

    Compared by the file itself (device and inode, the kernel following the
    link), not by the link's text: a process in another mount namespace, as a
    sandbox is, shows the host's path when the test runs under a chroot.
    """
    want = os.stat(SANDBOX)
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            exe = os.stat('/proc/%s/exe' % pid)
        except OSError:
            continue
        if (exe.st_dev, exe.st_ino) == (want.st_dev, want.st_ino):
            pids.append(int(pid))
    return sorted(pids)


def children_of(pid):
    """Direct children of pid (the sandboxes' init processes of one turbine)."""
    out = []
    for p in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/stat' % p) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(p))
    return out


def stopped(c, t, label):
    """SIGTERM: exit 0, and no sanitizer report on the way (build-asan)."""
    rc, _ = t.stop()
    c.eq(rc, 0, label + ': exit 0')
    reports = [l for l in t.err if 'Sanitizer' in l or 'runtime error' in l]
    c.eq(reports[:5], [], label + ': no sanitizer report')


def same_answers(c, bed):
    """The example handlers, in both modes, from one turbine: the same bodies, errors and logs."""
    fns = {}
    for name in ('echo', 'hello', 'fail'):
        fns[name + '_t'] = MODULES[name]
        fns[name + '_p'] = process(name)
    # One environment each, so that a sequence of calls meets one counter.
    fns['counter_t'] = MODULES['counter'] + ',reserved_concurrency=1'
    fns['counter_p'] = process('counter', ',reserved_concurrency=1')
    with bed.turbine(fns, lcores=LCORES) as t:
        out = '\n'.join(t.out)
        c.ok(re.search(r'turbine: function echo_p version 1 \(.*echo\.so\): 2 environment\(s\), '
                       r'each a sandbox process, cold start [\d.]+ ms', out),
             'start-up: a process-mode function says so, with its cold start', out)
        summary = t.telemetry('/turbine/functions')
        c.eq((summary['echo_t'].get('isolation'), summary['echo_p'].get('isolation')),
             ('thread', 'process'), 'telemetry: each function\'s isolation')
        p = summary['echo_p']
        c.ok(len(p.get('sandbox_pids', [])) == 2 and all(x > 0 for x in p['sandbox_pids']) and
             p.get('sandbox_states') == ['ready', 'ready'] and p.get('sandbox_restarts') == [0, 0],
             'telemetry: two sandboxes, their pids, ready, never restarted', p)
        c.ok(set(p['sandbox_pids']) <= set(sandbox_pids()),
             'the pids are turbine-sandbox processes', (p['sandbox_pids'], sandbox_pids()))
        c.ok(set(p['sandbox_pids']) <= set(children_of(t.proc.pid)),
             'children of turbine', p['sandbox_pids'])
        c.eq(p.get('network'), 0, 'telemetry: no network by default')

        cl = bed.client()
        events = [None, 1, 'text', {'a': [1, 2, {'b': None}], 'c': b'\x00\xff'}, 2 ** 63, [], {}]
        for i, ev in enumerate(events):
            req = {'fn': 'echo_t', 'event': ev, 'trace': 'tr-%d' % i}
            if ev is None:
                del req['event']
            a = cl.call(dict(req, id=100 + i))
            b = cl.call(dict(req, id=100 + i, fn='echo_p'))
            c.eq(b, a, 'echo, event %r: the same answer' % (ev,))
        a = cl.call({'id': 7, 'fn': 'hello_t', 'event': {'name': 'Ada'}})
        b = cl.call({'id': 7, 'fn': 'hello_p', 'event': {'name': 'Ada'}})
        c.eq(b, a, 'hello: the same answer')
        c.eq((b or {}).get('body'), {'message': 'Hello, Ada!'}, 'hello: Hello, Ada!')
        ev = {'type': 'ValueError', 'message': 'bad input'}
        a = cl.call({'id': 8, 'fn': 'fail_t', 'event': ev, 'log': 'Tail'})
        b = cl.call({'id': 8, 'fn': 'fail_p', 'event': ev, 'log': 'Tail'})
        c.eq(b, a, 'fail: the same function error and log tail')
        c.eq(fn_error(b), ('ValueError', 'bad input'), 'fail: the handler\'s error')
        seq_t = [cl.call({'id': 20 + i, 'fn': 'counter_t', 'log': 'Tail'}) for i in range(3)]
        seq_p = [cl.call({'id': 20 + i, 'fn': 'counter_p', 'log': 'Tail'}) for i in range(3)]
        c.eq([r.get('body', {}).get('calls') for r in seq_p], [1, 2, 3],
             'counter: the environment keeps its state across calls')
        c.eq([dict(r, body={k: v for k, v in r['body'].items() if k != 'worker'}) for r in seq_p],
             [dict(r, body={k: v for k, v in r['body'].items() if k != 'worker'}) for r in seq_t],
             'counter: the same calls, cold flags and log tails')
        c.ok(all(r.get('body', {}).get('worker') in (0, 1) for r in seq_p),
             'counter: its worker id', [r.get('body') for r in seq_p])
        stopped(c, t, 'same answers')


def crashes(c, bed):
    """A crash costs its sandbox only: Runtime.ExitError, a new sandbox, twice; thread mode dies."""
    fns = {'crash': process('crash', ',reserved_concurrency=1'), 'echo': process('echo'),
           'echo_t': MODULES['echo']}
    with bed.turbine(fns, lcores=LCORES) as t:
        cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, 'crash: echo answers')
        baseline = t.stats()
        old_pid = envs(t, 'crash')
        cold = 0
        for n, rid in enumerate((31, 32), 1):
            before = t.stats()['cold_starts']
            r, took = timed_call(cl, {'id': rid, 'fn': 'crash'})
            cold += t.stats()['cold_starts'] - before
            c.eq(fn_error(r), ('Runtime.ExitError', CRASH_MESSAGE % rid),
                 'crash %d: Runtime.ExitError, Lambda\'s message' % n)
            c.ok(took < 1.0, 'crash %d: answered at once' % n, '%.3f s' % took)
            c.ok(t.alive(), 'crash %d: turbine is still running' % n)
            c.eq((cl.call({'id': 40 + n, 'fn': 'echo', 'event': n}) or {}).get('body'), n,
                 'crash %d: another function answers' % n)
            c.eq((cl.call({'id': 50 + n, 'fn': 'echo_t', 'event': n}) or {}).get('body'), n,
                 'crash %d: a thread-mode function answers' % n)
            c.ok(harness.wait_until(lambda: all_ready(t, 'crash', n), READY_WAIT_S),
                 'crash %d: its sandbox replaced' % n, envs(t, 'crash'))
        after = t.stats()
        c.eq(after['sandbox_crashes'] - baseline['sandbox_crashes'], 2, 'crash: sandbox_crashes 2')
        c.eq(cold, 2, 'crash: each crashing call was its new sandbox\'s cold start')
        c.eq(after['fn_errors'] - baseline['fn_errors'], 2, 'crash: counted as function errors')
        new = envs(t, 'crash')
        c.ok(list(new.values())[0].get('sandbox_pid') != list(old_pid.values())[0].get('sandbox_pid'),
             'crash: a new process', (old_pid, new))
        c.eq(list(new.values())[0].get('restarts'), 2, 'telemetry: restarts 2')
        replaced = [l for l in t.err if re.match(r'turbine: function crash: a new sandbox on worker '
                                                 r'\d \(pid \d+\), cold start [\d.]+ ms$', l)]
        c.ok(len(replaced) == 2, 'crash: each replacement reported with its cold start', t.output())
        c.ok(harness.wait_until(lambda: t.stats()['mempool_in_use'] == baseline['mempool_in_use'], 3),
             'crash: mbufs in use back to their baseline',
             (baseline['mempool_in_use'], t.stats()['mempool_in_use']))
        stopped(c, t, 'crash')

    # The contrast: the same module in thread mode takes the whole process with it.
    with bed.turbine({'crash': MODULES['crash'], 'echo': MODULES['echo']}, lcores=LCORES) as t:
        cl = bed.client()
        cl.send({'id': 60, 'fn': 'crash'})
        rc = t.wait_exit(10)
        if ASAN:
            c.ok(rc == 1 and any('AddressSanitizer: SEGV' in l for l in t.err),
                 'thread mode: the same crash ends turbine (AddressSanitizer: SEGV)', rc)
        else:
            c.ok(rc is not None and rc < 0 and -rc == signal.SIGSEGV,
                 'thread mode: the same crash ends turbine (SIGSEGV)', rc)
        c.eq(cl.call({'id': 61, 'fn': 'echo'}, timeout=0.5), None,
             'thread mode: nothing answers any more')


def deadlines(c, bed):
    """Overruns killed at the deadline, the sandbox replaced, the next call served."""
    fns = {'spin': process('spin', ',timeout_ms=%d,reserved_concurrency=1' % DEADLINE_MS),
           'loop': process('loop', ',timeout_ms=3000,reserved_concurrency=1'),
           # Touching memory is slow on a loaded virtual machine: the limit is hit in seconds.
           'hog': process('hog', ',memory_mb=128,timeout_ms=20000,reserved_concurrency=1'),
           'echo': process('echo')}
    with bed.turbine(fns, lcores=LCORES) as t:
        cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, 'deadlines: echo answers')
        baseline = t.stats()

        r, took = timed_call(cl, {'id': 2, 'fn': 'spin', 'event': {'us': 2_000_000}})
        c.eq(fn_error(r), ('Sandbox.Timedout', 'Task timed out after 0.10 seconds'),
             'spin 2 s under a 100 ms timeout: Sandbox.Timedout')
        c.ok(DEADLINE_MS / 1000 <= took < ANSWER_BOUND_S,
             'spin: answered at the deadline, not when the handler would return',
             '%.3f s' % took)
        c.ok(harness.wait_until(lambda: all_ready(t, 'spin', 1), READY_WAIT_S),
             'spin: the sandbox replaced', envs(t, 'spin'))
        r = cl.call({'id': 3, 'fn': 'spin', 'event': {'us': 1000}})
        c.ok(isinstance(r, dict) and r.get('status') == 200 and 'fn_error' not in r,
             'spin: the next call works', r)

        r, took = timed_call(cl, {'id': 4, 'fn': 'loop', 'timeout_ms': 150})
        c.eq(fn_error(r), ('Sandbox.Timedout', 'Task timed out after 0.15 seconds'),
             'loop (never returns), the request\'s 150 ms: Sandbox.Timedout')
        c.ok(0.15 <= took < 0.15 + ANSWER_BOUND_S, 'loop: answered at the deadline', '%.3f s' % took)
        c.ok(harness.wait_until(lambda: all_ready(t, 'loop', 1), READY_WAIT_S),
             'loop: the sandbox replaced', envs(t, 'loop'))

        r = cl.call({'id': 5, 'fn': 'hog', 'event': {'mb': 32}}, timeout=20)
        c.eq((r or {}).get('body'), {'mb': 32}, 'hog 32 MiB under memory_mb 128: served')
        if ASAN:
            log('AddressSanitizer: no memory limit applies, the hog over memory_mb is not tried')
        else:
            r = cl.call({'id': 6, 'fn': 'hog', 'event': {'mb': 300}}, timeout=20)
            err = fn_error(r)
            c.ok(err is not None and err[0] in ('Runtime.OutOfMemory', 'Runtime.ExitError') and
                 err[1].startswith('RequestId: 6 Error: Runtime exited with error: '),
                 'hog 300 MiB: Runtime.OutOfMemory (or Runtime.ExitError)', r)
            c.ok(t.alive(), 'hog: turbine is still running')
            c.ok(harness.wait_until(lambda: all_ready(t, 'hog', 1), READY_WAIT_S),
                 'hog: the sandbox replaced', envs(t, 'hog'))
        c.eq((cl.call({'id': 7, 'fn': 'hog', 'event': {'mb': 16}}) or {}).get('body'), {'mb': 16},
             'hog: the next call works')

        after = t.stats()
        c.eq(after['sandbox_kills'] - baseline['sandbox_kills'], 2, 'sandbox_kills: spin and loop')
        c.eq(after['fn_timeouts'] - baseline['fn_timeouts'], 2, 'fn_timeouts: spin and loop')
        c.eq(after['sandbox_crashes'] - baseline['sandbox_crashes'], 0 if ASAN else 1,
             'sandbox_crashes: hog')
        c.ok(harness.wait_until(lambda: t.stats()['mempool_in_use'] == baseline['mempool_in_use'], 3),
             'deadlines: mbufs in use back to their baseline',
             (baseline['mempool_in_use'], t.stats()['mempool_in_use']))
        stopped(c, t, 'deadlines')


def meanwhile(c, bed):
    """While one environment runs a long call, the other and other functions keep answering."""
    fns = {'spin': process('spin', ',timeout_ms=5000'), 'echo': process('echo'),
           'echo_t': MODULES['echo']}
    with bed.turbine(fns, lcores=LCORES) as t:
        cl = bed.client()
        c.eq(len(envs(t, 'spin')), 2, 'meanwhile: spin has two environments')
        long_cl = bed.client()
        start = time.monotonic()
        long_cl.send({'id': 1, 'fn': 'spin', 'event': {'us': 1_500_000}})
        time.sleep(0.1)
        got = []
        while time.monotonic() - start < 1.0:
            for req in ({'fn': 'spin', 'event': {'us': 100}}, {'fn': 'echo', 'event': 'e'},
                        {'fn': 'echo_t', 'event': 't'}):
                r = cl.call(dict(req, id=100 + len(got)), timeout=1.0)
                got.append((req['fn'], (r or {}).get('status'), 'fn_error' in (r or {})))
        busy = long_cl.recv(0.01)
        c.eq(busy, None, 'meanwhile: the long call is still running')
        c.ok(len(got) >= 9 and all(s == 200 and not e for _, s, e in got),
             'meanwhile: the other environment of spin, echo and a thread-mode function answered '
             '(%d calls)' % len(got), got[:12])
        r = long_cl.recv(3.0)
        took = time.monotonic() - start
        c.ok(isinstance(r, dict) and r.get('status') == 200 and r.get('body') == {'us': 1_500_000},
             'meanwhile: the long call answers when it is done', r)
        c.ok(took >= 1.5, 'meanwhile: after its 1.5 s', '%.3f s' % took)
        stopped(c, t, 'meanwhile')


def redeploy(c, bed):
    """A live redeploy: new sandboxes; the old one answers the call it holds, runs fini and ends."""
    fns = {'spin': process('spin', ',timeout_ms=5000,reserved_concurrency=1')}
    with bed.turbine(fns, lcores=LCORES) as t:
        cl = bed.client()
        long_cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'spin', 'event': {'us': 10}}) or {}).get('version'), '1',
             'redeploy: version 1 answers')
        old = [e['sandbox_pid'] for e in envs(t, 'spin').values()]
        long_cl.send({'id': 2, 'fn': 'spin', 'event': {'us': 800_000}})
        time.sleep(0.1)
        r = t.telemetry('/turbine/deploy,spin,%s,2' % MODULES['spin'])
        c.eq((r or {}).get('ok'), 1, 'redeploy: version 2 deployed while a call runs')
        new = [e['sandbox_pid'] for e in envs(t, 'spin').values()]
        c.ok(len(new) == 1 and new != old and set(new) <= set(sandbox_pids()),
             'redeploy: a new sandbox', (old, new))
        c.ok(set(old) <= set(sandbox_pids()), 'redeploy: the old one still runs its call')
        r = long_cl.recv(3.0)
        c.ok(isinstance(r, dict) and r.get('version') == '1' and r.get('body') == {'us': 800_000},
             'redeploy: the call in flight answered by version 1', r)
        c.ok(harness.wait_until(lambda: not set(old) & set(sandbox_pids()), 3),
             'redeploy: then the old sandbox ends', old)
        r = cl.call({'id': 3, 'fn': 'spin', 'event': {'us': 10}})
        c.ok(isinstance(r, dict) and r.get('version') == '2' and r.get('body') == {'us': 10},
             'redeploy: version 2 answers', r)
        r = t.telemetry('/turbine/deploy,spin,/nonexistent/spin.so')
        c.ok((r or {}).get('ok') == 0 and 'cannot load /nonexistent/spin.so' in r.get('error', ''),
             'redeploy: a module that is not there is refused', r)
        c.eq(cl.call({'id': 4, 'fn': 'spin'}).get('version'), '2', 'redeploy: version 2 stays')
        stopped(c, t, 'redeploy')


def shared_tx_queue(c, bed):
    """A dispatcher that also works, on a port with one TX queue: it sends its sandboxes' answers."""
    with bed.turbine({'echo': process('echo')}, lcores='0@0,1@1',
                     args=['--dispatch-lcores', '0', '--worker-lcores', '0,1']) as t:
        c.ok('1 RX/1 TX queue(s)' in t.ready_line, 'shared queue: one TX queue for all',
             t.ready_line)
        cl = bed.client()
        got = [(cl.call({'id': i, 'fn': 'echo', 'event': i}, timeout=1.0) or {}).get('body')
               for i in range(20)]
        c.eq(got, list(range(20)), 'shared queue: every call answered at once')
        stopped(c, t, 'shared queue')


def drain_deadline(c, bed):
    """SIGTERM past drain_timeout_ms with a sandbox that never returns: cut short, all answered."""
    fns = {'loop': process('loop', ',timeout_ms=10000,reserved_concurrency=4'),
           'echo': process('echo')}
    with bed.turbine(fns, lcores='0@0,1@1', args=['--drain-timeout-ms', '500']) as t:
        cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, 'drain: served')
        pids = [e['sandbox_pid'] for fn in fns for e in envs(t, fn).values()]
        for i in range(4):
            cl.send({'id': 10 + i, 'fn': 'loop'})
        time.sleep(0.3)
        start = time.monotonic()
        t.proc.send_signal(signal.SIGTERM)
        rc = t.wait_exit(10)
        took = time.monotonic() - start
        while cl.recv(0.3) is not None:
            pass
        got = {r.get('id'): r for r in cl.responses if isinstance(r, dict)}
        c.eq(rc, 3, 'drain: exit 3, calls were left undone')
        c.ok(took < 0.5 + 1.0, 'drain: within drain_timeout_ms and a second', '%.2f s' % took)
        c.eq(fn_error(got.get(10)), ('Runtime.ExitError', 'RequestId: 10 Error: Runtime exited '
                                     'with error: signal: killed'),
             'drain: the running call cut short, Runtime.ExitError')
        c.ok(all((got.get(i) or {}).get('status') == 503 and
                 'drain_timeout_ms passed' in got[i].get('message', '') for i in (11, 12, 13)),
             'drain: the calls behind it answered 503, stopping', [got.get(i) for i in (11, 12, 13)])
        c.ok(any(re.search(r'3 queued call\(s\) answered 503', l) for l in t.err),
             'drain: counted among the calls answered 503', t.output())
        c.ok(harness.wait_until(lambda: not set(pids) & set(sandbox_pids()), 2),
             'drain: no sandbox left', pids)


def no_sandbox_left(c, bed):
    """SIGTERM and SIGKILL: no sandbox process outlives turbine."""
    fns = {'echo': process('echo'), 'counter': process('counter')}
    for how in ('SIGTERM', 'SIGKILL'):
        with bed.turbine(fns, lcores=LCORES) as t:
            cl = bed.client()
            c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, how + ': served')
            pids = []
            for fn in fns:
                pids += [e['sandbox_pid'] for e in envs(t, fn).values()]
            ours = children_of(t.proc.pid)
            c.ok(len(pids) == 4 and set(pids) <= set(ours) <= set(sandbox_pids()),
                 how + ': four sandboxes, children of turbine', (pids, ours))
            if how == 'SIGTERM':
                stopped(c, t, 'SIGTERM')
            else:
                t.proc.send_signal(signal.SIGKILL)
                t.wait_exit(10)
            left = harness.wait_until(lambda: not (set(pids) & set(sandbox_pids())), 2)
            c.ok(left, how + ': no turbine-sandbox process left', sorted(set(pids) & set(sandbox_pids())))
    # Sandboxes retired or replaced by earlier steps may still be on their way out: a moment's
    # grace, then any one left is a leak.
    harness.wait_until(lambda: not sandbox_pids(), 3)
    c.eq(sandbox_pids(), [], 'no turbine-sandbox of this build runs at all')


def one_lcore(c, bed):
    """Run to completion on one lcore: the lcore hands the call over and keeps serving."""
    fns = {'spin': process('spin', ',timeout_ms=5000'), 'echo': process('echo'),
           'echo_t': MODULES['echo']}
    with bed.turbine(fns, lcores='0') as t:
        c.eq((t.dispatchers, t.workers), (1, 1), 'one lcore: dispatcher and worker')
        cl = bed.client()
        long_cl = bed.client()
        c.eq((cl.call({'id': 1, 'fn': 'echo'}) or {}).get('status'), 200, 'one lcore: served')
        before = t.stats()
        bed.ns_run(['ip', 'neigh', 'flush', 'dev', bed.client_if], check=True)
        start = time.monotonic()
        long_cl.send({'id': 2, 'fn': 'spin', 'event': {'us': 2_000_000}})
        time.sleep(0.1)
        p = bed.ns_run(['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', bed.turbine_ip], timeout=10)
        c.ok(p.returncode == 0 and '3 received' in p.stdout,
             'one lcore: ARP resolved and ping answered while the handler runs', p.stdout[-200:])
        answers = [cl.call({'id': 10 + i, 'fn': fn, 'event': i}, timeout=1.0)
                   for i, fn in enumerate(('echo', 'echo_t', 'echo', 'echo_t'))]
        c.eq([(r or {}).get('body') for r in answers], [0, 1, 2, 3],
             'one lcore: other calls answered while the handler runs')
        during = time.monotonic() - start
        c.ok(during < 2.0 and long_cl.recv(0.01) is None,
             'one lcore: all that before the handler returned', '%.3f s' % during)
        mid = t.stats()
        c.ok(mid['arp_replies'] > before['arp_replies'], 'one lcore: an ARP reply counted')
        c.eq(mid['icmp_replies'] - before['icmp_replies'], 3, 'one lcore: three echo replies')
        r = long_cl.recv(4.0)
        c.eq((r or {}).get('body'), {'us': 2_000_000}, 'one lcore: the long call answers in the end')
        stopped(c, t, 'one lcore')


def body(c):
    with harness.Testbed('sandbox_mode', 21) as bed:
        same_answers(c, bed)
        crashes(c, bed)
        deadlines(c, bed)
        meanwhile(c, bed)
        redeploy(c, bed)
        one_lcore(c, bed)
        shared_tx_queue(c, bed)
        drain_deadline(c, bed)
        no_sandbox_left(c, bed)


if not SANDBOX or not os.path.exists(SANDBOX):
    harness.skip('turbine-sandbox was not built (needs libseccomp-dev)')
harness.main('sandbox_mode', body,
             required=[harness.TURBINE, SANDBOX] + [MODULES[m] for m in
                                                    ('echo', 'hello', 'fail', 'counter', 'spin',
                                                     'loop', 'crash', 'hog')])
