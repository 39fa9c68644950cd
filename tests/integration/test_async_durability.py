"""An accepted Event survives kill -9 of turbine (PROTOCOL.md: 202 only once durable).

Thousands of Events with distinct tags go to the journal module at a high rate; turbine is killed
with SIGKILL while they are being sent, then restarted on the same --async-dir. Once the queue is
empty again, every tag that was answered 202 must be in the journal at least once (at least once:
an event that ran before the kill but whose end was not yet durable runs again; those duplicates
are counted and printed, not failed).
"""

import collections
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES, log, pack, unpack  # noqa: E402

JOURNAL = MODULES['journal']
LCORES = '0@0,1@1'
EVENTS = 4000           # sent in all
RATE = 4000             # per second: the kill lands about half a second in
KILL_AFTER = EVENTS // 2
SEND_WITHIN = 10.0      # the sending loop's own bound
ANSWERS_AFTER = 1.0     # how long answers are still collected once sending is over
DRAIN_WITHIN = 30.0     # the restarted turbine empties its queue by then
MIN_ACCEPTED = 100      # fewer before the kill and the test shows nothing

CONFIG = '''# written by test_async_durability.py
functions = (
  { name = "jd"; module = "%s"; params = { path = "%s"; }; }
);
'''


class Sender:
    """Sends EVENTS Events at RATE from one socket; a thread collects the answers by id."""

    def __init__(self, bed):
        self.cl = bed.client()
        self.sent = 0
        self.answers = {}
        self.stop = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        self.cl.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                data, _ = self.cl.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                r = unpack(data)
            except Exception:  # noqa: BLE001: not an answer of ours
                continue
            if isinstance(r, dict) and isinstance(r.get('id'), int):
                self.answers[r['id']] = r

    def send_all(self, on_sent):
        """Send every Event, paced; on_sent(n) after each (the caller kills turbine there)."""
        start = time.monotonic()
        for i in range(EVENTS):
            due = start + i / RATE
            now = time.monotonic()
            if now - start > SEND_WITHIN:
                break
            if due > now:
                time.sleep(due - now)
            msg = {'id': i + 1, 'fn': 'jd', 'type': 'Event', 'event': {'tag': 'd-%05d' % i}}
            self.cl.sock.sendto(pack(msg), self.cl.addr)
            self.sent += 1
            on_sent(self.sent)

    def close(self):
        self.stop.set()
        self.reader.join(2)
        self.cl.close()


def journal_tags(path):
    try:
        with open(path) as f:
            return collections.Counter(line.split()[0] for line in f if line.split())
    except FileNotFoundError:
        return collections.Counter()


def depth(t):
    try:
        return (t.telemetry('/turbine/async') or {}).get('depth')
    except Exception as e:  # noqa: BLE001: reported by the wait that needed it
        log('/turbine/async: %s' % e)
        return None


def start(c, bed, args, what):
    """A started turbine, or None and a failure naming turbine's own last message."""
    try:
        return bed.turbine({}, lcores=LCORES, args=args).start()
    except RuntimeError as e:
        ours = [line for line in str(e).splitlines() if line.startswith('turbine: ')]
        c.ok(False, 'durability: ' + what, ours[-1] if ours else str(e).splitlines()[0])
        return None


def body(c):
    with harness.Testbed('async_durability', 15) as bed, \
            tempfile.TemporaryDirectory(prefix='tb-async-durability-') as root:
        qdir = os.path.join(root, 'queue')
        journal = os.path.join(root, 'jd.journal')
        conf = os.path.join(root, 'turbine.conf')
        with open(conf, 'w') as f:
            f.write(CONFIG % (JOURNAL, journal))
        args = ['--config', conf, '--async-dir', qdir]

        t = start(c, bed, args, 'turbine starts with --async-dir')
        if t is None:
            return
        probe = bed.client()
        r = probe.call({'id': 1, 'fn': 'jd', 'type': 'Event', 'event': {'tag': 'probe'}})
        probe.close()
        if not c.ok(isinstance(r, dict) and r.get('status') == 202,
                    'durability: a first Event is accepted (202)', r):
            return

        sender = Sender(bed)
        killed = {}

        def on_sent(n):
            if n == KILL_AFTER and not killed:
                killed['accepted'] = sum(1 for a in list(sender.answers.values())
                                         if a.get('status') == 202)
                killed['at'] = time.monotonic()
                t.proc.kill()
        try:
            sender.send_all(on_sent)
            time.sleep(ANSWERS_AFTER)
        finally:
            sender.close()
        t.kill()
        answers = dict(sender.answers)
        accepted = {'d-%05d' % (rid - 1) for rid, a in answers.items() if a.get('status') == 202}
        other = collections.Counter(a.get('status') for a in answers.values() if a.get('status') != 202)
        log('durability: sent %d, answered %d, accepted %d (%d when killed), other answers %s' %
            (sender.sent, len(answers), len(accepted), killed.get('accepted', 0), dict(other)))
        c.ok(killed, 'durability: turbine was killed in the middle of the sending')
        c.ok(len(accepted) >= MIN_ACCEPTED,
             'durability: at least %d Events accepted before the kill' % MIN_ACCEPTED, len(accepted))

        t = start(c, bed, args, 'turbine starts again on the same --async-dir')
        if t is None:
            return
        drained = harness.wait_until(lambda: depth(t) == 0, DRAIN_WITHIN, interval=0.2)
        stats = {}
        try:
            stats = t.telemetry('/turbine/async') or {}
        except Exception as e:  # noqa: BLE001: the figures are printed, the checks are below
            log('/turbine/async: %s' % e)
        log('durability: after the restart: %s' % {k: stats.get(k) for k in
                                                   ('depth', 'replayed', 'torn', 'accepted', 'succeeded',
                                                    'segments', 'log_bytes')})
        c.ok(drained, 'durability: the restarted turbine emptied its queue within %.0f s' % DRAIN_WITHIN,
             stats.get('depth'))
        seen = journal_tags(journal)
        lost = sorted(accepted - set(seen))
        duplicates = sorted(tag for tag, n in seen.items() if n > 1)
        log('durability: accepted %d, lost %d, ran twice or more %d, journal lines %d' %
            (len(accepted), len(lost), len(duplicates), sum(seen.values())))
        c.eq(len(lost), 0, 'durability: no accepted event lost (at least once)')
        if lost:
            log('durability: lost, first ones: %s' % lost[:20])
        unknown = sorted(tag for tag in seen if tag != 'probe' and not tag.startswith('d-'))
        c.eq(unknown, [], 'durability: the journal holds only tags that were sent')
        rc, _final = t.stop()
        c.eq(rc, 0, 'durability: the restarted turbine exits 0 on SIGTERM')


harness.main('async_durability', body, required=[harness.TURBINE, JOURNAL])
