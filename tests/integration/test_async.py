"""Asynchronous invocation (type Event) end to end, per PROTOCOL.md and DESIGN.md "Invocation types".

Every case starts its own turbine (dispatcher and worker on two lcores) from a configuration file
(the journal module's `path` param is file-only) with --async-dir in a fresh directory, and watches
what ran through the journal module: one line "TAG WORKER[ CONDITION]" per call, in a file per
function (workers/modules/journal.c).

- accepted: an Event is answered 202 with an event_id (a UUID) only once it is durable: the
  queue's segment already holds the event's bytes; it runs (journal) and /turbine/async counts it.
- retries: a failing event runs 1 + max_retry_attempts times, retry_delay_ms then twice that
  apart, and lands in the dead-letter queue as a RetriesExhausted record (turbine-dlq list).
- event age: a retry that would outlive max_event_age_s ends the event as EventAgeExceeded.
- throttled: events refused by the function's reserved concurrency wait and run later.
- on_success = function:NAME hands the Success record to NAME; on_success = log keeps it
  (turbine-dlq --success list).
- turbine-dlq list, show, redrive (--to another function) and purge on a running dispatcher.
- idempotency_key: a second Event with the key is a duplicate (same event_id, not run again), per
  tenant and function, still after a restart; ill-formed keys are 400.
- a full queue (async_queue_max) refuses with 429 AsyncQueueFull and drops nothing it took.
- admission comes before the queue: 404, 403, 413, the function's rate limit; DryRun unchanged.

turbine-dlq is invoked as `turbine-dlq --dir DIR [--success] list --json` (a JSON array, or one JSON
object a line, of PROTOCOL.md's records, each possibly wrapped as {tenant, function, record}),
`show ID`, `redrive ID --to FUNCTION` and `purge ID`.
"""

import collections
import json
import os
import re
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES, log, pack  # noqa: E402

JOURNAL = MODULES['journal']
TURBINE_DLQ = os.environ.get('TURBINE_DLQ', '')
LCORES = '0@0,1@1'
UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
RFC3339_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
BAD = 'InvalidRequestContentException'
THROTTLED = 'TooManyRequestsException'

# Bounds on every wait: the machine is shared, so generous, yet far below meson's timeout.
RUN_WITHIN = 5.0        # an accepted event has run (journal line) by then
SETTLE = 0.5            # after the expected lines, how long more to watch for unexpected ones
THROTTLE_WITHIN = 25.0  # throttled retries wait 1 s doubling: 1 + 2 + 4 + 8 s for the last of 5


