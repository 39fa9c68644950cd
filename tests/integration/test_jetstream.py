"""The asynchronous queue on NATS JetStream (async_backend = "jetstream"), README "Beyond one machine".

One nats-server with JetStream (natsd.py: in turbine's namespace, loopback, store in a temporary
folder) and up to two turbine nodes, A and B, each on its own veth pair and file prefix, sharing one
stream. What ran is read from the journal module's files (one per node and function), as
test_async.py does.

- basic: Events run through the stream (202 on the publish acknowledgement); on_success = log
  puts the Success record in NAME_OK; a failing event is retried (retry_delay_ms) and lands in
  NAME_DLQ as a RetriesExhausted record; turbine-dlq --nats lists, shows and redrives it (to a
  function where it succeeds); /turbine/async shows the stream's state.
- retry is a NAK: a failing event with max_retry_attempts 3 runs exactly 4 times, retry_delay_ms
  then twice and four times that apart, and lands in NAME_DLQ with approximateInvokeCount 4, while
  the stream only ever held its one message: its last sequence stays 1 and the consumer delivered
  that message 4 times (NATS redelivered it after each NAK with the delay; a republished copy
  would be a new sequence). The counts went through NAME_TRIES (its stream, KV_NAME_TRIES, took 3
  puts and the deletion when the event was dead-lettered, and does not allow direct gets).
- throttles apart: with reserved_concurrency 1 held by a slow synchronous call, a failing Event
  is first throttled (not run), then runs 1 + max_retry_attempts times: its record says
  approximateInvokeCount 2 although NATS delivered it once more per throttle (the counts in
  NAME_TRIES keep calls and throttles apart, as NATS's delivery count cannot).
- idempotency across nodes: the same idempotency_key sent to A and then to B is one event (B
  answers 202 duplicate with A's event_id) and runs once.
- node dies: Events sent to A, A killed with SIGKILL right after their 202s; B, started then, runs
  every 202'd event that A had not run: A's unacknowledged deliveries come back to the shared
  consumer after nats_ack_wait_ms.
"""

import os
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import natsd  # noqa: E402
import test_async  # noqa: E402
from harness import log  # noqa: E402
from test_async import JOURNAL, TURBINE_DLQ, Case, check_record  # noqa: E402

ACK_WAIT_MS = 3000
RUN_WITHIN = 10.0


class JsCase(Case):
    """test_async's Case on the jetstream backend; turbine-dlq runs with --nats."""

    def __init__(self, c, bed, root, name, functions, nats, stream, settings=None, cpu=None):
        self.nats = nats
        self.stream = stream
        self.cpu = cpu
        keys = natsd.settings(nats.url, stream, ack_wait_ms=ACK_WAIT_MS)
        keys.update(settings or {})
        super().__init__(c, bed, root, name, functions, keys)

    def start(self):
        """With `cpu`, one lcore (it dispatches and runs the calls) on that CPU: two nodes and
        nats-server share the machine's two CPUs without four busy-polling threads."""
        self.t = self.bed.turbine({}, lcores=test_async.LCORES if self.cpu is None else '0@%d' % self.cpu,
                                  args=['--config', self.conf, '--async-dir', self.qdir])
        self.t.start()
        if self.cl is None:
            self.cl = self.bed.client()

    def dlq(self, *args, success=False, quiet=False):
        if not self.c.ok(TURBINE_DLQ and os.path.exists(TURBINE_DLQ),
                         '%s: turbine-dlq is built (TURBINE_DLQ=%r)' % (self.name, TURBINE_DLQ)):
            return None
        cmd = ['ip', 'netns', 'exec', self.bed.server_ns, TURBINE_DLQ, '--nats', self.nats.url,
               '--stream', self.stream] + (['--success'] if success else []) + list(args)
        p = harness.run(cmd, check=False, timeout=20)
        if not quiet or p.returncode != 0:
            log('%s: turbine-dlq %s -> exit %d\n%s%s' % (self.name, ' '.join(args), p.returncode,
                                                         p.stdout[:2000], p.stderr[:500]))
        return p


