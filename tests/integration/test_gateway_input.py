"""turbine-gateway on bad input, slow clients, its own limit, and a lossy path to Turbine.

- Oversized: a Content-Length beyond the gateway's limit is answered 413 RequestTooLargeException
  before any byte of the body is sent; a body that fits HTTP but not one datagram is 413 too
  (boto3 raises its RequestTooLargeException).
- Malformed JSON passes through: the event is the body's bytes, and echo gives them back.
- Signatures: no Authorization (403 MissingAuthenticationTokenException), a malformed one
  (400 IncompleteSignatureException), a correct signature made 10 minutes ago (403
  InvalidSignatureException, "Signature expired"); a bad X-Amz-Invocation-Type or client
  context is 400 InvalidParameterValueException; X-Amzn-Trace-Id comes back.
- Slow clients: with --client-timeout-s 4 and two HTTP threads, connections that stall in the
  headers or mid-body are closed by the gateway after the timeout, while other clients' calls
  go on being answered at once meanwhile.
- --max-inflight 1: while a call waits (one Turbine never answers: a relay swallows it), a
  second is 429 TooManyRequestsException (Reason ConcurrentInvocationLimitExceeded); the first
  ends 500 ServiceException after --call-timeout-ms and a second, and is never sent twice.
- SIGTERM while a call waits: the call is answered 500 ServiceException, not dropped.
- Retransmits: through a relay that drops the first copy of every request and sends every answer
  twice, each call (RequestResponse with --retransmit-sync-ms, and Event) is still answered once,
  with its own payload; the gateway counts its retransmits and the duplicate answers it
  discarded. Without --retransmit-sync-ms a long RequestResponse is never sent twice.
"""

import datetime
import json
import os
import select
import socket
import sys
import tempfile
import threading
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_gateway as tg  # noqa: E402
from harness import MODULES  # noqa: E402

CLIENT_TIMEOUT_S = 4


def error_of(headers, data):
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {}
    return headers.get('x-amzn-errortype'), doc


def oversized(c, bed, gw):
    # Headers only: the answer must come without the body ever being sent.
    s = bed.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(('127.0.0.1', gw.port))
    s.sendall(b'POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n'
              b'Content-Length: 1000000\r\n\r\n')
    try:
        head = s.recv(4096)
    except socket.timeout:
        head = b''
    s.close()
    c.ok(head.startswith(b'HTTP/1.1 413') and b'RequestTooLargeException' in head,
         'a Content-Length of 1 MB is 413 RequestTooLargeException, the body unsent', head[:200])

    with harness.in_netns(bed.client_ns):
        alpha = tg.boto3_client(gw, tg.ALPHA)
        try:
            alpha.invoke(FunctionName='echo', Payload=b'x' * 3000)
            c.ok(False, 'boto3: a 3000-byte body raises RequestTooLargeException')
        except alpha.exceptions.RequestTooLargeException as e:
            c.eq(e.response['ResponseMetadata']['HTTPStatusCode'], 413,
                 'boto3: a 3000-byte body raises RequestTooLargeException')
        r = alpha.invoke(FunctionName='echo', Payload=b'{"a": 1,,}')
        c.eq(r['Payload'].read(), b'{"a": 1,,}', 'malformed JSON is passed through: echo returns the bytes')
        raw = bytes(range(256))
        r = alpha.invoke(FunctionName='echo', Payload=raw)
        c.eq(r['Payload'].read(), raw, 'binary bytes are passed through')
        r = alpha.invoke(FunctionName='echo', Payload=b'')
        c.eq(r['Payload'].read(), b'null', 'an empty body is a nil event')


def signatures(c, bed, gw):
    conn = tg.connection(bed, gw.port)
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}', sign=False)
    c.eq((status, error_of(h, data)[0]), (403, 'MissingAuthenticationTokenException'),
         'no Authorization: 403 MissingAuthenticationTokenException')
    for what, value in (('no Signature', 'AWS4-HMAC-SHA256 Credential=%s/20260101/eu-west-3/lambda/'
                         'aws4_request, SignedHeaders=host' % tg.ALPHA[0]),
                        ('garbage Credential', 'AWS4-HMAC-SHA256 Credential=garbage, SignedHeaders=host, '
                         'Signature=' + '0' * 64),
                        ('another scheme', 'Bearer abc'),
                        ('AWS4 alone', 'AWS4-HMAC-SHA256')):
        status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}', sign=False,
                                      headers={'Authorization': value, 'X-Amz-Date': '20260101T000000Z'})
        c.eq((status, error_of(h, data)[0]), (400, 'IncompleteSignatureException'),
             'malformed Authorization (%s): 400 IncompleteSignatureException' % what)
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}', when=old)
    kind, doc = error_of(h, data)
    c.ok(status == 403 and kind == 'InvalidSignatureException' and 'expired' in doc.get('message', ''),
         'a signature made 10 minutes ago: 403 InvalidSignatureException, expired', (status, kind, doc))
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}',
                                  headers={'X-Amz-Invocation-Type': 'Sometimes'})
    c.eq((status, error_of(h, data)[0]), (400, 'InvalidParameterValueException'),
         'a bad X-Amz-Invocation-Type: 400 InvalidParameterValueException')
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}',
                                  headers={'X-Amz-Client-Context': 'not base64!'})
    c.eq((status, error_of(h, data)[0]), (400, 'InvalidParameterValueException'),
         'a client context that is not base64: 400 InvalidParameterValueException')
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'"t"',
                                  headers={'X-Amzn-Trace-Id': 'Root=1-5f84c7a1-abcdef'})
    c.eq((status, h.get('x-amzn-trace-id'), data), (200, 'Root=1-5f84c7a1-abcdef', b'"t"'),
         'X-Amzn-Trace-Id is passed and echoed')
    for n in range(2):
        status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}',
                                      headers={'X-Amz-Invocation-Type': 'Event',
                                               'X-Turbine-Idempotency-Key': 'input-1'})
        c.eq(status, 202, 'an Event with the client\'s idempotency key, %s time: 202'
             % ('first' if n == 0 else 'second'))
    conn.close()


