"""PROTOCOL.md end to end: a Python msgpack client on a kernel UDP socket against turbine on af_packet."""

import re
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES, pack  # noqa: E402

BAD = 'InvalidRequestContentException'
NOT_FOUND = 'ResourceNotFoundException'


def ok_body(rid, body, version='1', **extra):
    r = {'v': 1, 'id': rid, 'status': 200, 'version': version, 'body': body}
    r.update(extra)
    return r


def fn_error(rid, error_type, message):
    return ok_body(rid, {'errorType': error_type, 'errorMessage': message}, fn_error='Unhandled')


def check_error(c, resp, rid, status, error, what):
    """An error response: exactly v, id, status, error and a non-empty message."""
    if not c.ok(isinstance(resp, dict), what + ': answered', resp):
        return
    c.eq({k: resp.get(k) for k in ('v', 'id', 'status', 'error')},
         {'v': 1, 'id': rid, 'status': status, 'error': error}, what)
    c.ok(isinstance(resp.get('message'), str) and resp['message'] != '', what + ': message', resp)
    c.eq(sorted(resp), sorted(['v', 'id', 'status', 'error', 'message']), what + ': keys')


def examples(c, cl):
    c.eq(cl.call({'id': 7, 'fn': 'echo', 'event': {'hello': 'world'}}),
         {'v': 1, 'id': 7, 'status': 200, 'version': '1', 'body': {'hello': 'world'}},
         'PROTOCOL example: echo')
    c.eq(cl.call({'id': 8, 'fn': 'echo', 'type': 'DryRun'}),
         {'v': 1, 'id': 8, 'status': 204}, 'PROTOCOL example: DryRun')
    c.eq(cl.call({'id': 9, 'fn': 'nope'}),
         {'v': 1, 'id': 9, 'status': 404, 'error': NOT_FOUND, 'message': 'Function not found: nope'},
         'PROTOCOL example: unknown function')
    c.eq(cl.call([1, 2, 3]),
         {'v': 1, 'id': 0, 'status': 400, 'error': BAD, 'message': 'request must be a map'},
         'PROTOCOL example: not a map')


def invalid_requests(c, cl):
    long_name = 'a' * 65
    # (what, request, id the response must carry)
    rows = [
        ('missing id', {'fn': 'echo'}, 0),
        ('missing fn', {'id': 11}, 11),
        ('id is a str', {'id': '7', 'fn': 'echo'}, 0),
        ('id is negative', {'id': -1, 'fn': 'echo'}, 0),
        ('id is a float', {'id': 1.5, 'fn': 'echo'}, 0),
        ('id is nil', {'id': None, 'fn': 'echo'}, 0),
        ('fn is an int', {'id': 12, 'fn': 5}, 12),
        ('fn is nil', {'id': 13, 'fn': None}, 13),
        ('fn is empty', {'id': 14, 'fn': ''}, 14),
        ('fn has a space', {'id': 15, 'fn': 'ec ho'}, 15),
        ('fn has a slash', {'id': 16, 'fn': '../echo'}, 16),
        ('fn is 65 chars', {'id': 17, 'fn': long_name}, 17),
        ('type is an int', {'id': 18, 'fn': 'echo', 'type': 1}, 18),
        ('type is unknown', {'id': 19, 'fn': 'echo', 'type': 'Sync'}, 19),
        ('tenant is an int', {'id': 20, 'fn': 'echo', 'tenant': 3}, 20),
        ('tenant is empty', {'id': 21, 'fn': 'echo', 'tenant': ''}, 21),
        ('tenant has bad chars', {'id': 22, 'fn': 'echo', 'tenant': 'a.b'}, 22),
        ('tenant is 65 chars', {'id': 23, 'fn': 'echo', 'tenant': long_name}, 23),
        ('v is 2', {'v': 2, 'id': 24, 'fn': 'echo'}, 24),
        ('v is 0', {'v': 0, 'id': 25, 'fn': 'echo'}, 25),
        ('v is a str', {'v': '1', 'id': 26, 'fn': 'echo'}, 26),
        ('timeout_ms is a str', {'id': 27, 'fn': 'echo', 'timeout_ms': '5'}, 27),
        ('timeout_ms is negative', {'id': 28, 'fn': 'echo', 'timeout_ms': -5}, 28),
        ('log is an int', {'id': 29, 'fn': 'echo', 'log': 1}, 29),
        ('trace is an int', {'id': 30, 'fn': 'echo', 'trace': 1}, 30),
        ('not a map: int', 5, 0),
        ('not a map: str', 'echo', 0),
        ('not a map: nil', None, 0),
        ('not a map: bin', pack(b'\x82\xa2id'), 0),
    ]
    for what, req, rid in rows:
        check_error(c, cl.call(req), rid, 400, BAD, '400 ' + what)
    # Raw payloads the Python packer would not produce.
    valid = pack({'id': 31, 'fn': 'echo'})
    for what, data in (('trailing garbage', valid + b'\xc0'),
                       ('two maps', valid + valid),
                       ('truncated map', valid[:-2]),
                       ('non-str key', b'\x83\x01\x02' + valid[1:])):
        resp = cl.call(data)
        if c.ok(isinstance(resp, dict), '400 %s: answered' % what, resp):
            c.eq((resp.get('status'), resp.get('error')), (400, BAD), '400 ' + what)


