"""Tenant limits across two nodes (limits_backend nats): leases in a NATS key-value bucket.

Two turbines, A and B, in one namespace with a nats-server (JetStream, loopback
of that namespace only), each on its own veth pair to the client's namespace
(198.18.31.0/24 and 198.18.32.0/24). Tenant acme has concurrency 4 over both.

- an idle node holds nothing: A's first call is refused, and A takes the whole
  limit within a renewal period (`turbinectl leases` shows it);
- beta's rate (10/s) the same way: A borrows all of it, 30 calls at once get
  about 10 through, B holding none is refused CallerRateLimitExceeded;
- 10 simultaneous long calls to A: exactly 4 admitted, 6 refused with
  ConcurrentInvocationLimitExceeded; while A's calls run, calls to B are
  refused; the bucket never holds more than 4;
- once A's calls finish, B gets the limit back within a renewal period or two;
- A killed with kill -9 while holding the limit: B is refused until A's lease
  expires, then within the lease time B runs 4 calls at once (and a fifth is
  refused);
- NATS killed: B admits on its share until its lease would run out, then
  refuses; NATS restarted: B admits again;
- B stopped cleanly gives its row back at once.
"""

import json
import os
import signal
import time
import types

import harness
import nats_lease_servers
from harness import MODULES

TENANT = 'acme'
LIMIT = 4
RATE_TENANT = 'beta'       # a rate limit shared the same way
RATE = 10
TTL_MS = 3000
RENEW_MS = 500
# What "within a renewal period or two" may take on a loaded machine (the times are logged).
SLACK_S = 3.0
LONG_US = 3000000          # a long call: 3 s on the node's one worker
TURBINECTL = os.environ.get('TURBINECTL', '')
REASON = 'ConcurrentInvocationLimitExceeded'


class Pair:
    """A second veth pair between the bed's two namespaces, for a second turbine."""

    def __init__(self, bed, k):
        pid = os.getpid()
        self.bed = bed
        self.host_if = ('tbh%dx%x' % (k, pid))[:15]
        self.client_if = ('tbn%dx%x' % (k, pid))[:15]
        self.turbine_ip = '198.18.%d.1' % k
        self.client_ip = '198.18.%d.2' % k
        harness.run(['ip', 'link', 'add', self.host_if, 'netns', bed.server_ns, 'type', 'veth',
                     'peer', 'name', self.client_if, 'netns', bed.client_ns])
        harness.run(['ip', '-n', bed.server_ns, 'link', 'set', self.host_if, 'up'])
        harness.run(['ip', '-n', bed.client_ns, 'link', 'set', self.client_if, 'up'])
        harness.run(['ip', '-n', bed.client_ns, 'addr', 'add', self.client_ip + '/24', 'dev',
                     self.client_if])

    def client(self):
        shim = types.SimpleNamespace(socket=self.bed.socket, client_ip=self.client_ip)
        return harness.UdpClient(shim, self.turbine_ip, harness.SERVICE_PORT)


def start_node(bed, node, host_if, ip, nats):
    fns = {'spin': MODULES['spin'] + ',timeout_ms=60000', 'echo': MODULES['echo']}
    args = ['--ip', ip, '--limits-backend', 'nats', '--nats-url', nats.url,
            '--lease-ttl-ms', str(TTL_MS), '--lease-renew-ms', str(RENEW_MS),
            '--node-id', node, '--tenant', '%s,concurrency=%d' % (TENANT, LIMIT),
            '--tenant', '%s,rate=%d' % (RATE_TENANT, RATE)]
    t = bed.turbine(fns, lcores='0,1', vdevs=['net_af_packet0,iface=' + host_if], ip=False,
                    args=args)
    return t.start()


def lease(t, tenant=TENANT):
    """This node's lease of a tenant; {} when telemetry did not answer in time (a loaded machine)."""
    try:
        return t.telemetry('/turbine/leases').get(tenant, {})
    except OSError:
        return {}