def tags_of(cases, fn):
    total = {}
    for k in cases:
        for tag, n in k.tags(fn).items():
            total[tag] = total.get(tag, 0) + n
    return total


def basic(c, env):
    bed, root, nats = env['bed'], env['root'], env['nats']
    fns = {'ok': {'on_success': 'log'},
           'bad': {'max_retry_attempts': 2, 'retry_delay_ms': 200},
           'fixed': {}}
    with JsCase(c, bed, root, 'basic', fns, nats, 'BASIC') as k:
        ids = {}
        for i in range(5):
            ids['run-%d' % i] = k.accepted(k.event('ok', {'tag': 'run-%d' % i}), 'Event %d' % i)
        tags = k.wait_tags('ok', list(ids), RUN_WITHIN)
        c.eq({t: tags.get(t) for t in ids}, {t: 1 for t in ids}, 'basic: each Event ran once')
        ok_recs = k.wait_records(5, success=True, timeout=RUN_WITHIN)
        c.eq(sorted(test_async.record_id(r) for r in ok_recs or []), sorted(ids.values()),
             'basic: BASIC_OK holds one Success record per event (turbine-dlq --nats --success)')

        ev = {'tag': 'doomed', 'fail': 'bad'}
        eid = k.accepted(k.event('bad', ev), 'failing Event')
        recs = k.wait_records(1, timeout=RUN_WITHIN)
        if c.ok(recs is not None and len(recs) == 1, 'basic: turbine-dlq --nats list shows one '
                'record in BASIC_DLQ', recs):
            check_record(c, 'basic: DLQ record', recs[0], eid, 'bad', 'RetriesExhausted', 3, ev, True,
                         lambda p: isinstance(p, dict) and p.get('errorType') == 'Journal.Failed')
        c.eq(k.tags('bad').get('doomed'), 3, 'basic: the failing event ran 1 + 2 retries')
        p = k.dlq('show', str(eid))
        c.ok(p is not None and p.returncode == 0 and str(eid) in p.stdout,
             'basic: turbine-dlq --nats show prints the record', p and p.stdout)
        p = k.dlq('list')
        c.ok(p is not None and p.returncode == 0 and str(eid) in p.stdout and 'RetriesExhausted' in p.stdout,
             'basic: turbine-dlq --nats list prints a table with the event', p and p.stdout)
        p = k.dlq('redrive', '--to', 'fixed', str(eid))
        c.ok(p is not None and p.returncode == 0, 'basic: turbine-dlq --nats redrive succeeds', p and p.stderr)
        tags = k.wait_tags('fixed', ['doomed'], RUN_WITHIN)
        c.eq(tags.get('doomed'), 1, 'basic: the redriven event ran in function fixed')
        c.eq(len(k.records() or []), 0, 'basic: the redriven record left BASIC_DLQ')

        s = k.check_stats({'backend': 'jetstream', 'accepted': 6, 'dead_lettered': 1,
                           'retried_error': 2, 'to_success_log': 5}, 'after the runs',
                          timeout=RUN_WITHIN)
        c.ok(all(f in s for f in ('stream_msgs', 'stream_bytes', 'consumer_pending',
                                  'consumer_ack_pending', 'dlq_msgs')),
             'basic: /turbine/async shows the stream and consumer state', s)
        c.eq(s.get('nats_connected'), 1, 'basic: /turbine/async: connected to NATS')
        fs = k.t.telemetry('/turbine/function,bad') or {}
        c.ok('async_accepted' in fs and 'async_depth' not in fs,
             'basic: /turbine/function has no per-function depth on JetStream (one stream for all)',
             fs)
        rc, _ = k.t.stop()
        c.eq(rc, 0, 'basic: turbine exits 0 on SIGTERM')


