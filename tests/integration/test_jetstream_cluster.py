"""The jetstream queue on a three-server NATS cluster: a server dies mid-run, nothing 202'd is lost.

Three nats-servers clustered on loopback (natsd.py: -cluster/-routes, JetStream on, each with its
own store), one turbine with nats_url listing all three and nats_replicas = 3. Events are sent at a
bounded rate; part-way through, the server leading the stream (found through /jsz) is killed with
SIGKILL. The other two elect a new leader and turbine, reconnecting if it was connected there, goes
on. Calls take 20 ms on one worker, slower than Events arrive, so that many 202'd Events are still
in the stream when the leader dies. Events whose publish was lost are answered 500 (never 202);
every Event answered 202 must run (journal), and Events sent after the failover are accepted again.
With one replica (TB_REPLICAS=1) the stream dies with its server and the test fails;
TB_KILL=connected kills the server turbine is connected to instead (its reconnection).

Before the run, retries on the replicated queue: an Event failing with max_retry_attempts 2 runs
exactly three times (each retry a NAK with the delay; its counts put into CLUSTER_TRIES, three
replicas, read back from the bucket's leader: the bucket allows no direct get) and is dead-lettered.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import natsd  # noqa: E402
from harness import log  # noqa: E402
from test_async import JOURNAL, Case  # noqa: E402

# 100 Events a second until the leader dies, then 10 a second for 20 s: JetStream elects a new
# leader in 4 to 9 s (nats-server 2.9's election timeouts); publishes meanwhile are answered 500.
KILL_AFTER = 100
RATE_BEFORE, RATE_AFTER = 100.0, 10.0
N = KILL_AFTER + 200
RUN_WITHIN = 60.0   # every 202'd event has run by then (failover, redeliveries)


def body(c):
    with harness.Testbed('jscluster', 17) as bed, \
            tempfile.TemporaryDirectory(prefix='tb-jscluster-') as root:
        natsd.loopback_up(bed)
        servers = natsd.cluster(bed, 3)
        try:
            natsd.start_cluster(servers)
            keys = natsd.settings(natsd.cluster_url(servers), 'CLUSTER', replicas=int(os.environ.get('TB_REPLICAS', '3')),
                                  ack_wait_ms=3000)
            fns = {'jc': {}, 'jr': {'max_retry_attempts': 2, 'retry_delay_ms': 200}}
            with Case(c, bed, root, 'cluster', fns, keys) as k:
                retries(c, k, servers, keys['nats_replicas'])
                run_case(c, k, servers)
        finally:
            for s in servers:
                s.close()


def retries(c, k, servers, replicas):
    k.accepted(k.event('jr', {'tag': 'doomed', 'fail': True}), 'failing Event')
    k.check_stats({'dead_lettered': 1, 'retried_error': 2, 'tries_write_failed': 0,
                   'tries_read_failed': 0}, 'after the failing Event\'s retries', timeout=15.0)
    time.sleep(0.5)
    c.eq(k.tags('jr'), {'doomed': 3}, 'cluster: the failing Event ran exactly 1 + 2 retries')
    tries = next((d for d in (s.stream_detail('KV_CLUSTER_TRIES') for s in servers) if d), {})
    conf = tries.get('config') or {}
    c.eq((conf.get('num_replicas'), bool(conf.get('allow_direct'))), (replicas, False),
         'cluster: CLUSTER_TRIES has the stream\'s replicas and allows no direct get')


def run_case(c, k, servers):
    rids, killed, sent_after = [], None, []
    due = time.monotonic()
    for i in range(N):
        rids.append(k.send({'fn': 'jc', 'type': 'Event', 'event': {'tag': 'e%d' % i, 'sleep_ms': 20}}))
        if i + 1 == KILL_AFTER:
            k.wait(rids, 5.0)
            # The worst server to lose: the stream's leader (its only copy with one replica).
            leader = next((x for x in (s.stream_leader('CLUSTER') for s in servers) if x), '')
            connected = [s.name for s in servers if 'turbine-async' in s.client_names()]
            victim = connected[0] if os.environ.get('TB_KILL') == 'connected' and connected else leader
            killed = next((s for s in servers if s.name == victim), None)
            if not c.ok(killed is not None, 'cluster: a server to kill (the stream\'s leader)',
                        (leader, connected)):
                return
            log('cluster: killing %s; the stream\'s leader is %s, turbine is connected to %s' %
                (killed.name, leader, connected))
            killed.kill()
        elif i >= KILL_AFTER:
            sent_after.append(rids[-1])
        due += 1.0 / (RATE_BEFORE if i < KILL_AFTER else RATE_AFTER)
        time.sleep(max(0.0, due - time.monotonic()))
    answers = k.wait(rids, 15.0)
    status = {}
    for r in rids:
        st = (answers.get(r) or {}).get('status')
        status[st] = status.get(st, 0) + 1
    log('cluster: answers by status: %s' % status)
    accepted = ['e%d' % i for i, r in enumerate(rids) if (answers.get(r) or {}).get('status') == 202]
    c.ok(set(status) <= {202, 500, None}, 'cluster: every answer is a 202 or a 500 (never '
         'another refusal)', status)
    c.ok(len([r for r in sent_after if (answers.get(r) or {}).get('status') == 202]) > 50,
         'cluster: Events sent after the server died are accepted again (on the other two)', status)
    harness.wait_until(lambda: all(t in k.tags('jc') for t in accepted), RUN_WITHIN, interval=0.5)
    ran = k.tags('jc')
    missing = [t for t in accepted if t not in ran]
    c.eq(missing, [], 'cluster: every 202\'d Event ran (%d accepted)' % len(accepted))
    if not c.ok(k.t.alive(), 'cluster: turbine is still running'):
        log(k.t.output())
        return
    s = k.stats()
    log('cluster: /turbine/async: %s' % s)
    c.eq(s.get('nats_connected'), 1, 'cluster: turbine is connected again')


harness.main('jetstream_cluster', body, required=[harness.TURBINE, JOURNAL, natsd.NATS_SERVER])
