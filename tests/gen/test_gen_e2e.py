"""turbine-gen against the real turbine, over turbine's embedded memif server.

Turbine runs on CPU 0 with echo and spin; the generator attaches as a memif
client on CPU 1 and runs at low rates, so that every count can be predicted:
each request answered once, the 404s of an unknown function named as such,
and turbine's own counters moving by exactly what the generator sent.
Performance is not asserted; only that the numbers hang together.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402

TURBINE_GEN = os.environ.get('TURBINE_GEN', '')
GEN_MEMORY = ['--no-huge', '-m', '256']
LAT_KEYS = ['p50', 'p90', 'p99', 'p999', 'p9999', 'min', 'max', 'mean']


def run_gen(bed, sock, lcores, args, timeout=40):
    prefix = bed.next_prefix() + '-gen'
    cmd = ([TURBINE_GEN, '--lcores', lcores, '--file-prefix', prefix, '--no-pci'] + GEN_MEMORY +
           ['--vdev', 'net_memif0,role=client,socket=' + sock, '--'] + args)
    harness.log('running: ' + ' '.join(cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        harness.remove_dpdk_files(prefix)
    harness.log(p.stdout)
    harness.log('\n'.join(l for l in p.stderr.splitlines() if not l.startswith(('EAL', 'TELEMETRY'))))
    return p


def stats(t):
    """Turbine's counters; a refused connection to its telemetry socket is tried again."""
    for attempt in range(10):
        try:
            return t.stats()
        except ConnectionRefusedError as e:
            harness.log('telemetry refused the connection (%s); trying again' % e)
            time.sleep(0.2)
    return t.stats()


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        harness.log('cannot read %s: %s' % (path, e))
        return {}


def check_latency(c, lat, count, what):
    """Every field present, in order, and corrected never below uncorrected."""
    for kind in ('corrected', 'uncorrected'):
        d = lat.get(kind, {})
        if not c.ok(all(isinstance(d.get(k), (int, float)) for k in LAT_KEYS),
                    '%s: latency_ns.%s has %s' % (what, kind, ', '.join(LAT_KEYS)), d):
            return
        c.eq(d.get('count'), count, '%s: latency_ns.%s.count is the replies received' % (what, kind))
        c.ok(d['min'] <= d['p50'] <= d['p90'] <= d['p99'] <= d['p999'] <= d['p9999'] <= d['max'],
             '%s: %s min <= p50 <= p90 <= p99 <= p99.9 <= p99.99 <= max' % (what, kind), d)
        c.ok(d['min'] <= d['mean'] <= d['max'], '%s: %s mean between min and max' % (what, kind), d)
        c.ok(d['min'] > 0, '%s: %s latencies are positive' % (what, kind), d)
    cor, unc = lat['corrected'], lat['uncorrected']
    # Measured from the intended time, which is never after the actual one.
    c.ok(all(cor[k] >= unc[k] for k in ('p50', 'p99', 'max')),
         '%s: corrected >= uncorrected' % what, (cor, unc))


def check_counts(c, d, what):
    c.eq(d.get('sent'), d.get('received', 0) + d.get('lost', 0), '%s: sent == received + lost' % what)
    c.eq(d.get('lost'), 0, '%s: nothing lost' % what)
    c.eq(d.get('duplicates'), 0, '%s: no duplicates' % what)
    c.eq(sum(d.get('by_status', {}).values()), d.get('received'), '%s: by_status adds up to received' % what)


def table_counts(stdout):
    m = re.search(r'^requests\s+sent (\d+)\s+received (\d+)\s+lost (\d+)\s+duplicates (\d+)', stdout, re.M)
    return tuple(int(x) for x in m.groups()) if m else None