def slow_clients(c, bed, gw):
    stalled = []
    for k in range(20):
        s = bed.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(('127.0.0.1', gw.port))
        if k % 2 == 0:
            s.sendall(b'POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-')
        else:
            s.sendall(b'POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                      b'Content-Length: 100\r\n\r\n{"half": ')
        stalled.append(s)
    start = time.monotonic()
    # Meanwhile, other clients are served at once.
    conn = tg.connection(bed, gw.port)
    slowest = 0.0
    ok = 0
    answers = []
    for i in range(20):
        t0 = time.monotonic()
        status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{"meanwhile": %d}' % i)
        slowest = max(slowest, time.monotonic() - t0)
        answers.append((status, data[:100]))
        ok += status == 200 and json.loads(data) == {'meanwhile': i}
    conn.close()
    c.ok(ok == 20, 'while 20 clients stall, other calls are answered', answers)
    # Blocked behind the stalled ones, a call would wait for their timeout.
    c.ok(slowest < CLIENT_TIMEOUT_S / 2, 'and each well before the stalled ones time out', slowest)
    early = [s for s in stalled if select.select([s], [], [], 0)[0]]
    c.ok(time.monotonic() - start >= CLIENT_TIMEOUT_S or not early,
         'no stalled connection was dropped before the timeout', len(early))
    closed = 0
    end = start + CLIENT_TIMEOUT_S + 6
    for s in stalled:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            closed += s.recv(4096) == b''
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed += 1
        s.close()
    elapsed = time.monotonic() - start
    c.eq(closed, 20, 'every stalled connection was closed by the gateway')
    c.ok(elapsed >= CLIENT_TIMEOUT_S - 0.5, 'after its timeout (%.1f s)' % elapsed, elapsed)


class Relay:
    """UDP between a gateway and Turbine, in the client's namespace, that can lose on purpose.

    `lossy`: drop the first copy of every request and send every answer on twice. Requests whose
    event holds "hold" are never forwarded: such a call waits for an answer that never comes.
    """

    def __init__(self, bed, lossy=False):
        self.lossy = lossy
        self.front = bed.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(('127.0.0.1', 0))
        self.port = self.front.getsockname()[1]
        self.back = bed.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect((bed.turbine_ip, harness.SERVICE_PORT))
        self.seen = set()
        self.received = 0       # datagrams from the gateway: its sends and retransmits
        self.answers = 0        # datagrams from Turbine
        self.held = 0
        self.gateway = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.1)
            for s in ready:
                data, addr = s.recvfrom(65536)
                if s is self.front:
                    self.gateway = addr
                    self.received += 1
                    req = msgpack.unpackb(data, raw=False)
                    if isinstance(req.get('event'), dict) and 'hold' in req['event']:
                        self.held += 1
                        continue
                    if self.lossy and req.get('id') not in self.seen:
                        self.seen.add(req.get('id'))
                        continue
                    self.back.send(data)
                elif self.gateway is not None:
                    self.answers += 1
                    for _ in range(2 if self.lossy else 1):
                        self.front.sendto(data, self.gateway)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.front.close()
        self.back.close()


def relayed_gateway(bed, creds, relay, args=()):
    gw = tg.Gateway(bed, creds, list(args))
    gw.cmd[gw.cmd.index('--to') + 1] = '127.0.0.1:%d' % relay.port
    return gw.start()


def call_in_thread(bed, gw, body, got):
    def run():
        try:
            conn = tg.connection(bed, gw.port)
            got['r'] = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', body)
            conn.close()
        except Exception as e:  # reported by the checks
            got['r'] = (repr(e), {}, b'')
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def max_inflight(c, bed, creds):
    """--max-inflight 1; a call Turbine never answers holds the slot until its deadline."""
    relay = Relay(bed)
    gw = relayed_gateway(bed, creds, relay, ['--max-inflight', '1', '--call-timeout-ms', '3000'])
    got = {}
    t0 = time.monotonic()
    th = call_in_thread(bed, gw, b'{"hold": 1}', got)
    harness.wait_until(lambda: relay.held > 0, 5)
    conn = tg.connection(bed, gw.port)
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'1')
    conn.close()
    kind, doc = error_of(h, data)
    c.eq((status, kind, doc.get('Reason'), h.get('retry-after')),
         (429, 'TooManyRequestsException', 'ConcurrentInvocationLimitExceeded', '1'),
         '--max-inflight 1: a second waiting call is 429 TooManyRequestsException')
    th.join(15)
    status, h, data = got.get('r', (None, {}, b''))
    kind, doc = error_of(h, data)
    c.ok(status == 500 and kind == 'ServiceException' and 'within 4000 ms' in doc.get('Message', '') and
         time.monotonic() - t0 >= 3.9,
         'the call Turbine never answered: 500 ServiceException after --call-timeout-ms and a second',
         (status, kind, doc, time.monotonic() - t0))
    conn = tg.connection(bed, gw.port)
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'2')
    conn.close()
    c.eq((status, data), (200, b'2'), 'with the slot free again, calls go through')
    final = gw.stop() or {}
    relay.close()
    c.eq((final.get('throttled'), final.get('full'), final.get('timeouts'), final.get('retransmits')),
         (1, 1, 1, 0), 'the gateway counted the refusal and the timeout, and sent no RequestResponse twice')