def qualifiers_and_limits(c, cl):
    r = cl.call({'id': 40, 'fn': 'echo:$LATEST', 'event': 1})
    c.ok(isinstance(r, dict) and r.get('status') == 200 and r.get('body') == 1
         and r.get('version') in ('1', '$LATEST'), 'qualifier $LATEST runs', r)
    c.eq(cl.call({'id': 41, 'fn': 'echo:1', 'event': 2}), ok_body(41, 2), 'qualifier = version 1')
    check_error(c, cl.call({'id': 42, 'fn': 'echo:2'}), 42, 404, NOT_FOUND, '404 unknown qualifier')
    check_error(c, cl.call({'id': 43, 'fn': 'echo:prod'}), 43, 404, NOT_FOUND, '404 unknown alias')
    c.eq(cl.call({'id': 44, 'fn': 'pinned', 'event': 3}), ok_body(44, 3, version='7'),
         'configured version reported')
    c.eq(cl.call({'id': 45, 'fn': 'pinned:7', 'event': 4}), ok_body(45, 4, version='7'),
         'qualifier = configured version')
    check_error(c, cl.call({'id': 46, 'fn': 'pinned:1'}), 46, 404, NOT_FOUND,
                '404 default version of a function published as 7')
    c.eq(cl.call({'id': 47, 'fn': 'small', 'event': 'ab'}), ok_body(47, 'ab'),
         'event under max_event_bytes')
    check_error(c, cl.call({'id': 48, 'fn': 'small', 'event': 'x' * 100}), 48, 413,
                'RequestTooLargeException', '413 event over max_event_bytes')
    resp = cl.call({'id': 49, 'fn': 'echo', 'type': 'Event', 'event': {}})
    c.ok(isinstance(resp, dict) and resp.get('status') == 202 and resp.get('id') == 49 and
         re.fullmatch(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
                      str(resp.get('event_id'))) is not None and set(resp) == {'v', 'id', 'status', 'event_id'},
         '202 for Event, with its event_id and nothing else', resp)
    for i, (key, what) in enumerate([(5, 'not a string'), ('', 'empty'), ('k' * 65, '65 bytes')]):
        check_error(c, cl.call({'id': 60 + i, 'fn': 'echo', 'type': 'Event', 'idempotency_key': key}),
                    60 + i, 400, 'InvalidRequestContentException', '400 for an idempotency_key ' + what)
    c.eq(cl.call({'id': 50, 'fn': 'echo', 'type': 'RequestResponse', 'event': 5}), ok_body(50, 5),
         'explicit RequestResponse')
    check_error(c, cl.call({'id': 51, 'fn': 'nope', 'type': 'DryRun'}), 51, 404, NOT_FOUND,
                'DryRun of an unknown function: 404')
    check_error(c, cl.call({'id': 52, 'fn': 'echo:9', 'type': 'DryRun'}), 52, 404, NOT_FOUND,
                'DryRun of an unknown qualifier: 404')
    c.eq(cl.call({'id': 53, 'fn': 'echo', 'tenant': 'acme-Corp_1', 'event': 6}), ok_body(53, 6),
         'a valid tenant')
    c.eq(cl.call({'id': 2 ** 64 - 1, 'fn': 'echo'}), ok_body(2 ** 64 - 1, None), 'id 2^64-1 echoed')
    c.eq(cl.call({'v': 1, 'id': 54, 'fn': 'echo', 'event': 7}), ok_body(54, 7), 'explicit v: 1')
    check_error(c, cl.call({'id': 55, 'fn': 'broken'}), 55, 502, 'ResourceNotReadyException',
                '502 for a module whose init failed')