def open_loop(c, bed, t, sock, tmp):
    """One lcore, fixed rate: counts exact, rates as offered, the table agreeing with the JSON."""
    out = os.path.join(tmp, 'open.json')
    before = stats(t)
    p = run_gen(bed, sock, '0@1', ['--fn', 'echo', '--event', '{"n": 1}', '--rate', '2000',
                                   '--duration', '2', '--warmup', '0.5', '--json', out])
    c.eq(p.returncode, 0, 'open: exit status 0')
    d = load(out)
    after = stats(t)
    for key in ('offered_rps', 'achieved_rps', 'sent', 'received', 'lost', 'duplicates', 'by_status',
                'by_error', 'latency_ns', 'mix', 'config', 'timeline', 'warnings'):
        c.ok(key in d, 'open: JSON has %s' % key)
    check_counts(c, d, 'open')
    c.eq(d.get('by_status'), {'200': d.get('received')}, 'open: by_status is {"200": received}')
    c.eq(d.get('by_error'), {}, 'open: no errors')
    c.eq(d.get('offered_rps'), 2000, 'open: offered_rps is the rate asked for')
    # 2000 rps for 2 s: 4000 intended send times in the window, each sent or counted unsent.
    sched = d.get('schedule', {})
    c.ok(abs(d.get('sent', 0) + sched.get('unsent', 0) - 4000) <= 1,
         'open: sent + unsent is the schedule (4000)', (d.get('sent'), sched))
    c.ok(abs(d.get('achieved_rps', 0) - 2000) <= 100, 'open: achieved close to offered',
         (d.get('achieved_rps'), d.get('warnings')))
    check_latency(c, d.get('latency_ns', {}), d.get('received'), 'open')
    mix = d.get('mix', [{}])
    c.eq((len(mix), mix[0].get('fn'), mix[0].get('sent'), mix[0].get('received')),
         (1, 'echo', d.get('sent'), d.get('received')), 'open: one mix entry, all of it')
    check_latency(c, mix[0].get('latency_ns', {}), d.get('received'), 'open entry')
    cfg = d.get('config', {})
    c.eq((cfg.get('load'), cfg.get('rate'), cfg.get('arrivals'), cfg.get('duration_s'), cfg.get('warmup_s')),
         ('open', 2000, 'fixed', 2, 0.5), 'open: the configuration is recorded')
    c.eq(((cfg.get('target') or {}).get('mac', '').lower(), (cfg.get('target') or {}).get('mac_from')),
         (t.mac, 'arp'), "open: turbine's MAC resolved by ARP")
    c.eq((cfg.get('mix') or [{}])[0].get('event'), {'n': 1}, 'open: the event is recorded')
    c.ok(len(d.get('timeline', [])) >= 2, 'open: a timeline entry per second', d.get('timeline'))
    c.eq(table_counts(p.stdout), (d.get('sent'), d.get('received'), d.get('lost'), d.get('duplicates')),
         'open: the final table agrees with the JSON')
    # Turbine answered exactly what was sent, warm-up included, and nothing else.
    total = d.get('sent', 0) + d.get('warmup', {}).get('sent', 0)
    delta = harness.counter_delta(before, after, ['requests', 'status_200', 'arp_replies'])
    c.eq((delta['requests'], delta['status_200']), (total, total),
         "open: turbine's counters moved by what was sent")
    c.ok(delta['arp_replies'] >= 1, 'open: the generator asked for the MAC by ARP', delta)


def mix_two_lcores(c, bed, t, sock, tmp):
    """Two lcores (TX, RX), Poisson, a mix with an unknown function: 404s counted per entry and by name."""
    out = os.path.join(tmp, 'mix.json')
    p = run_gen(bed, sock, '0@1,1@1', ['--mix-entry', '3:echo:{"k": "v"}', '--mix-entry', '1:nope',
                                       '--rate', '1000', '--poisson', '--duration', '2',
                                       '--warmup', '0.5', '--json', out, '--quiet'])
    c.eq(p.returncode, 0, 'mix: exit status 0')
    d = load(out)
    check_counts(c, d, 'mix')
    echo, nope = (d.get('mix') or [{}, {}])[:2]
    c.eq(echo.get('by_status'), {'200': echo.get('received')}, 'mix: echo answered 200')
    c.eq(nope.get('by_status'), {'404': nope.get('received')}, 'mix: nope answered 404')
    c.eq(d.get('by_error'), {'ResourceNotFoundException': nope.get('received')},
         'mix: the 404s counted by error name')
    c.eq(echo.get('sent', 0) + nope.get('sent', 0), d.get('sent'), 'mix: entries add up')
    share = nope.get('sent', 0) / max(d.get('sent', 1), 1)
    c.ok(0.18 < share < 0.32, 'mix: weight 1 of 4 gets about a quarter', share)
    check_latency(c, nope.get('latency_ns', {}), nope.get('received'), 'mix nope')
    lc = (d.get('config') or {}).get('lcores', {})
    c.eq(lc.get('count'), 2, 'mix: ran on two lcores')
    c.eq((d.get('config') or {}).get('arrivals'), 'poisson', 'mix: Poisson arrivals recorded')