def shutdown(c, bed, creds):
    """SIGTERM while a call waits for Turbine: the call is answered 500, not dropped."""
    relay = Relay(bed)
    gw = relayed_gateway(bed, creds, relay)
    got = {}
    th = call_in_thread(bed, gw, b'{"hold": 2}', got)
    harness.wait_until(lambda: relay.held > 0, 5)
    final = gw.stop() or {}
    th.join(10)
    relay.close()
    status, h, data = got.get('r', (None, {}, b''))
    kind, doc = error_of(h, data)
    c.eq((status, kind, doc.get('Message')), (500, 'ServiceException', 'the gateway is shutting down'),
         'SIGTERM: a call still waiting is answered 500 ServiceException')
    c.eq(final.get('failed'), 1, 'and counted as failed')


def retransmits(c, bed, creds):
    relay = Relay(bed, lossy=True)
    # echo answers in well under 200 ms: its RequestResponse calls may be sent again too.
    gw = relayed_gateway(bed, creds, relay, ['--retransmit-sync-ms', '200'])
    conn = tg.connection(bed, gw.port)
    good = 0
    for i in range(10):
        status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{"lossy": %d}' % i)
        good += status == 200 and json.loads(data) == {'lossy': i}
    c.eq(good, 10, 'through the lossy relay, each call is answered with its own payload')
    status, h, data = tg.raw_call(conn, gw.port, tg.ALPHA, 'echo', b'{}',
                                  headers={'X-Amz-Invocation-Type': 'Event'})
    c.eq(status, 202, 'an Event through the lossy relay: 202 after a retransmit')
    conn.close()
    time.sleep(0.3)
    final = gw.stop() or {}
    relay.close()
    c.eq((final.get('calls'), final.get('answered'), final.get('answers')), (11, 11, 11),
         'through the lossy relay, 11 calls sent and answered once each')
    c.ok(final.get('retransmits', 0) >= 11 and
         final.get('calls', 0) + final.get('retransmits', 0) == relay.received,
         'each call was retransmitted (its first copy was dropped), and the relay saw every copy',
         (final.get('retransmits'), relay.received))
    c.ok(final.get('duplicates', 0) >= 11 and final.get('duplicates') == 2 * relay.answers - 11,
         'every answer beyond the first of each call was discarded as a duplicate',
         (final.get('duplicates'), relay.answers))


def body(c):
    with harness.Testbed('gateway_input', 62) as bed, \
            tempfile.TemporaryDirectory(prefix='tb-gateway-input-') as tmp:
        tg.start_turbine(bed, {'echo': MODULES['echo']}, lcores='0')
        creds = os.path.join(tmp, 'credentials')
        tg.write_credentials(creds)
        gw = tg.Gateway(bed, creds, ['--client-timeout-s', str(CLIENT_TIMEOUT_S), '--threads', '2']).start()
        oversized(c, bed, gw)
        signatures(c, bed, gw)
        slow_clients(c, bed, gw)
        final = gw.stop() or {}
        c.ok(final.get('too_large', 0) >= 2 and final.get('auth_failures', 0) >= 6,
             'the gateway counted the refusals', final)
        shutdown(c, bed, creds)
        max_inflight(c, bed, creds)
        retransmits(c, bed, creds)


if __name__ == '__main__':
    harness.main('gateway_input', body, required=[harness.TURBINE, tg.TURBINE_GATEWAY, MODULES['echo']])