def conf_value(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return '[%s]' % ', '.join(conf_value(x) for x in v)
    return '"%s"' % v


class Case:
    """One turbine with its own queue directory, configuration file and a journal per function.

    `functions`: {name: {key: value}}; module defaults to journal, whose path param is set to
    the function's journal file. `settings`: global keys of the file (async_queue_max...).
    """

    def __init__(self, c, bed, root, name, functions, settings=None):
        self.c = c
        self.bed = bed
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.qdir = os.path.join(self.dir, 'queue')
        self.conf = os.path.join(self.dir, 'turbine.conf')
        entries = []
        for fn, keys in functions.items():
            keys = dict(keys)
            keys.setdefault('module', JOURNAL)
            kv = ['name = "%s";' % fn] + ['%s = %s;' % (k, conf_value(v)) for k, v in keys.items()]
            if keys['module'] == JOURNAL:
                kv.append('params = { path = "%s"; };' % self.journal_path(fn))
            entries.append('  { %s }' % ' '.join(kv))
        with open(self.conf, 'w') as f:
            f.write('# written by test_async.py, case %s\n' % name)
            for k, v in (settings or {}).items():
                f.write('%s = %s;\n' % (k, conf_value(v)))
            f.write('functions = (\n%s\n);\n' % ',\n'.join(entries))
        self.t = None
        self.cl = None
        self.next_id = 1
        self.answers = {}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.t is not None:
            self.t.kill()
        if self.cl is not None:
            self.cl.close()
        return False

    def start(self):
        """Start turbine on the case's queue directory (again, after stop() or kill())."""
        self.t = self.bed.turbine({}, lcores=LCORES,
                                  args=['--config', self.conf, '--async-dir', self.qdir])
        self.t.start()
        if self.cl is None:
            self.cl = self.bed.client()

    def journal_path(self, fn):
        return os.path.join(self.dir, fn + '.journal')

    # -- requests

    def send(self, msg):
        rid = self.next_id
        self.next_id += 1
        self.cl.send(dict(msg, id=rid))
        return rid

    def wait(self, rids, timeout=3.0):
        """Answers to rids by id ({rid: response}; missing ones absent)."""
        end = time.monotonic() + timeout
        while not all(r in self.answers for r in rids) and time.monotonic() < end:
            r = self.cl.recv(max(0.01, min(0.2, end - time.monotonic())))
            if isinstance(r, dict) and isinstance(r.get('id'), int):
                self.answers[r['id']] = r
        return {r: self.answers[r] for r in rids if r in self.answers}

    def call(self, msg, timeout=3.0):
        rid = self.send(msg)
        return self.wait([rid], timeout).get(rid)

    def event(self, fn, ev, **req):
        return self.call(dict(req, fn=fn, type='Event', event=ev))

    def accepted(self, r, what):
        """r is a 202 with an event_id: return the id (None, and a failure, otherwise)."""
        ok = (isinstance(r, dict) and r.get('status') == 202 and isinstance(r.get('event_id'), str)
              and UUID_RE.match(r['event_id']) is not None)
        self.c.ok(ok, '%s: %s: answered 202 with an event_id (a UUID)' % (self.name, what), r)
        return r['event_id'] if ok else None

    # -- what ran

    def journal(self, fn):
        """The journal's lines, each split into its fields (TAG WORKER[ CONDITION])."""
        try:
            with open(self.journal_path(fn)) as f:
                return [line.split() for line in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def tags(self, fn):
        return collections.Counter(fields[0] for fields in self.journal(fn) if fields)

    def wait_tags(self, fn, tags, timeout=RUN_WITHIN):
        """Wait until every tag has a line in fn's journal; return the tag counts."""
        harness.wait_until(lambda: all(t in self.tags(fn) for t in tags), timeout)
        return self.tags(fn)

    # -- telemetry

    def stats(self):
        """/turbine/async ({} when it cannot be read)."""
        try:
            s = self.t.telemetry('/turbine/async')
        except Exception as e:  # noqa: BLE001: reported as the check that needed it
            log('%s: /turbine/async: %s' % (self.name, e))
            return {}
        return s if isinstance(s, dict) else {}

    def wait_stats(self, want, timeout=RUN_WITHIN):
        """Wait until /turbine/async shows every value in want; return the last reading."""
        last = {}

        def done():
            last.clear()
            last.update(self.stats())
            return all(last.get(k) == v for k, v in want.items())
        harness.wait_until(done, timeout, interval=0.1)
        return last

    def check_stats(self, want, what, timeout=RUN_WITHIN):
        s = self.wait_stats(want, timeout)
        self.c.eq({k: s.get(k) for k in want}, want, '%s: /turbine/async %s' % (self.name, what))
        return s

    # -- turbine-dlq

    def dlq(self, *args, success=False, quiet=False):
        """Run turbine-dlq on the queue directory: the process (None when it was not built).

        Its output is logged, unless quiet (polling) and it succeeded.
        """
        if not self.c.ok(TURBINE_DLQ and os.path.exists(TURBINE_DLQ),
                         '%s: turbine-dlq is built (TURBINE_DLQ=%r)' % (self.name, TURBINE_DLQ)):
            return None
        cmd = [TURBINE_DLQ, '--dir', self.qdir] + (['--success'] if success else []) + list(args)
        p = harness.run(cmd, check=False, timeout=10)
        if not quiet or p.returncode != 0:
            log('%s: %s -> exit %d\n%s%s' % (self.name, ' '.join(cmd[1:]), p.returncode,
                                             p.stdout[:2000], p.stderr[:500]))
        return p

    def records(self, success=False, quiet=False):
        """The records `list --json` prints (None when it failed or printed no JSON)."""
        p = self.dlq('list', '--json', success=success, quiet=quiet)
        if p is None or p.returncode != 0:
            return None
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else []
        except ValueError:
            try:
                doc = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
            except ValueError:
                return None
        if not isinstance(doc, list):
            return None
        return [d.get('record', d) if isinstance(d, dict) else d for d in doc]

    def wait_records(self, n, success=False, timeout=RUN_WITHIN):
        """Wait until list shows n records; return them (or the last reading)."""
        got = [None]

        def done():
            got[0] = self.records(success, quiet=True)
            return got[0] is not None and len(got[0]) == n
        if TURBINE_DLQ and os.path.exists(TURBINE_DLQ):
            harness.wait_until(done, timeout, interval=0.25)
        log('%s: %s records: %s' % (self.name, 'success' if success else 'dlq',
                                    json.dumps(got[0])[:2000]))
        if got[0] is None:
            got[0] = self.records(success)
        return got[0]


def record_id(rec):
    return ((rec or {}).get('requestContext') or {}).get('requestId') if isinstance(rec, dict) else None


def check_record(c, what, rec, event_id, fn, condition, count, payload, failed, response):
    """One destination record against PROTOCOL.md's table."""
    if not c.ok(isinstance(rec, dict), what + ': a record', rec):
        return
    c.eq(rec.get('version'), '1.0', what + ': version "1.0"')
    c.ok(isinstance(rec.get('timestamp'), str) and RFC3339_RE.match(rec['timestamp']),
         what + ': timestamp in RFC 3339 UTC', rec.get('timestamp'))
    c.eq(rec.get('requestContext'),
         {'requestId': event_id, 'function': fn + ':1', 'condition': condition,
          'approximateInvokeCount': count}, what + ': requestContext')
    c.eq(rec.get('requestPayload'), payload, what + ': requestPayload is the event as sent')
    rc = {'statusCode': 200, 'executedVersion': '1'}
    if failed:
        rc['functionError'] = 'Unhandled'
    c.eq(rec.get('responseContext'), rc, what + ': responseContext')
    if callable(response):
        c.ok(response(rec.get('responsePayload')), what + ': responsePayload',
             rec.get('responsePayload'))
    else:
        c.eq(rec.get('responsePayload'), response, what + ': responsePayload')


def segments_holding(qdir, data):
    """Names of the queue's segment files (queue-*.log) whose bytes contain data."""
    out = []
    try:
        names = sorted(os.listdir(qdir))
    except FileNotFoundError:
        return out
    for name in names:
        if re.match(r'^queue-[0-9a-f]{16}\.log$', name):
            with open(os.path.join(qdir, name), 'rb') as f:
                if data in f.read():
                    out.append(name)
    return out


# ---------------------------------------------------------------- cases

def accepted_and_run(c, bed, root):
    """202 only once durable, with an event_id; the event runs; /turbine/async counts it."""
    with Case(c, bed, root, 'accepted', {'jf': {}}) as k:
        ev = {'tag': 'accepted-%d' % os.getpid(), 'n': 1}
        r = k.event('jf', ev)
        eid = k.accepted(r, 'Event')
        # Read at once: the 202 promised the event is in the log already.
        held = segments_holding(k.qdir, pack(ev))
        if eid is None:
            return
        c.eq(sorted(set(r) - {'duplicate'}), ['event_id', 'id', 'status', 'v'],
             'accepted: the 202 carries v, id, status, event_id')
        c.ok(r.get('duplicate') in (None, False), 'accepted: a new event is not a duplicate', r)
        c.ok(len(held) == 1, 'accepted: right after the 202 a queue-*.log segment holds the event',
             '%s holds it; the queue dir has %s' % (held, sorted(os.listdir(k.qdir))
                                                     if os.path.isdir(k.qdir) else 'nothing'))
        tags = k.wait_tags('jf', [ev['tag']])
        c.eq(tags, {ev['tag']: 1}, 'accepted: the event ran once (journal)')
        s = k.check_stats({'accepted': 1, 'succeeded': 1, 'depth': 0, 'dead_lettered': 0,
                           'duplicates': 0, 'refused_full': 0}, 'after one event')
        c.eq(s.get('backend'), 'local', 'accepted: backend "local"')
        c.eq(os.path.realpath(str(s.get('dir'))), os.path.realpath(k.qdir),
             'accepted: telemetry names the queue directory')
        fs = k.t.telemetry('/turbine/function,jf')
        c.eq({n: (fs or {}).get(n) for n in ('async_depth', 'async_accepted', 'async_succeeded',
                                            'async_retried', 'async_dead_lettered')},
             {'async_depth': 0, 'async_accepted': 1, 'async_succeeded': 1, 'async_retried': 0,
              'async_dead_lettered': 0}, 'accepted: /turbine/function,jf async counters')
        c.eq((k.t.stats() or {}).get('status_202'), 1, 'accepted: status_202 counted')
        rc, _final = k.t.stop()
        c.eq(rc, 0, 'accepted: turbine exits 0 on SIGTERM')


def idle_wake(c, bed, root):
    """An idle queue's thread sleeps rather than napping each millisecond on the lcore's CPU;
    the next Event wakes it, and its 202 does not wait for the sleep to end."""
    with Case(c, bed, root, 'idle', {'jf': {}}) as k:
        time.sleep(0.5)     # nothing stored, running or due: the thread sleeps
        before = k.stats().get('woken')
        c.ok(isinstance(before, int), 'idle: /turbine/async counts the wake-ups', before)
        if not isinstance(before, int):
            return
        took = []
        for i in range(5):
            time.sleep(0.3)     # the last one ran and its end is synced: idle again
            t0 = time.monotonic()
            r = k.event('jf', {'tag': 'idle-%d' % i})
            took.append(time.monotonic() - t0)
            k.accepted(r, 'Event %d after 0.3 s idle' % i)
        k.wait_tags('jf', ['idle-%d' % i for i in range(5)])
        s = k.wait_stats({'succeeded': 5})
        c.ok(s.get('woken', 0) - before >= 3, 'idle: Events woke the sleeping queue thread',
             '%s wake-ups for 5 Events' % (s.get('woken', 0) - before))
        # Asleep up to 100 ms (its next statistics) when nobody woke it.
        c.ok(sorted(took)[2] < 0.05, 'idle: the median 202 after idle took under 50 ms',
             ['%.1f ms' % (t * 1000) for t in took])


def retries_exhausted(c, bed, root):
    """fail: true, max_retry_attempts 2: three calls, 200 ms then 400 ms apart, then the DLQ."""
    delay = 0.2
    with Case(c, bed, root, 'retries',
              {'jr': {'max_retry_attempts': 2, 'retry_delay_ms': int(delay * 1000)}}) as k:
        ev = {'tag': 'retry-1', 'fail': True}
        eid = k.accepted(k.event('jr', ev), 'failing Event')
        if eid is None:
            return
        # Each call's line was written after the read before the one that first saw it began,
        # and before that read ended: (began, ended) per call. This process may be kept off
        # the CPU between reads, so the two bound when a call ran, never a single look.
        seen = []
        end = time.monotonic() + RUN_WITHIN + 3 * delay
        began_before = time.monotonic()
        while len(seen) < 3 and time.monotonic() < end:
            began = time.monotonic()
            n = k.tags('jr').get('retry-1', 0)
            ended = time.monotonic()
            while len(seen) < n:
                seen.append((began_before, ended))
            began_before = began
            time.sleep(0.01)
        if not c.eq(len(seen), 3, 'retries: three calls (the first and two retries) in the journal'):
            return
        # A retry came early only if even the longest gap the reads allow is short of its delay.
        longest = [seen[1][1] - seen[0][0], seen[2][1] - seen[1][0]]
        log('retries: calls %.3f s and %.3f s apart at most' % tuple(longest))
        c.ok(longest[0] >= delay, 'retries: the first retry waits retry_delay_ms (200 ms)', longest)
        c.ok(longest[1] >= 2 * delay, 'retries: the second waits twice that (400 ms)', longest)
        recs = k.wait_records(1)
        if c.ok(recs is not None and len(recs) == 1, 'retries: turbine-dlq list shows one record', recs):
            check_record(c, 'retries: DLQ record', recs[0], eid, 'jr', 'RetriesExhausted', 3, ev, True,
                         lambda p: isinstance(p, dict) and p.get('errorType') == 'Journal.Failed'
                         and isinstance(p.get('errorMessage'), str))
        c.ok(os.path.isfile(os.path.join(k.qdir, 'dlq', eid + '.mp')),
             'retries: the record is dlq/<event_id>.mp in the queue directory')
        c.eq(k.tags('jr').get('retry-1'), 3, 'retries: no call after the record')
        k.check_stats({'accepted': 1, 'dead_lettered': 1, 'retried_error': 2, 'succeeded': 0,
                       'depth': 0}, 'after retries ran out')


def event_age_exceeded(c, bed, root):
    """max_event_age_s 1 and a 2 s retry delay: one call, then EventAgeExceeded."""
    with Case(c, bed, root, 'age', {'ja': {'max_event_age_s': 1, 'retry_delay_ms': 2000,
                                           'max_retry_attempts': 2}}) as k:
        ev = {'tag': 'age-1', 'fail': True}
        eid = k.accepted(k.event('ja', ev), 'failing Event')
        if eid is None:
            return
        recs = k.wait_records(1)
        if c.ok(recs is not None and len(recs) == 1, 'age: turbine-dlq list shows one record', recs):
            check_record(c, 'age: DLQ record', recs[0], eid, 'ja', 'EventAgeExceeded', 1, ev, True,
                         lambda p: isinstance(p, dict) and p.get('errorType') == 'Journal.Failed')
        c.eq(k.tags('ja'), {'age-1': 1}, 'age: one call, no retry')
        k.check_stats({'dead_lettered': 1, 'aged_out': 1, 'depth': 0}, 'after the event aged out')


def throttled_run_later(c, bed, root):
    """reserved_concurrency 1 and five 200 ms events at once: throttled tries wait, all run."""
    with Case(c, bed, root, 'throttled', {'jt': {'reserved_concurrency': 1}}) as k:
        tags = ['throttled-%d' % i for i in range(5)]
        rids = [k.send({'fn': 'jt', 'type': 'Event', 'event': {'tag': t, 'sleep_ms': 200}})
                for t in tags]
        got = k.wait(rids)
        if not c.eq([(got.get(r) or {}).get('status') for r in rids], [202] * 5,
                     'throttled: five Events accepted'):
            return
        counts = k.wait_tags('jt', tags, THROTTLE_WITHIN)
        c.eq(counts, {t: 1 for t in tags}, 'throttled: each event ran once, none dropped')
        s = k.wait_stats({'depth': 0})
        c.ok(s.get('retried_throttle', 0) > 0, 'throttled: retried_throttle > 0', s)
        c.eq((s.get('dead_lettered'), s.get('succeeded')), (0, 5),
             'throttled: five succeeded, nothing dead-lettered')
        c.eq(k.records(), [], 'throttled: the DLQ is empty')


def sync_first(c, bed, root):
    """A backlog of slow Events on the only worker: synchronous calls still wait for one at most."""
    slow_ms, backlog = 100, 30
    with Case(c, bed, root, 'sync_first', {'js': {}, 'echo': {'module': MODULES['echo']}}) as k:
        tags = ['backlog-%d' % i for i in range(backlog)]
        rids = [k.send({'fn': 'js', 'type': 'Event', 'event': {'tag': t, 'sleep_ms': slow_ms}})
                for t in tags]
        got = k.wait(rids)
        if not c.eq(sorted(set((got.get(r) or {}).get('status') for r in rids)), [202],
                    'sync_first: the backlog accepted'):
            return
        # The backlog takes backlog * slow_ms to drain; a synchronous call waits for the
        # Event the worker is running and, at worst, the one taken while it looked idle.
        waits = []
        for i in range(10):
            t0 = time.monotonic()
            r = k.call({'fn': 'echo', 'event': i}, timeout=5.0)
            waits.append(time.monotonic() - t0)
            c.ok(isinstance(r, dict) and r.get('status') == 200 and r.get('body') == i,
                 'sync_first: synchronous call %d answered during the backlog' % i, r)
            time.sleep(0.05)
        c.ok(max(waits) < 3 * slow_ms / 1000 + 0.2,
             'sync_first: no synchronous call waited behind the backlog (longest %.0f ms, '
             'backlog %d ms)' % (max(waits) * 1000, backlog * slow_ms), waits)
        c.ok(len(k.tags('js')) < backlog, 'sync_first: the backlog was still draining meanwhile',
             len(k.tags('js')))
        counts = k.wait_tags('js', tags, backlog * slow_ms / 1000 + RUN_WITHIN)
        c.eq(counts, {t: 1 for t in tags}, 'sync_first: then every Event of the backlog ran once')


def chained_success(c, bed, root):
    """on_success = function:cb: cb receives the Success record of the event ca ran."""
    with Case(c, bed, root, 'chain', {'ca': {'on_success': 'function:cb'}, 'cb': {}}) as k:
        eid = k.accepted(k.event('ca', {'tag': 'chain-1'}), 'Event to ca')
        if eid is None:
            return
        c.eq(k.wait_tags('ca', ['chain-1']), {'chain-1': 1}, 'chain: ca ran the event once')
        harness.wait_until(lambda: k.journal('cb'), RUN_WITHIN)
        time.sleep(SETTLE)
        lines = k.journal('cb')
        c.eq([(f[0], f[2]) if len(f) == 3 else f for f in lines], [('chain-1', 'Success')],
             "chain: cb ran once, on the Success record of ca's event")
        k.check_stats({'succeeded': 2, 'to_function': 1, 'depth': 0},
                      'after the chain (the record is a second event, run by cb)')


def success_log(c, bed, root):
    """on_success = log: the Success record is kept, turbine-dlq --success lists it."""
    with Case(c, bed, root, 'success_log', {'sl': {'on_success': 'log'}}) as k:
        ev = {'tag': 'logged-1'}
        eid = k.accepted(k.event('sl', ev), 'Event')
        if eid is None:
            return
        k.wait_tags('sl', ['logged-1'])
        recs = k.wait_records(1, success=True)
        if c.ok(recs is not None and len(recs) == 1,
                'success_log: turbine-dlq --success list shows one record', recs):
            check_record(c, 'success_log: record', recs[0], eid, 'sl', 'Success', 1, ev, False,
                         {'tag': 'logged-1'})
        c.eq(k.records(), [], 'success_log: nothing in the DLQ')
        k.check_stats({'succeeded': 1, 'to_success_log': 1, 'depth': 0}, 'after the logged success')


def dlq_tool(c, bed, root):
    """turbine-dlq list, show, redrive --to, purge with the dispatcher running."""
    with Case(c, bed, root, 'dlq_tool', {'ds': {'max_retry_attempts': 0}, 'dd': {}}) as k:
        # fail: "ds" fails in ds only: redriven to dd, the same event succeeds.
        e1 = k.accepted(k.event('ds', {'tag': 'dlq-1', 'fail': 'ds'}), 'first failing Event')
        e2 = k.accepted(k.event('ds', {'tag': 'dlq-2', 'fail': 'ds'}), 'second failing Event')
        if e1 is None or e2 is None:
            return
        recs = k.wait_records(2)
        if not c.eq(sorted(record_id(r) or '' for r in recs or []), sorted([e1, e2]),
                    'dlq_tool: list shows both failed events'):
            return
        p = k.dlq('show', e1)
        c.ok(p is not None and p.returncode == 0 and e1 in p.stdout and 'RetriesExhausted' in p.stdout
             and 'dlq-1' in p.stdout, 'dlq_tool: show prints the record (its id, condition, event)',
             p and (p.stdout[-500:], p.stderr[-500:]))

        p = k.dlq('redrive', e1, '--to', 'dd')
        c.ok(p is not None and p.returncode == 0, 'dlq_tool: redrive --to dd exits 0',
             p and p.stderr[-500:])
        c.eq(k.wait_tags('dd', ['dlq-1']), {'dlq-1': 1}, 'dlq_tool: the redriven event ran in dd')
        recs = k.wait_records(1)
        c.eq([record_id(r) for r in recs or []], [e2], 'dlq_tool: the redriven event left the DLQ')

        p = k.dlq('purge', e2)
        c.ok(p is not None and p.returncode == 0, 'dlq_tool: purge exits 0', p and p.stderr[-500:])
        c.eq(k.records(), [], 'dlq_tool: after purge the DLQ is empty')
        c.eq(sorted(os.listdir(os.path.join(k.qdir, 'dlq'))) if os.path.isdir(
            os.path.join(k.qdir, 'dlq')) else None, [], 'dlq_tool: no file left in dlq/')
        time.sleep(SETTLE)
        c.eq(k.tags('ds'), {'dlq-1': 1, 'dlq-2': 1}, 'dlq_tool: ds ran each event once')
        c.eq(k.tags('dd'), {'dlq-1': 1}, 'dlq_tool: the purged event never ran again')


def idempotency(c, bed, root):
    """idempotency_key: duplicates per (tenant, function, key), remembered across a restart."""
    with Case(c, bed, root, 'idempotency', {'ia': {}, 'ib': {}}) as k:
        r1 = k.event('ia', {'tag': 'idem-a'}, idempotency_key='key-1')
        e1 = k.accepted(r1, 'first Event with key-1')
        if e1 is None:
            return
        c.ok(r1.get('duplicate') in (None, False), 'idempotency: the first is not a duplicate', r1)
        r2 = k.event('ia', {'tag': 'idem-dup'}, idempotency_key='key-1')
        c.eq({n: (r2 or {}).get(n) for n in ('status', 'duplicate', 'event_id')},
             {'status': 202, 'duplicate': True, 'event_id': e1},
             'idempotency: the second is 202 duplicate with the first event_id')
        r3 = k.event('ia', {'tag': 'idem-acme'}, idempotency_key='key-1', tenant='acme')
        e3 = k.accepted(r3, 'same key, another tenant')
        c.ok(e3 is not None and e3 != e1 and not r3.get('duplicate'),
             'idempotency: another tenant with the key is a new event', r3)
        r4 = k.event('ib', {'tag': 'idem-b'}, idempotency_key='key-1')
        e4 = k.accepted(r4, 'same key, another function')
        c.ok(e4 is not None and e4 != e1 and not r4.get('duplicate'),
             'idempotency: another function with the key is a new event', r4)
        k.wait_tags('ia', ['idem-a', 'idem-acme'])
        k.wait_tags('ib', ['idem-b'])
        k.wait_stats({'depth': 0})
        time.sleep(SETTLE)
        c.eq(k.tags('ia'), {'idem-a': 1, 'idem-acme': 1}, 'idempotency: the duplicate never ran')
        c.eq(k.tags('ib'), {'idem-b': 1}, 'idempotency: ib ran its event once')
        k.check_stats({'accepted': 3, 'duplicates': 1}, 'counts the duplicate')

        for what, key in (('an int', 5), ('empty', ''), ('65 bytes', 'k' * 65),
                          ('66 bytes in 33 characters', '\u00e9' * 33)):
            r = k.event('ia', {'tag': 'idem-bad'}, idempotency_key=key)
            c.eq({n: (r or {}).get(n) for n in ('status', 'error')}, {'status': 400, 'error': BAD},
                 'idempotency: a key that is %s: 400' % what)
        e64 = k.accepted(k.event('ia', {'tag': 'idem-64'}, idempotency_key='k' * 64), '64-byte key')
        c.ok(e64 is not None, 'idempotency: a 64-byte key is accepted')
        k.wait_tags('ia', ['idem-64'])
        k.wait_stats({'depth': 0})

        rc, _final = k.t.stop()
        c.eq(rc, 0, 'idempotency: turbine exits 0 on SIGTERM')
        k.start()
        r5 = k.event('ia', {'tag': 'idem-restart'}, idempotency_key='key-1')
        c.eq({n: (r5 or {}).get(n) for n in ('status', 'duplicate', 'event_id')},
             {'status': 202, 'duplicate': True, 'event_id': e1},
             'idempotency: after a restart the key is still known')
        time.sleep(SETTLE)
        k.wait_stats({'depth': 0})
        c.eq(k.tags('ia').get('idem-restart'), None, 'idempotency: the duplicate after the restart never ran')
        c.eq(k.tags('ia').get('idem-bad'), None, 'idempotency: refused events never ran')


def queue_full(c, bed, root):
    """async_queue_max 5: a burst of 20 slow events, some refused 429 AsyncQueueFull, none lost."""
    with Case(c, bed, root, 'queue_full', {'fq': {}}, settings={'async_queue_max': 5}) as k:
        tags = ['full-%02d' % i for i in range(20)]
        rids = [k.send({'fn': 'fq', 'type': 'Event', 'event': {'tag': t, 'sleep_ms': 300}})
                for t in tags]
        got = k.wait(rids)
        answers = [got.get(r) for r in rids]
        status = [(a or {}).get('status') for a in answers]
        log('queue_full: statuses %s' % status)
        if not c.eq([x for x in status if x not in (202, 429)], [],
                    'queue_full: every Event answered 202 or 429'):
            return
        taken = [t for t, s in zip(tags, status) if s == 202]
        refused = [(t, a) for t, a in zip(tags, answers) if a.get('status') == 429]
        c.ok(5 <= len(taken) < 20, 'queue_full: the queue took its 5 and refused the rest', status)
        c.eq(sorted({(a.get('error'), a.get('reason')) for _t, a in refused}),
             [(THROTTLED, 'AsyncQueueFull')], 'queue_full: 429 TooManyRequestsException AsyncQueueFull')
        k.wait_tags('fq', taken, RUN_WITHIN + 0.3 * len(taken))
        k.wait_stats({'depth': 0})
        time.sleep(SETTLE)
        counts = k.tags('fq')
        c.eq({t: counts.get(t) for t in taken}, {t: 1 for t in taken},
             'queue_full: every accepted event ran once')
        c.eq(sorted(t for t, _a in refused if t in counts), [], 'queue_full: no refused event ran')
        k.check_stats({'accepted': len(taken), 'refused_full': len(refused), 'depth': 0},
                      'counts accepted and refused')


def admission(c, bed, root):
    """404, 403, 413 and the function's rate limit answer before the queue; DryRun is unchanged."""
    with Case(c, bed, root, 'admission',
              {'ad': {'tenants': ['acme'], 'max_event_bytes': 64},
               'ar': {'rate': 1, 'burst': 1}}) as k:
        rows = [('unknown function', 'nope', {}, 404, 'ResourceNotFoundException'),
                ('forbidden tenant', 'ad', {'tenant': 'other'}, 403, 'AccessDeniedException'),
                ('event too large', 'ad', {'tenant': 'acme', 'event': {'tag': 'adm-big', 'x': 'y' * 80}},
                 413, 'RequestTooLargeException')]
        for what, fn, req, status, error in rows:
            msg = dict({'fn': fn, 'type': 'Event', 'event': {'tag': 'adm-refused'}}, **req)
            r = k.call(msg)
            c.eq({n: (r or {}).get(n) for n in ('status', 'error', 'event_id')},
                 {'status': status, 'error': error, 'event_id': None}, 'admission: Event, %s' % what)
        r = k.call({'fn': 'ad', 'type': 'DryRun', 'tenant': 'acme', 'event': {'tag': 'adm-dry'}})
        c.eq(r, {'v': 1, 'id': k.next_id - 1, 'status': 204}, 'admission: DryRun still 204')
        ok = k.accepted(k.event('ad', {'tag': 'adm-ok'}, tenant='acme'), 'Event within the limits')
        first = k.accepted(k.event('ar', {'tag': 'adm-rate-1'}), 'first Event under rate 1')
        r = k.event('ar', {'tag': 'adm-rate-2'})
        c.eq({n: (r or {}).get(n) for n in ('status', 'error', 'reason')},
             {'status': 429, 'error': THROTTLED, 'reason': 'ReservedFunctionInvocationRateLimitExceeded'},
             "admission: the second Event at once: 429 with the function's rate reason")
        if ok is None or first is None:
            return
        # ar's event itself waits for a token (1 per second) before it can run.
        k.wait_tags('ad', ['adm-ok'])
        k.wait_tags('ar', ['adm-rate-1'])
        k.wait_stats({'depth': 0})
        time.sleep(SETTLE)
        c.eq(k.tags('ad'), {'adm-ok': 1}, 'admission: only the admitted event ran in ad')
        c.eq(k.tags('ar'), {'adm-rate-1': 1}, 'admission: only the admitted event ran in ar')
        k.check_stats({'accepted': 2, 'refused_full': 0}, 'counts only the admitted events')


def why(e):
    """An exception in one line: its first, and turbine's own last message when it has one."""
    lines = str(e).splitlines() or [repr(e)]
    ours = [line for line in lines[1:] if line.startswith('turbine: ')]
    return lines[0] + (': ' + ours[-1] if ours else '')


CASES = [accepted_and_run, idle_wake, retries_exhausted, event_age_exceeded, throttled_run_later, sync_first,
         chained_success, success_log, dlq_tool, idempotency, queue_full, admission]


def body(c):
    times = []
    with harness.Testbed('async', 14) as bed, tempfile.TemporaryDirectory(prefix='tb-async-') as root:
        for case in CASES:
            log('---- %s' % case.__name__)
            t0 = time.monotonic()
            before = len(c.failed)
            try:
                case(c, bed, root)
            except harness.Interrupted:
                raise
            except Exception as e:  # noqa: BLE001: one case's error must not hide the others
                traceback.print_exc()
                c.failed.append('%s: %s' % (case.__name__, why(e)))
            times.append((case.__name__, time.monotonic() - t0, len(c.failed) - before))
    for name, dt, failed in times:
        log('%-22s %5.1f s  %s' % (name, dt, '%d failed' % failed if failed else 'ok'))


if __name__ == '__main__':   # test_jetstream.py imports its Case
    harness.main('async', body, required=[harness.TURBINE, JOURNAL])