def retry_nak(c, env):
    bed, root, nats = env['bed'], env['root'], env['nats']
    delay, retries = 0.3, 3
    fns = {'nak': {'max_retry_attempts': retries, 'retry_delay_ms': int(delay * 1000)}}
    with JsCase(c, bed, root, 'retry-nak', fns, nats, 'NAK') as k:
        # A first call, synchronous, so that no try below waits for the worker's first one.
        c.eq((k.call({'fn': 'nak', 'event': {'tag': 'warm'}}) or {}).get('status'), 200,
             'retry nak: a first call to the function')
        ev = {'tag': 'nak-1', 'fail': True}
        eid = k.accepted(k.event('nak', ev), 'failing Event')
        if eid is None:
            return
        seen = []   # when the journal was first seen with 1, 2, ... lines
        end = time.monotonic() + RUN_WITHIN + 7 * delay
        while len(seen) < retries + 1 and time.monotonic() < end:
            n = k.tags('nak').get('nak-1', 0)
            while len(seen) < n:
                seen.append(time.monotonic())
            time.sleep(0.01)
        if c.eq(len(seen), retries + 1, 'retry nak: four calls (the first and three retries)'):
            gaps = [b - a for a, b in zip(seen, seen[1:])]
            log('retry nak: calls %s s apart' % ', '.join('%.3f' % g for g in gaps))
            # Seen by polling every 10 ms: a gap can look up to that much shorter than it was.
            c.ok(all(g >= delay * 2 ** i - 0.02 for i, g in enumerate(gaps)),
                 'retry nak: each retry waits retry_delay_ms, doubling (0.3, 0.6, 1.2 s)', gaps)
        recs = k.wait_records(1, timeout=RUN_WITHIN)
        if c.ok(recs is not None and len(recs) == 1, 'retry nak: one record in NAK_DLQ', recs):
            check_record(c, 'retry nak: DLQ record', recs[0], eid, 'nak', 'RetriesExhausted',
                         retries + 1, ev, True,
                         lambda p: isinstance(p, dict) and p.get('errorType') == 'Journal.Failed')
        time.sleep(0.5)
        c.eq(k.tags('nak').get('nak-1'), retries + 1, 'retry nak: no call after the record')
        st = nats.stream_detail('NAK')
        c.eq(((st.get('state') or {}).get('last_seq'), (st.get('state') or {}).get('messages')),
             (1, 0), 'retry nak: the stream only ever held the one message (last_seq 1), and '
             'it is gone (acknowledged once dead-lettered)')
        cons = next((x for x in st.get('consumer_detail') or [] if x.get('name') == 'NAK_pollers'), {})
        c.eq({f: (cons.get('delivered') or {}).get(f) for f in ('consumer_seq', 'stream_seq')},
             {'consumer_seq': retries + 1, 'stream_seq': 1},
             'retry nak: the consumer delivered that one message 4 times: 3 NAKs with the delay, '
             'each redelivered')
        tries = nats.stream_detail('KV_NAK_TRIES')
        c.eq(((tries.get('state') or {}).get('last_seq'), (tries.get('state') or {}).get('messages')),
             (retries + 1, 1), 'retry nak: KV_NAK_TRIES took one put per retry and the deletion '
             '(one marker left)')
        c.ok(not (tries.get('config') or {}).get('allow_direct'), 'retry nak: KV_NAK_TRIES '
             'allows no direct get (reads go to its leader)', tries.get('config'))
        s = k.check_stats({'retried_error': retries, 'dead_lettered': 1, 'tries_write_failed': 0,
                           'tries_read_failed': 0, 'tries_msgs': 1}, 'after the retries',
                          timeout=RUN_WITHIN)
        log('retry nak: /turbine/async: %s' % s)