def fields(c, cl):
    c.eq(cl.call({'id': 60, 'fn': 'echo', 'event': 'x', 'trace': 'Root=1-5e1b4151-5ac6c58f'}),
         ok_body(60, 'x', trace='Root=1-5e1b4151-5ac6c58f'), 'trace echoed on 200')
    c.eq(cl.call({'id': 61, 'fn': 'echo', 'type': 'DryRun', 'trace': 't-61'}),
         {'v': 1, 'id': 61, 'status': 204, 'trace': 't-61'}, 'trace echoed on 204')
    r = cl.call({'id': 62, 'fn': 'nope', 'trace': 't-62'})
    c.ok(isinstance(r, dict) and r.get('status') == 404 and r.get('trace') == 't-62',
         'trace echoed on 404', r)
    c.eq(cl.call({'id': 63, 'fn': 'echo', 'event': [1], 'future': {'a': 1}, 'zz': [None]}),
         ok_body(63, [1]), 'unknown keys ignored')
    c.eq(cl.call({'id': 64, 'fn': 'echo', 'event': 'c', 'ctx': {'custom': {'k': 'v'}}}),
         ok_body(64, 'c'), 'ctx accepted')
    first = cl.call({'id': 65, 'fn': 'counter', 'log': 'Tail'})
    c.ok(isinstance(first, dict) and first.get('status') == 200 and isinstance(first.get('log'), str)
         and 'call' in first['log'], 'log: Tail carries the handler\'s log', first)
    second = cl.call({'id': 66, 'fn': 'counter'})
    c.ok(isinstance(second, dict) and 'log' not in second, 'no log without log: Tail', second)
    if isinstance(first, dict) and isinstance(second, dict):
        b1, b2 = first.get('body') or {}, second.get('body') or {}
        c.eq((b2.get('calls'), b2.get('worker'), b2.get('cold')),
             ((b1.get('calls') or 0) + 1, b1.get('worker'), False), 'counter keeps state across calls')
    r = cl.call({'id': 67, 'fn': 'echo', 'log': 'Tail', 'event': 1})
    c.ok(isinstance(r, dict) and r.get('status') == 200 and isinstance(r.get('log'), str),
         'log: Tail on a handler that logged nothing', r)


