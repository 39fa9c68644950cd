"""turbine-invoke against every example module, and its exit codes (0, 1, 2, 3, 64)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES  # noqa: E402


def expect(c, result, rc, what, exact=None, **fields):
    """Check the exit code and the printed response: all of it (exact), or the given fields."""
    got_rc, doc, p = result
    c.eq(got_rc, rc, what + ': exit code %d' % rc)
    if exact is not None:
        c.eq(doc, exact, what + ': response')
    if fields:
        got = {k: doc.get(k) for k in fields} if isinstance(doc, dict) else doc
        c.ok(got == fields, what + ': response', 'got %r\n       expected %r\n       stderr %r'
             % (got, fields, p.stderr[-300:]))
    return doc if isinstance(doc, dict) else {}


def body(c):
    fns = {name: MODULES[name] for name in ('echo', 'hello', 'spin', 'fail', 'counter')}
    with harness.Testbed('cli', 2) as bed, bed.turbine(fns):
        inv = bed.invoke
        # The examples of PROTOCOL.md that a CLI can send.
        expect(c, inv('--id', '7', 'echo', '{"hello": "world"}'), 0, 'PROTOCOL example: echo',
               exact={'v': 1, 'id': 7, 'status': 200, 'version': '1', 'body': {'hello': 'world'}})
        expect(c, inv('--id', '8', '--type', 'DryRun', 'echo'), 0, 'PROTOCOL example: DryRun',
               exact={'v': 1, 'id': 8, 'status': 204})
        expect(c, inv('--id', '9', 'nope'), 2, 'PROTOCOL example: unknown function',
               exact={'v': 1, 'id': 9, 'status': 404, 'error': 'ResourceNotFoundException',
                      'message': 'Function not found: nope'})
        expect(c, inv('--id', '42', 'echo', '{"a": 1, "b": [true, null, "x"]}'), 0, 'echo',
               v=1, id=42, status=200, version='1', body={'a': 1, 'b': [True, None, 'x']})
        expect(c, inv('echo', '"just a string"'), 0, 'echo of a JSON string', status=200,
               body='just a string')
        expect(c, inv('echo'), 0, 'echo without an event', status=200, body=None)
        expect(c, inv('hello', '{"name": "Ada"}'), 0, 'hello', status=200,
               body={'message': 'Hello, Ada!'})
        expect(c, inv('hello'), 0, 'hello without a name', body={'message': 'Hello, World!'})
        expect(c, inv('spin', '{"us": 2000}'), 0, 'spin', status=200, body={'us': 2000})
        expect(c, inv('fail', '{"type": "KeyError", "message": "no such key"}'), 1,
             'fail: function error', status=200, fn_error='Unhandled',
             body={'errorType': 'KeyError', 'errorMessage': 'no such key'})
        first = expect(c, inv('counter'), 0, 'counter, first call', status=200)
        second = expect(c, inv('--log-tail', 'counter'), 0, 'counter, second call', status=200)
        b1, b2 = first.get('body') or {}, second.get('body') or {}
        c.eq((b2.get('calls'), b2.get('worker'), b2.get('cold')),
             ((b1.get('calls') or 0) + 1, b1.get('worker'), False), 'counter counts across invocations')
        c.ok('call' in str(second.get('log', '')), '--log-tail prints the handler\'s log', second)
        expect(c, inv('--trace', 'Root=1-cli', 'echo', '1'), 0, '--trace echoed', trace='Root=1-cli')
        expect(c, inv('--type', 'DryRun', 'echo'), 0, 'DryRun', v=1, status=204)
        event = expect(c, inv('--type', 'Event', 'echo', '{}'), 0, 'Event accepted', status=202)
        again = expect(c, inv('--type', 'Event', '--idempotency-key', 'cli-1', 'echo', '{}'), 0,
                       'Event with an idempotency key', status=202)
        expect(c, inv('--type', 'Event', '--idempotency-key', 'cli-1', 'echo', '{}'), 0,
               'the same key again: a duplicate of the first', status=202, duplicate=True,
               event_id=again.get('event_id'))
        c.ok(event.get('event_id') != again.get('event_id'), 'each Event its own event_id')
        expect(c, inv('nope'), 2, 'unknown function', status=404, error='ResourceNotFoundException')
        expect(c, inv('echo:$LATEST', '5'), 0, 'qualifier $LATEST', status=200, body=5)
        expect(c, inv('echo:1', '6'), 0, 'qualifier 1', status=200, body=6, version='1')
        expect(c, inv('echo:9'), 2, 'unknown qualifier', status=404)
        expect(c, inv('--tenant', 'acme', 'echo', '7'), 0, '--tenant', status=200, body=7)
        expect(c, inv('echo', '8', to='%s:9000' % bed.turbine_ip), 0, '--to ADDR:PORT', body=8)

        # Nobody answers 198.18.k.99 (inside the client's own subnet): exit 3, promptly.
        start = time.monotonic()
        rc, doc, p = inv('--timeout-ms', '300', 'echo', to='198.18.%d.99' % bed.k)
        elapsed = time.monotonic() - start
        c.eq(rc, 3, 'no answer: exit code 3')
        c.ok(elapsed < 5, 'no answer: gives up in time (%.1f s)' % elapsed)

        for what, args in (('no function', []),
                           ('unknown option', ['--bogus', 'echo']),
                           ('event is not JSON', ['echo', '{"a":']),
                           ('--timeout-ms not a number', ['--timeout-ms', 'soon', 'echo']),
                           ('--to not an address', ['echo'])):
            to = 'not an address' if what.startswith('--to') else None
            rc, doc, p = inv(*args, to=to)
            c.eq(rc, 64, 'usage error (%s): exit code 64' % what)
            c.ok(p.stderr.strip() != '', 'usage error (%s): says why on stderr' % what)


harness.main('cli', body)