def throttles_apart(c, env):
    bed, root, nats = env['bed'], env['root'], env['nats']
    fns = {'mix': {'reserved_concurrency': 1, 'max_retry_attempts': 1, 'retry_delay_ms': 300}}
    with JsCase(c, bed, root, 'throttles', fns, nats, 'MIX') as k:
        hold = k.send({'fn': 'mix', 'event': {'tag': 'hold', 'sleep_ms': 1500}})
        time.sleep(0.2)
        ev = {'tag': 'mixed', 'fail': True}
        eid = k.accepted(k.event('mix', ev), 'failing Event while the concurrency is held')
        c.eq((k.wait([hold], 5.0).get(hold) or {}).get('status'), 200, 'throttles: the slow call ran')
        recs = k.wait_records(1, timeout=RUN_WITHIN + 3.0)
        if c.ok(recs is not None and len(recs) == 1, 'throttles: one record in MIX_DLQ', recs):
            check_record(c, 'throttles: DLQ record', recs[0], eid, 'mix', 'RetriesExhausted', 2, ev,
                         True, lambda p: isinstance(p, dict) and p.get('errorType') == 'Journal.Failed')
        c.eq(k.tags('mix').get('mixed'), 2, 'throttles: the failing event ran 1 + 1 retry')
        s = k.stats()
        throttled = s.get('retried_throttle') or 0
        c.ok(throttled >= 1, 'throttles: its first try was throttled', s)
        st = nats.stream_detail('MIX')
        cons = next((x for x in st.get('consumer_detail') or [] if x.get('name') == 'MIX_pollers'), {})
        c.eq(((st.get('state') or {}).get('last_seq'),
              (cons.get('delivered') or {}).get('consumer_seq')), (1, 2 + throttled),
             'throttles: the stream\'s one message, delivered once per call and once per '
             'throttle (%d)' % throttled)


def key_again(c, env):
    """A key accepted again past its deduplication window while its first acceptance still
    retries: the same event id, two events, each with its own counts in NAME_TRIES."""
    bed, root, nats = env['bed'], env['root'], env['nats']
    retries, delay = 2, 1.5
    fns = {'again': {'dedupe_window_s': 1, 'max_retry_attempts': retries,
                     'retry_delay_ms': int(delay * 1000)}}
    with JsCase(c, bed, root, 'key-again', fns, nats, 'AGAIN') as k:
        c.eq((k.call({'fn': 'again', 'event': {'tag': 'warm'}}) or {}).get('status'), 200,
             'key again: a first call to the function')
        first = k.accepted(k.event('again', {'tag': 'first', 'fail': True}, idempotency_key='k'),
                           'keyed failing Event')
        harness.wait_until(lambda: k.tags('again').get('first', 0) >= 1, RUN_WITHIN)
        time.sleep(1.2)   # past the 1 s window; the first waits 1.5 s for its retry
        r = k.event('again', {'tag': 'second', 'fail': True}, idempotency_key='k')
        second = k.accepted(r, 'the same key past its window')
        c.ok((r or {}).get('duplicate') in (None, False) and first == second,
             'key again: a new event, under the same event id', (first, r))
        recs = k.wait_records(2, timeout=RUN_WITHIN + 4 * delay * 2)
        time.sleep(0.5)
        c.eq({t: k.tags('again').get(t) for t in ('first', 'second')},
             {'first': retries + 1, 'second': retries + 1},
             'key again: each acceptance ran exactly 1 + max_retry_attempts times')
        c.eq(len(recs or []), 2, 'key again: two DLQ records, one per acceptance')


def idempotency(c, env):
    bed, bed_b, root, nats = env['bed'], env['bed_b'], env['root'], env['nats']
    fns = {'once': {'dedupe_window_s': 300}}
    with JsCase(c, bed, root, 'idem-a', fns, nats, 'IDEM', cpu=0) as a, \
            JsCase(c, bed_b, root, 'idem-b', fns, nats, 'IDEM', cpu=1) as b:
        ev = {'tag': 'only-once'}
        ra = a.event('once', ev, idempotency_key='key-1')
        ida = a.accepted(ra, 'keyed Event to A')
        rb = b.event('once', ev, idempotency_key='key-1')
        idb = b.accepted(rb, 'the same key to B')
        c.eq((rb or {}).get('duplicate'), True, 'idempotency: B answers 202 duplicate: true')
        c.eq(idb, ida, 'idempotency: B names the event A accepted')
        r2 = b.event('once', {'tag': 'other'}, idempotency_key='key-2')
        b.accepted(r2, 'another key to B')
        c.ok((r2 or {}).get('duplicate') in (None, False), 'idempotency: another key is new', r2)
        harness.wait_until(lambda: 'other' in tags_of((a, b), 'once'), RUN_WITHIN)
        time.sleep(1.0)
        c.eq(tags_of((a, b), 'once'), {'only-once': 1, 'other': 1},
             'idempotency: the keyed event ran once over both nodes')