def closed_loop(c, bed, t, sock, tmp):
    out = os.path.join(tmp, 'closed.json')
    p = run_gen(bed, sock, '0@1', ['--fn', 'spin', '--event', '{"us": 5}', '--outstanding', '4',
                                   '--duration', '1', '--warmup', '0.2', '--json', out, '--quiet'])
    c.eq(p.returncode, 0, 'closed: exit status 0')
    d = load(out)
    check_counts(c, d, 'closed')
    c.ok(d.get('sent', 0) > 100, 'closed: requests flowed', d.get('sent'))
    c.eq(d.get('offered_rps'), d.get('sent_rps'), 'closed: offered is what was sent')
    check_latency(c, d.get('latency_ns', {}), d.get('received'), 'closed')


def events(c, bed, t, sock, tmp):
    """Events: answered 202 once durable, counted under "202" and timed like any reply."""
    out = os.path.join(tmp, 'events.json')
    before = stats(t)
    p = run_gen(bed, sock, '0@1', ['--fn', 'echo', '--event', '{"n": 2}', '--type', 'Event',
                                   '--rate', '500', '--duration', '1', '--warmup', '0.2',
                                   '--json', out, '--quiet'])
    c.eq(p.returncode, 0, 'events: exit status 0')
    d = load(out)
    after = stats(t)
    check_counts(c, d, 'events')
    c.eq(d.get('by_status'), {'202': d.get('received')}, 'events: by_status is {"202": received}')
    c.eq(d.get('by_error'), {}, 'events: no errors')
    check_latency(c, d.get('latency_ns', {}), d.get('received'), 'events')
    c.eq(((d.get('config') or {}).get('mix') or [{}])[0].get('type'), 'Event',
         'events: the type is recorded')
    total = d.get('sent', 0) + d.get('warmup', {}).get('sent', 0)
    delta = harness.counter_delta(before, after, ['status_202'])
    c.eq(delta['status_202'], total, "events: turbine answered 202 to every one")


def refusals(c, bed, t, sock, tmp):
    """No ARP answer for another address: a clear failure, not a run with zero replies."""
    p = run_gen(bed, sock, '0@1', ['--to', '198.18.0.77', '--fn', 'echo', '--rate', '10',
                                   '--duration', '1', '--arp-timeout-ms', '300'])
    c.eq(p.returncode, 1, 'no ARP reply: exit status 1')
    c.ok('no ARP reply from 198.18.0.77' in p.stderr, 'no ARP reply: said so', p.stderr[-300:])


def body(c):
    fns = {'echo': harness.MODULES['echo'], 'spin': harness.MODULES['spin']}
    with tempfile.TemporaryDirectory(prefix='tb-gen-') as tmp, \
            harness.Testbed('gen_e2e', 0, network=False) as bed:
        # The queue's folder in ours, removed with it.
        t = bed.turbine(fns, vdevs=[], netns=False, args=['--async-dir', os.path.join(tmp, 'queue')])
        t.start()
        # memif sockets are abstract by default: the path is a name, not a file to look for.
        said = [l for l in t.out if 'serving the embedded default, a memif server at ' in l]
        if not c.ok(said, 'turbine serves its embedded memif socket', t.output()):
            return
        sock = said[0].rsplit(' ', 1)[1]
        for step in (open_loop, mix_two_lcores, closed_loop, events, refusals):
            step(c, bed, t, sock, tmp)
        rc, _ = t.stop()
        if not c.eq(rc, 0, 'turbine exits 0'):
            harness.log(t.output())


if __name__ == '__main__':
    harness.main('gen_end_to_end', body,
                 required=[harness.TURBINE, TURBINE_GEN, harness.MODULES['echo'],
                           harness.MODULES['spin']])