def modules(c, cl):
    c.eq(cl.call({'id': 70, 'fn': 'hello', 'event': {'name': 'Ada'}}),
         ok_body(70, {'message': 'Hello, Ada!'}), 'hello with a name')
    c.eq(cl.call({'id': 71, 'fn': 'hello'}), ok_body(71, {'message': 'Hello, World!'}),
         'hello without an event')
    c.eq(cl.call({'id': 72, 'fn': 'hello', 'event': {}}), ok_body(72, {'message': 'Hello, World!'}),
         'hello without a name')
    c.eq(cl.call({'id': 73, 'fn': 'spin', 'event': {'us': 1000}}), ok_body(73, {'us': 1000}), 'spin')
    c.eq(cl.call({'id': 74, 'fn': 'spin', 'event': {'us': 300000}, 'timeout_ms': 50}),
         fn_error(74, 'Sandbox.Timedout', 'Task timed out after 0.05 seconds'),
         'handler past its deadline: Sandbox.Timedout')
    c.eq(cl.call({'id': 75, 'fn': 'slow', 'event': {'us': 200000}}),
         fn_error(75, 'Sandbox.Timedout', 'Task timed out after 0.10 seconds'),
         'function timeout_ms from --fn')
    c.eq(cl.call({'id': 78, 'fn': 'slow', 'event': {'us': 200000}, 'timeout_ms': 5000}),
         fn_error(78, 'Sandbox.Timedout', 'Task timed out after 0.10 seconds'),
         'the smaller of timeout_ms and the function\'s timeout applies')
    c.eq(cl.call({'id': 79, 'fn': 'spin', 'event': {'us': 1000}, 'timeout_ms': 5000}),
         ok_body(79, {'us': 1000}), 'a call within its timeout_ms')
    c.eq(cl.call({'id': 76, 'fn': 'fail', 'event': {'type': 'ValueError', 'message': 'boom'}}),
         fn_error(76, 'ValueError', 'boom'), 'fail: error type and message')
    r = cl.call({'id': 77, 'fn': 'fail', 'event': {}})
    c.ok(isinstance(r, dict) and r.get('fn_error') == 'Unhandled'
         and (r.get('body') or {}).get('errorType') == 'Error', 'fail: default error type', r)
    events = [('map', {'a': 1, 'b': [True, False]}), ('array', [1, 'two', 3.5, None]),
              ('str', 'héllo wörld'), ('empty str', ''), ('bin', b'\x00\x01\xfe\xff'),
              ('nil', None), ('int', -123456789012), ('uint64', 2 ** 64 - 1), ('float', 1.25),
              ('bool', True), ('empty map', {}), ('empty array', []), ('int keys', {1: 'one'}),
              ('nested', {'a': {'b': {'c': [{'d': [1, [2, [3, {'e': None}]]]}]}}})]
    for i, (what, event) in enumerate(events):
        c.eq(cl.call({'id': 80 + i, 'fn': 'echo', 'event': event}), ok_body(80 + i, event),
             'echo of ' + what)


def two_clients(c, bed, cl):
    """Interleaved requests from two sockets: each response goes back to its sender's port."""
    other = bed.client()
    try:
        for i in range(5):
            cl.send({'id': 100 + i, 'fn': 'echo', 'event': 'a'})
            other.send({'id': 200 + i, 'fn': 'echo', 'event': 'b'})
        mine = [cl.recv() for _ in range(5)]
        theirs = [other.recv() for _ in range(5)]
        c.eq(sorted((r or {}).get('id') for r in mine), list(range(100, 105)), 'responses to the first socket')
        c.eq(sorted((r or {}).get('id') for r in theirs), list(range(200, 205)), 'responses to the second socket')
    finally:
        other.close()
    return other