def bucket_rows(nats, tenant=TENANT):
    text = nats_lease_servers.kv_get(nats, 'turbine_leases', 'tenant.' + tenant)
    return json.loads(text) if text else {}


class Caller:
    """Requests from one client to one node, numbered; answers kept by id."""

    def __init__(self, client, name, tenant=TENANT):
        self.client = client
        self.name = name
        self.tenant = tenant
        self.next_id = 1
        self.answers = {}

    def send(self, fn, event):
        rid = self.next_id
        self.next_id += 1
        self.client.send({'id': rid, 'fn': fn, 'tenant': self.tenant, 'event': event})
        return rid

    def collect(self, ids, timeout):
        """Wait until every id in ids is answered (or timeout); return {id: answer}."""
        end = time.monotonic() + timeout
        while any(i not in self.answers for i in ids) and time.monotonic() < end:
            r = self.client.recv(max(0.05, end - time.monotonic()))
            if isinstance(r, dict) and 'id' in r:
                self.answers[r['id']] = r
        return {i: self.answers.get(i) for i in ids}

    def collect_refused(self, ids, n, timeout):
        """Wait until n of ids are answered 429 (or timeout); return the answers so far."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = {i: self.answers[i] for i in ids if i in self.answers}
            if sum(1 for a in got.values() if a.get('status') == 429) >= n:
                return got
            r = self.client.recv(max(0.05, end - time.monotonic()))
            if isinstance(r, dict) and 'id' in r:
                self.answers[r['id']] = r
        return {i: self.answers[i] for i in ids if i in self.answers}

    def call(self, fn='echo', event=None, timeout=3.0):
        rid = self.send(fn, event if event is not None else {'n': 1})
        return self.collect([rid], timeout)[rid]

    def verdict(self, tries=5):
        """One echo call's answer, again while it is 503: a worker the loaded machine left
        without CPU for a second is out of dispatch for a moment, which is not about leases."""
        for _ in range(tries):
            r = self.call()
            if (r or {}).get('status') != 503:
                return r
            time.sleep(0.2)
        return r

    def until_admitted(self, timeout, interval=0.2):
        """Call echo until one is answered 200; (seconds it took, statuses seen)."""
        start = time.monotonic()
        seen = []
        while time.monotonic() - start < timeout:
            r = self.call()
            status = r.get('status') if isinstance(r, dict) else None
            seen.append(status)
            if status == 200:
                return time.monotonic() - start, seen
            time.sleep(interval)
        return None, seen


def statuses(answers):
    return sorted((a or {}).get('status', 0) for a in answers.values())


def reasons(answers):
    return sorted({(a or {}).get('reason') for a in answers.values()
                   if (a or {}).get('status') == 429})


def turbinectl_leases(c, t, what):
    p = harness.run([TURBINECTL, '-f', t.prefix, 'leases'], check=False)
    lines = p.stdout.splitlines()
    row = next((ln.split() for ln in lines if ln.startswith(TENANT + ' ')), None)
    header = lines[0].split() if lines else []
    c.eq(p.returncode, 0, '%s: turbinectl leases exits 0' % what)
    c.ok(header[:4] == ['TENANT', 'NODE', 'NATS', 'CONC_LIMIT'] and row is not None,
         '%s: turbinectl leases prints a row for %s' % (what, TENANT), p.stdout + p.stderr)
    return dict(zip(header, row or []))


def body(c):
    if not nats_lease_servers.available():
        harness.skip('nats-server is not installed (Debian package nats-server)')
    with harness.Testbed('leases', 31) as bed:
        pair_b = Pair(bed, 32)
        nats = nats_lease_servers.NatsServer(bed.server_ns)
        try:
            run(c, bed, pair_b, nats.start())
        finally:
            nats.stop()


def run(c, bed, pair_b, nats):
    a = start_node(bed, 'node-a', bed.host_if, bed.turbine_ip, nats)
    b = start_node(bed, 'node-b', pair_b.host_if, pair_b.turbine_ip, nats)
    ca, cb = Caller(bed.client(), 'A'), Caller(pair_b.client(), 'B')

    # -- an idle node holds nothing; A borrows the whole limit on its first refusal
    c.eq((lease(a).get('concurrency_limit'), lease(a).get('concurrency_share')), (LIMIT, 0),
         'idle: A leases acme (limit 4) and holds nothing')
    took, seen = ca.until_admitted(RENEW_MS * 2 / 1000 + SLACK_S)
    c.ok(took is not None, 'borrow: A admits a call within a renewal period or two', seen)
    c.ok(harness.wait_until(lambda: lease(a).get('concurrency_share') == LIMIT,
                            RENEW_MS * 2 / 1000 + SLACK_S),
         'borrow: A holds the whole limit (B uses none of it)', lease(a))
    row = turbinectl_leases(c, a, 'A')
    c.eq((row.get('NODE'), row.get('NATS'), row.get('CONC_LIMIT'), row.get('CONC_SHARE')),
         ('node-a', 'yes', str(LIMIT), str(LIMIT)), 'turbinectl leases: A holds 4 of 4')

    # -- the rate the same way: A borrows all 10/s of beta, B is refused meanwhile
    ra, rb = Caller(bed.client(), 'A', RATE_TENANT), Caller(pair_b.client(), 'B', RATE_TENANT)
    took, seen = ra.until_admitted(RENEW_MS * 2 / 1000 + SLACK_S)
    c.ok(took is not None and harness.wait_until(
        lambda: lease(a, RATE_TENANT).get('rate_share') == RATE, RENEW_MS * 2 / 1000 + SLACK_S),
        'rate: A borrows all of beta\'s 10/s', (seen, lease(a, RATE_TENANT)))
    time.sleep(1.2)             # A's bucket full again: 10 calls deep
    ids = [ra.send('echo', {'n': i}) for i in range(30)]
    got = ra.collect(ids, 5.0)
    ok = sum(1 for r in got.values() if (r or {}).get('status') == 200)
    c.ok(RATE <= ok <= RATE + 2, 'rate: 30 calls at once to A, about 10 admitted', ok)
    c.eq(reasons(got), ['CallerRateLimitExceeded'], 'rate: the rest refused CallerRateLimitExceeded')
    r = rb.verdict()
    c.ok((r or {}).get('status') == 429 and r.get('reason') == 'CallerRateLimitExceeded',
         'rate: B, holding none of it, is refused', r)
    rows = bucket_rows(nats, RATE_TENANT)
    c.ok(0 < sum(x['r'] for x in rows.values()) <= RATE,
         'rate: the bucket holds at most 10/s in all', rows)

    # -- 10 long calls at once to A: 4 admitted, 6 refused
    ids = [ca.send('spin', {'us': LONG_US}) for _ in range(10)]
    refused = ca.collect_refused(ids, 6, 5.0)
    c.ok(statuses(refused) == [429] * 6, 'burst: 6 of 10 refused at once', refused)
    c.eq(reasons(refused), [REASON], 'burst: refused with %s' % REASON)

    # -- while A's calls run (its first for 3 s, the others queued behind it), B is refused
    # B tries for three renewal periods, asking for a share at each refusal: A's row keeps
    # its 4 calls counted, so there is none to take.
    b_seen = []
    for _ in range(6):
        b_seen.append(cb.verdict())
        time.sleep(RENEW_MS * 3 / 6 / 1000)
    c.ok([(r or {}).get('status') for r in b_seen] == [429] * 6,
         'while A runs 4 calls: B is refused', b_seen)
    c.eq(sorted({(r or {}).get('reason') for r in b_seen}), [REASON],
         'while A runs 4 calls: B refused with %s' % REASON)
    rows = bucket_rows(nats)
    c.ok(sum(r['c'] for r in rows.values()) <= LIMIT and rows.get('node-a', {}).get('c') == LIMIT,
         'bucket: A\'s row holds its 4 calls, the sum is within the limit', rows)

    done = ca.collect(ids, 4 * LONG_US / 1e6 + 10)
    c.eq(statuses(done), [200] * 4 + [429] * 6, 'burst: the 4 admitted calls ran')
    finished = time.monotonic()

    # -- once they finish, B gets its share back
    took, seen = cb.until_admitted(RENEW_MS * 2 / 1000 + SLACK_S)
    c.ok(took is not None, 'after A: B admitted within a renewal period or two', seen)
    harness.log('B admitted %.2f s after A\'s last call ended' % (time.monotonic() - finished))
    c.ok(harness.wait_until(lambda: lease(b).get('concurrency_share') == LIMIT,
                            RENEW_MS * 2 / 1000 + SLACK_S),
         'after A: B holds the whole limit', (lease(a), lease(b)))

    # -- A takes it back, then dies holding it
    took, seen = ca.until_admitted(RENEW_MS * 2 / 1000 + SLACK_S)
    c.ok(took is not None and harness.wait_until(
        lambda: lease(a).get('concurrency_share') == LIMIT, RENEW_MS * 2 / 1000 + SLACK_S),
        'A takes the limit back from an idle B', (seen, lease(a), lease(b)))
    a.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    r = cb.verdict()
    c.ok((r or {}).get('status') == 429, 'A killed: its lease still counts at first', r)
    took, seen = cb.until_admitted(TTL_MS / 1000 + RENEW_MS * 2 / 1000 + SLACK_S)
    since = time.monotonic() - killed
    harness.log('B admitted %.2f s after A was killed (lease time %.1f s)' % (since, TTL_MS / 1000))
    c.ok(took is not None and since <= TTL_MS / 1000 + RENEW_MS * 2 / 1000 + SLACK_S,
         'A killed: B admitted within the lease time (and a renewal or two)', seen)
    a.wait_exit(10)
    c.ok(harness.wait_until(lambda: lease(b).get('concurrency_share') == LIMIT,
                            RENEW_MS * 2 / 1000 + SLACK_S),
         'A killed: B holds the whole limit', lease(b))
    c.ok('node-a' not in bucket_rows(nats), 'A killed: its expired row is gone from the bucket',
         bucket_rows(nats))
    ids = [cb.send('spin', {'us': LONG_US // 4}) for _ in range(5)]
    done = cb.collect(ids, 5 * LONG_US / 4e6 + 10)
    c.ok(statuses(done) == [200] * 4 + [429],
         'A killed: B runs 4 calls at once, the fifth refused', done)

    # -- NATS out of reach: B keeps its share until its lease would expire, then admits
    # nothing for acme; once NATS is back, B takes the limit again
    nats.kill()
    lost = time.monotonic()
    r = cb.verdict()
    c.ok((r or {}).get('status') == 200, 'NATS down: B still admits on its share at first', r)
    refused = harness.wait_until(lambda: (cb.call() or {}).get('status') == 429,
                                 TTL_MS / 1000 + SLACK_S, 0.2)
    since = time.monotonic() - lost
    harness.log('B refused %.2f s after NATS went away (lease time %.1f s)' % (since, TTL_MS / 1000))
    # It drops its share a renewal period before its row expires, 2 to 2.5 s here.
    c.ok(refused and since >= (TTL_MS - 3 * RENEW_MS) / 1000,
         'NATS down: B refuses once its lease runs out (not before)', since)
    c.eq(lease(b).get('concurrency_share'), 0, 'NATS down: B\'s share is 0')
    nats.start()
    took, seen = cb.until_admitted(10)
    c.ok(took is not None, 'NATS back: B admits again', seen)
    harness.log('B admitted %.2f s after NATS came back' % (took or -1))

    # -- a clean stop gives the row back
    c.ok('node-b' in bucket_rows(nats), 'B holds a row before it stops', bucket_rows(nats))
    rc, _ = b.stop()
    c.eq(rc, 0, 'B stops cleanly')
    c.ok('node-b' not in bucket_rows(nats), 'B stopped: its row is given back at once',
         bucket_rows(nats))


harness.main('leases', body,
              required=[harness.TURBINE, TURBINECTL, MODULES['spin'], MODULES['echo']])
