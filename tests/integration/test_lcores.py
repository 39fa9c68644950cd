"""Lcore roles (dispatcher + worker, run to completion on one lcore), start from a configuration
file, and start-up failures that must end with one clear message and exit 1."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES  # noqa: E402

CALLS = 6


def counter_calls(c, bed, label, **kw):
    fns = {'counter': MODULES['counter'], 'echo': MODULES['echo']}
    with bed.turbine(fns, **kw) as t:
        harness.log('%s: %s dispatcher(s), %s worker(s)' % (label, t.dispatchers, t.workers))
        cl = bed.client()
        bodies = []
        for i in range(CALLS):
            r = cl.call({'id': i, 'fn': 'counter'})
            c.ok(isinstance(r, dict) and r.get('status') == 200 and r.get('id') == i,
                 '%s: counter call %d answered' % (label, i), r)
            bodies.append((r or {}).get('body') or {} if isinstance(r, dict) else {})
        c.eq([b.get('calls') for b in bodies], list(range(1, CALLS + 1)), label + ': calls count up')
        c.eq(len({b.get('worker') for b in bodies}), 1, label + ': one worker environment serves them')
        c.eq([b.get('cold') for b in bodies], [True] + [False] * (CALLS - 1),
             label + ': only the first call is cold')
        c.eq((cl.call({'id': 99, 'fn': 'echo', 'event': [label]}) or {}).get('body'), [label],
             label + ': echo')
        stats = t.stats()
        c.ok(stats.get('cold_starts', 0) >= 1, label + ': cold start counted', stats.get('cold_starts'))
        rc, final = t.stop()
        c.eq(rc, 0, label + ': exit code 0')
        return t


CONFIG = '''# written by test_lcores.py
ip = "%(ip)s";
udp_port = 9100;
quiet = false;
functions = (
  { name = "echo"; module = "%(echo)s"; timeout_ms = 2000; memory_mb = 256;
    max_event_bytes = 64; version = "3"; },
  { name = "spin"; module = "%(spin)s"; timeout_ms = 100; },
  { name = "hello"; module = "%(hello)s"; }
);
'''


def config_file(c, bed, tmp):
    path = os.path.join(tmp, 'turbine.conf')
    with open(path, 'w') as f:
        f.write(CONFIG % {'ip': bed.turbine_ip, 'echo': MODULES['echo'], 'spin': MODULES['spin'],
                          'hello': MODULES['hello']})
    with bed.turbine({}, args=['--config', path], ip=False, quiet=False) as t:
        c.eq((t.ip, t.port), (bed.turbine_ip, 9100), 'config: address and port from the file')
        cl = bed.client(port=9100)
        c.eq(cl.call({'id': 1, 'fn': 'echo', 'event': 'a'}),
             {'v': 1, 'id': 1, 'status': 200, 'version': '3', 'body': 'a'}, 'config: version reported')
        c.eq((cl.call({'id': 2, 'fn': 'echo:3', 'event': 'b'}) or {}).get('status'), 200,
             'config: qualifier = configured version')
        c.eq((cl.call({'id': 3, 'fn': 'echo:1'}) or {}).get('status'), 404, 'config: other version 404')
        c.eq((cl.call({'id': 4, 'fn': 'echo', 'event': 'x' * 80}) or {}).get('status'), 413,
             'config: max_event_bytes')
        r = cl.call({'id': 5, 'fn': 'spin', 'event': {'us': 300000}})
        c.eq(((r or {}).get('body') or {}).get('errorMessage'), 'Task timed out after 0.10 seconds',
             'config: timeout_ms')
        c.eq(((cl.call({'id': 6, 'fn': 'hello'}) or {}).get('body') or {}).get('message'),
             'Hello, World!', 'config: a function with defaults')
        c.ok(harness.wait_until(lambda: any(l.startswith('turbine: status:') for l in t.out), 3),
             'config: status line printed when not quiet', t.output())
        rc, final = t.stop()
        c.eq(rc, 0, 'config: exit code 0')


def bad_start(c, bed, label, fns, args=()):
    t = bed.turbine(fns, args=list(args))
    t.start(wait=False)
    rc = t.wait_exit(30)
    if rc is None:
        t.kill()
    c.eq(rc, 1, label + ': exit code 1')
    ours = [l for l in t.err if l.startswith('turbine: ')]
    c.ok(len(ours) >= 1, label + ': a message on stderr starting "turbine: "', t.output())
    c.ok(t.ready_line is None, label + ': never ready')
    harness.log('%s: %s' % (label, ours[:2]))


def body(c):
    with harness.Testbed('lcores', 6) as bed, tempfile.TemporaryDirectory(prefix='tb-lcores-') as tmp:
        t = counter_calls(c, bed, 'two lcores', lcores='0,1')
        c.eq((t.dispatchers, t.workers), (1, 1), 'two lcores: one dispatcher, one worker')
        counter_calls(c, bed, 'one lcore (run to completion)', lcores='0')
        t = counter_calls(c, bed, 'explicit roles', lcores='0,1',
                          args=['--dispatch-lcores', '0', '--worker-lcores', '1'])
        c.eq((t.dispatchers, t.workers), (1, 1), 'explicit roles: one dispatcher, one worker')
        config_file(c, bed, tmp)

        bad_start(c, bed, 'missing module file', {'echo': '/nonexistent/echo.so'})
        bad_start(c, bed, 'not a module', {'echo': '/bin/true'})
        bad_start(c, bed, 'unknown option', {'echo': MODULES['echo']}, ['--no-such-option'])
        bad_start(c, bed, 'bad --fn key', {'echo': MODULES['echo'] + ',colour=blue'})
        broken = os.path.join(tmp, 'broken.conf')
        with open(broken, 'w') as f:
            f.write('functions = ( { name = "echo"; module = "%s"; timeout_ms = "soon"; } );\n'
                    % MODULES['echo'])
        bad_start(c, bed, 'ill-typed configuration file', {}, ['--config', broken])
        bad_start(c, bed, 'missing configuration file', {}, ['--config', os.path.join(tmp, 'none')])
        # Without any --vdev turbine serves its embedded memif default, so
        # "no port" is asking for a port id that does not exist.
        bad_start(c, bed, 'no such port', {'echo': MODULES['echo']}, ['--port', '3'])


harness.main('lcores', body)