def sizes(c, cl):
    """The largest datagram is accepted; a result that cannot fit becomes Function.ResponseSizeTooLarge.

    An echo response repeats its event plus v, status and version and less
    fn: 13 bytes more than its request, so the echo of a 1472-byte request
    (the most an MTU of 1500 carries) cannot fit in a response datagram.
    """
    def fill(make, total=1472):
        n = total
        while n > 0 and len(pack(make(n))) > total:
            n -= 1
        return make(n)

    req = fill(lambda n: {'id': 90, 'fn': 'hello', 'event': {'name': 'Ada', 'pad': 'x' * n}})
    c.eq(len(pack(req)), 1472, '1472-byte request built')
    c.eq(cl.call(req), ok_body(90, {'message': 'Hello, Ada!'}), 'a 1472-byte request is served')
    req = fill(lambda n: {'id': 91, 'fn': 'echo', 'event': 'x' * n})
    c.eq(len(pack(req)), 1472, '1472-byte echo request built')
    r = cl.call(req)
    head = {k: r.get(k) for k in ('v', 'id', 'status', 'version', 'fn_error')} if isinstance(r, dict) else r
    err = (r.get('body') if isinstance(r, dict) else None) or {}
    c.eq(head, {'v': 1, 'id': 91, 'status': 200, 'version': '1', 'fn_error': 'Unhandled'},
         'an echo that cannot fit: fn_error')
    c.ok(isinstance(err, dict) and err.get('errorType') == 'Function.ResponseSizeTooLarge'
         and isinstance(err.get('errorMessage'), str),
         'an echo that cannot fit: Function.ResponseSizeTooLarge', str(err)[:200])


COUNTERS = ('rx_packets tx_packets requests responses arp_replies icmp_replies status_200 status_202 '
            'status_204 status_400 status_403 status_404 status_413 status_429 status_500 status_502 '
            'status_503 fn_errors fn_timeouts late_results_discarded cold_starts rx_csum_partial drop_truncated drop_not_ipv4_or_arp '
            'drop_arp_other drop_ip_bad_header drop_ip_bad_checksum drop_ip_fragment drop_ip_not_ours '
            'drop_icmp_other drop_not_udp drop_udp_bad_length drop_udp_bad_checksum drop_udp_wrong_port '
            'drop_oversize drop_tx_full drop_multiseg drop_ring_full drop_alloc mempool_in_use '
            'mempool_size').split()


def counters(c, t, cl, other):
    """Turbine's counters against everything the two clients sent and received."""
    stats = t.stats()
    c.eq(sorted(n for n in COUNTERS if not isinstance(stats.get(n), int)), [],
         'telemetry /turbine/stats has every counter')
    c.eq(stats.get('requests'), cl.sent + other.sent, 'requests counter = datagrams sent')
    c.eq(stats.get('responses'), len(cl.responses) + len(other.responses),
         'responses counter = responses received')
    seen = harness.status_counts(cl.responses + other.responses)
    c.eq({k: stats.get(k, 0) for k in harness.STATUS_COUNTERS + ['fn_errors']},
         {k: seen.get(k, 0) for k in harness.STATUS_COUNTERS + ['fn_errors']},
         'status counters = statuses received')
    c.eq(stats.get('fn_timeouts'), 3, 'fn_timeouts counter')
    # The clients keep the kernel's default offloads: on a veth every UDP checksum they send
    # is left partial, and every one of those requests was answered above.
    c.eq((stats.get('rx_csum_partial'), stats.get('drop_udp_bad_checksum')),
         (cl.sent + other.sent, 0), 'rx_csum_partial = datagrams sent, none dropped for its checksum')


def body(c):
    echo = MODULES['echo']
    fns = {'echo': echo, 'hello': MODULES['hello'], 'spin': MODULES['spin'], 'fail': MODULES['fail'],
           'counter': MODULES['counter'], 'small': echo + ',max_event_bytes=16',
           'pinned': echo + ',version=7', 'slow': MODULES['spin'] + ',timeout_ms=100',
           'broken': MODULES['initfail']}
    with harness.Testbed('protocol', 1) as bed, bed.turbine(fns) as t:
        cl = bed.client()
        examples(c, cl)
        invalid_requests(c, cl)
        qualifiers_and_limits(c, cl)
        fields(c, cl)
        modules(c, cl)
        sizes(c, cl)
        other = two_clients(c, bed, cl)
        counters(c, t, cl, other)
        rc, final = t.stop()
        c.eq(rc, 0, 'turbine exits 0 on SIGTERM')
        c.ok(isinstance(final, dict) and final.get('requests') == cl.sent + other.sent,
             'final counters printed', final)


harness.main('protocol', body)