def node_dies(c, env):
    bed, bed_b, root, nats = env['bed'], env['bed_b'], env['root'], env['nats']
    n = 30
    # Slow calls on one worker: when A dies, most are still in the stream or held by A.
    fns = {'slow': {'timeout_ms': 2000}}
    a = JsCase(c, bed, root, 'dies-a', fns, nats, 'DIES', cpu=0)
    b = JsCase(c, bed_b, root, 'dies-b', fns, nats, 'DIES', cpu=1)
    with a:
        rids = [a.send({'fn': 'slow', 'type': 'Event', 'event': {'tag': 'e%d' % i, 'sleep_ms': 200}})
                for i in range(n)]
        answers = a.wait(rids, 10.0)
        a.t.proc.kill()
        a.t.wait_exit(10)
        accepted = sorted('e%d' % i for i, r in enumerate(rids)
                          if (answers.get(r) or {}).get('status') == 202)
        c.eq(len(accepted), n, 'node dies: A answered every Event 202 before it was killed')
        ran_on_a = set(a.tags('slow'))
        log('node dies: A ran %d of %d before SIGKILL' % (len(ran_on_a), len(accepted)))
        c.ok(len(ran_on_a) < len(accepted), 'node dies: A was killed with Events not yet run',
             sorted(ran_on_a))
    with b:
        left = [t for t in accepted if t not in ran_on_a]
        harness.wait_until(lambda: all(t in b.tags('slow') for t in left),
                           ACK_WAIT_MS / 1000 + n * 0.2 + RUN_WITHIN)
        on_b = b.tags('slow')
        c.eq([t for t in left if t not in on_b], [], 'node dies: every 202\'d Event A had not run '
             'ran on B')
        c.ok(set(accepted) <= set(on_b) | ran_on_a, 'node dies: nothing accepted is lost')
        s = b.stats()
        log('node dies: B /turbine/async: %s' % s)


CASES = [basic, retry_nak, throttles_apart, key_again, idempotency, node_dies]
# TB_CASES=name,name runs only those (for working on one).
if os.environ.get('TB_CASES'):
    CASES = [f for f in CASES if f.__name__ in os.environ['TB_CASES'].split(',')]


def body(c):
    times = []
    with harness.Testbed('jetstream', 15) as bed, \
            tempfile.TemporaryDirectory(prefix='tb-jetstream-') as root:
        natsd.loopback_up(bed)
        bed_b = natsd.second_link(bed, 16)
        bed_b.prefix = bed.prefix + '-b'
        nats = natsd.NatsServer(bed, 'n1')
        try:
            nats.start()
            env = {'bed': bed, 'bed_b': bed_b, 'root': root, 'nats': nats}
            for case in CASES:
                log('---- %s' % case.__name__)
                t0 = time.monotonic()
                before = len(c.failed)
                try:
                    case(c, env)
                except harness.Interrupted:
                    raise
                except Exception as e:  # noqa: BLE001: one case's error must not hide the others
                    traceback.print_exc()
                    c.failed.append('%s: %s' % (case.__name__, test_async.why(e)))
                times.append((case.__name__, time.monotonic() - t0, len(c.failed) - before))
        finally:
            bed_b.down()
            if c.failed:
                log('nats-server log:\n' + nats.log_tail())
            nats.close()
    for name, dt, failed in times:
        log('%-22s %5.1f s  %s' % (name, dt, '%d failed' % failed if failed else 'ok'))


harness.main('jetstream', body, required=[harness.TURBINE, JOURNAL, natsd.NATS_SERVER])
