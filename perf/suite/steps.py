"""The suite's eight steps. Each starts its system under test on CPU 0, drives it with
turbine-gen on CPU 1, and returns its figures (flat names, see report.py) and the details
behind them (every run's offered and achieved rate, losses, warnings, and its raw JSON)."""

import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time

from . import callgrind
from .procs import ASYNC_ROOT, DEFAULT_QUEUE_ROOT, TAG, Dpdk, Netns, Proc, SuiteError, log, run
from .report import fmt_value

SUT_CPU = 0
GEN_CPU = 1
SUT_LCORES = '0@%d' % SUT_CPU
GEN_LCORES = '0@%d' % GEN_CPU
# testpmd needs a main lcore besides its forwarding one; both live on the SUT's CPU, and the
# main one sleeps in read() while the other forwards.
TESTPMD_LCORES = '0@%d,1@%d' % (SUT_CPU, SUT_CPU)

ECHO_EVENT = '{"hello": "world"}'
# The instruction step's second request: an HTTP request as API Gateway's Lambda proxy
# integration hands it to a function (REST API, version 1.0 payload), trimmed to a typical
# GET: 486 bytes of MessagePack as the event, 505 as the whole request. Its many short keys
# and strings (and a nested map three deep) cost the decoder and the echo's copy what a real
# web request does; the small echo above prices the fixed per-request path.
APIGW_EVENT = {
    'resource': '/orders/{id}',
    'path': '/orders/17',
    'httpMethod': 'GET',
    'headers': {
        'Accept': 'application/json',
        'Host': 'api.example.com',
        'User-Agent': 'curl/8.4.0',
        'X-Amzn-Trace-Id': 'Root=1-65a1b2c3-4d5e6f708192a3b4c5d6e7f8',
        'X-Forwarded-For': '198.51.100.7',
    },
    'queryStringParameters': {'expand': 'items'},
    'pathParameters': {'id': '17'},
    'requestContext': {
        'accountId': '123456789012',
        'apiId': 'a1b2c3d4e5',
        'httpMethod': 'GET',
        'identity': {'sourceIp': '198.51.100.7'},
        'requestId': 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
        'requestTimeEpoch': 1700000000000,
        'stage': 'prod',
    },
    'body': None,
    'isBase64Encoded': False,
}
# The instruction step's requests: (label, figure prefix, event), each with its own three runs.
INSTRUCTION_EVENTS = (('echo', 'instructions', json.loads(ECHO_EVENT)),
                      ('apigw', 'instructions.apigw', APIGW_EVENT))
# Group commit answers a whole batch per fdatasync, so a closed loop's throughput is its window
# over the 202's latency (a sync and a pass of the queue thread at least): memif's 512 would
# measure the sync cycle rather than acceptance. 2048 is half the queue's intake ring
# (RUNTIME_ASYNC_RING_SIZE, 4096): the window alone never fills it and turns acceptance into 429s.
ASYNC_WINDOW = 2048
# Far above what a run can accept (seconds at most of a few 100,000/s): the run measures
# acceptance, never the 429 of a full queue. Accepted events are held in memory until they ran.
ASYNC_QUEUE_MAX = 10000000
# The issue's goal: 100,000 durable Events/s, and the 202's p99 at half that rate. A peak above
# the goal does not raise the latency run's rate past half the goal.
ASYNC_GOAL_RPS = 100000
ASYNC_SAMPLE_S = 0.2
PROBE_BYTES = 4096
BIMODAL = [(995, 'spin', '{"us": 1}'), (5, 'spin', '{"us": 100}')]
MEMIF_IP = '198.18.0.1'      # turbine's default address; the generator's default target


class Plan:
    """Durations and rates of one suite run: the full one, or --quick for CI."""

    def __init__(self, quick):
        self.quick = quick
        self.warmup_s = 0.3 if quick else 1.0
        self.peak_s = 1.0 if quick else 5.0
        self.latency_s = 1.0 if quick else 12.0
        self.drain_ms = 500 if quick else 1000
        self.fractions = (0.1, 0.5, 0.9)
        self.bimodal_fractions = (0.5, 0.8)
        # The generator's own floor and Turbine's at the same gentle rate, in alternated rounds
        # of a run of each.
        self.low_rate = 2000 if quick else 10000
        self.low_rounds = 2 if quick else 6
        self.low_s = 1.0 if quick else 3.0
        # --quick keeps every open-loop rate low: the point is the plumbing, not the figures.
        self.rate_cap = 20000 if quick else None
        # Requests in flight for --max: memif's default window; on af_packet a deep window only
        # queues in the kernel's socket buffers and adds latency, so it gets a shallower one.
        self.window = {'memif': 512, 'af_packet': 64, 'async': ASYNC_WINDOW}
        self.batch = 1000 if quick else 10000
        # The disk's own fdatasync, timed this many times before each Turbine of the async step.
        self.sync_probes = 50 if quick else 200

    def rate(self, peak, fraction):
        r = peak * fraction
        if self.rate_cap is not None:
            r = min(r, self.rate_cap * fraction)
        return max(int(round(r)), 1)

    def describe(self):
        return {'quick': self.quick, 'warmup_s': self.warmup_s, 'peak_duration_s': self.peak_s,
                'latency_duration_s': self.latency_s, 'drain_ms': self.drain_ms,
                'load_fractions': list(self.fractions),
                'bimodal_fractions': list(self.bimodal_fractions), 'low_rate_rps': self.low_rate,
                'low_rounds': self.low_rounds, 'low_duration_s': self.low_s,
                'rate_cap_rps': self.rate_cap, 'max_outstanding': dict(self.window),
                'arrivals': 'poisson', 'callgrind_batch': self.batch,
                'async': {'root': ASYNC_ROOT, 'queue_max': ASYNC_QUEUE_MAX,
                          'fdatasync_probes': self.sync_probes, 'probe_bytes': PROBE_BYTES,
                          'telemetry_every_s': ASYNC_SAMPLE_S},
                'cpus': {'system_under_test': SUT_CPU, 'generator': GEN_CPU},
                'lcores': {'turbine': SUT_LCORES, 'testpmd': TESTPMD_LCORES,
                           'turbine-gen': GEN_LCORES, 'kernel_threads': 1},
                'echo_event': json.loads(ECHO_EVENT),
                'apigw_event': APIGW_EVENT,
                'bimodal_mix': [{'weight': w, 'fn': fn, 'event': json.loads(ev)}
                                for w, fn, ev in BIMODAL]}


class Suite:
    """Paths of the built programs and of this run's raw folder, and the generator runs."""

    def __init__(self, build, raw_dir, plan):
        self.build = build
        self.raw_dir = raw_dir
        self.plan = plan
        self.turbine = os.path.join(build, 'turbine')
        self.gen = os.path.join(build, 'tools', 'gen', 'turbine-gen')
        self.baseline = os.path.join(build, 'perf', 'turbine-kernel-baseline')
        self.modules = {m: os.path.join(build, 'workers', 'modules', m + '.so')
                        for m in ('echo', 'spin')}
        self.sandbox = os.path.join(build, 'workers', 'turbine-sandbox')
        self.ctl = os.path.join(build, 'tools', 'ctl', 'turbinectl')
        self.testpmd = shutil.which('dpdk-testpmd') or '/usr/bin/dpdk-testpmd'

    def raw(self, name):
        return os.path.join(self.raw_dir, name)

    def rel(self, path):
        return os.path.relpath(path, os.path.dirname(self.raw_dir))

    def required(self):
        return ([self.turbine, self.gen, self.baseline, self.testpmd, self.sandbox, self.ctl] +
                list(self.modules.values()))

    def generate(self, name, vdev, load, netns=None, extra=(), duration=None):
        """One turbine-gen run; its JSON kept as raw/<name>.json, its output as raw/<name>.log."""
        plan = self.plan
        out = self.raw(name + '.json')
        eal = Dpdk('gen')
        if duration is None:
            duration = plan.peak_s if '--max' in load else plan.latency_s
        cmd = ([self.gen, '--lcores', GEN_LCORES] + eal.args + ['--vdev', vdev, '--'] + list(extra) +
               list(load) + ['--warmup', str(plan.warmup_s), '--duration', str(duration),
                             '--drain-ms', str(plan.drain_ms), '--quiet', '--json', out])
        if netns is not None:
            cmd = ['ip', 'netns', 'exec', netns] + cmd
        cmd = ['taskset', '-c', str(GEN_CPU)] + cmd
        log('  run %s: %s' % (name, ' '.join(load)))
        try:
            p = run(cmd, check=False, timeout=plan.warmup_s + duration + plan.drain_ms / 1000 + 60)
        finally:
            eal.cleanup()
        with open(self.raw(name + '.log'), 'w') as f:
            f.write('$ %s\n%s%s' % (' '.join(cmd), p.stdout, p.stderr))
        if p.returncode != 0:
            raise SuiteError('turbine-gen (%s) exited %d: %s' % (name, p.returncode,
                                                                 p.stderr.strip()[-600:]))
        with open(out) as f:
            d = json.load(f)
        s = summarize(d)
        s['raw'] = self.rel(out)
        lat = s['latency_ns']['corrected']
        log('    offered %.0f/s achieved %.0f/s lost %d, p50 %s p99 %s%s'
            % (s['offered_rps'], s['achieved_rps'], s['lost'], fmt_value('p50_ns', lat.get('p50')),
               fmt_value('p99_ns', lat.get('p99')), '' if s['rate_met'] else ', rate NOT met'))
        return d, s


LAT_KEYS = ('p50', 'p90', 'p99', 'p999', 'p9999', 'min', 'max', 'mean')


def summarize(d):
    """What the suite keeps of a turbine-gen JSON: rates, counts, the honesty flags, latency."""
    lat = d.get('latency_ns', {})
    return {
        'offered_rps': d.get('offered_rps'), 'achieved_rps': d.get('achieved_rps'),
        'sent': d.get('sent'), 'received': d.get('received'), 'lost': d.get('lost'),
        'duplicates': d.get('duplicates'), 'rate_met': d.get('rate_met', True),
        'late_sends': (d.get('schedule') or {}).get('late_sends', 0),
        'by_status': d.get('by_status', {}),
        'warnings': d.get('warnings', []),
        'latency_ns': {k: {p: (lat.get(k) or {}).get(p) for p in LAT_KEYS}
                       for k in ('corrected', 'uncorrected')},
    }


def latency_figures(figs, prefix, s):
    cor = s['latency_ns']['corrected']
    for p in ('p50', 'p99', 'p999'):
        figs['%s.%s_ns' % (prefix, p)] = cor[p]
    figs['%s.p99_uncorrected_ns' % prefix] = s['latency_ns']['uncorrected']['p99']
    figs['%s.offered_rps' % prefix] = s['offered_rps']
    figs['%s.achieved_rps' % prefix] = s['achieved_rps']


def load_name(fraction):
    return 'load%d' % round(fraction * 100)


def echo_load(extra=()):
    return ['--fn', 'echo', '--event', ECHO_EVENT] + list(extra)


def open_loop(rate):
    return ['--rate', str(rate), '--poisson']


def start_turbine(suite, name, vdevs, functions, netns=None, ip=None, keys='', extra=()):
    """`keys`: ",key=value..." for every function (",isolation=process"); `extra`: more of
    Turbine's own options."""
    eal = Dpdk(name)
    cmd = [suite.turbine, '--lcores', SUT_LCORES] + eal.args
    for v in vdevs:
        cmd += ['--vdev', v]
    cmd += ['--']
    for fn in functions:
        cmd += ['--fn', '%s=%s%s' % (fn, suite.modules[fn], keys)]
    if ip is not None:
        cmd += ['--ip', ip]
    cmd += list(extra) + ['--quiet']
    p = Proc(name, cmd, suite.raw(name + '.log'), netns=netns, cpu=SUT_CPU)
    p.eal = eal
    try:
        p.wait_for(r'^turbine: ready: ', 30)
    except BaseException:
        stop_turbine(p)
        raise
    return p


def stop_turbine(p):
    rc = p.stop(30)
    p.eal.cleanup()
    # The queue folder a Turbine without --async-dir makes for its prefix: ours, and empty.
    shutil.rmtree(os.path.join(DEFAULT_QUEUE_ROOT, p.eal.prefix), ignore_errors=True)
    final = None
    for line in p.output():
        if line.startswith('turbine: final '):
            try:
                final = json.loads(line[len('turbine: final '):])
            except ValueError:
                pass
    if rc != 0:
        log('warning: %s exited %s (see %s)' % (p.name, rc, p.log_path))
    return {'exit_status': rc, 'final': final}


# A memif server whose client goes away while its lcore polls can fault in the memif PMD
# (the client's regions are unmapped under the reader). Every run over memif therefore gets a
# server of its own, started before the generator and stopped after it; how each one ended is
# kept with the run, and a server that did not end cleanly is named in the report's notes.

def testpmd_run(suite, name, load, duration=None):
    """One generator run against a fresh dpdk-testpmd in macswap mode."""
    eal = Dpdk('testpmd')
    sock = '/run/%s.sock' % eal.prefix     # an abstract socket name (memif's default)
    cmd = (['stdbuf', '-oL', suite.testpmd, '--lcores', TESTPMD_LCORES] + eal.args +
           ['--vdev', 'net_memif0,role=server,socket=' + sock, '--',
            '--forward-mode=macswap', '--auto-start', '--total-num-mbufs=16384', '--no-mlockall'])
    tp = Proc('testpmd', cmd, suite.raw(name + '-testpmd.log'), stdin_pipe=True, cpu=SUT_CPU)
    try:
        tp.wait_for(r'Press enter to exit', 30)
        _, s = suite.generate(name, 'net_memif0,role=client,socket=' + sock, load,
                              duration=duration)
    finally:
        # testpmd leaves on a line on its stdin, after printing its port statistics.
        rc = tp.stop(30, stdin_text='\n')
        eal.cleanup()
    s['sut'] = {'program': 'dpdk-testpmd', 'exit_status': rc, 'log': suite.rel(tp.log_path)}
    return s


def turbine_memif_run(suite, name, load, functions=('echo',), keys='', extra=(), watch=None,
                      duration=None):
    """One generator run against a fresh Turbine on its embedded default (a memif server).
    `watch(turbine)`, when given, starts something that lasts the run: its stop() is called
    after the generator, before Turbine stops, and what it returns is kept as s['watch']."""
    t = start_turbine(suite, name + '-turbine', [], functions, keys=keys, extra=extra)
    w = None
    try:
        sock = t.wait_for(r'memif server at (\S+)', 5).group(1)
        w = watch(t) if watch is not None else None
        d, s = suite.generate(name, 'net_memif0,role=client,socket=' + sock, load,
                              duration=duration)
    finally:
        try:
            watched = w.stop() if w is not None else None
        finally:
            res = stop_turbine(t)
    s['sut'] = dict(res, program='turbine', log=suite.rel(t.log_path))
    if w is not None:
        s['watch'] = watched
    return d, s


def step_ceiling(suite):
    """dpdk-testpmd in macswap mode over memif: packet I/O and nothing else, at its peak."""
    plan = suite.plan
    figs, det = {}, {'runs': {}}
    s = det['runs']['peak'] = testpmd_run(
        suite, 'ceiling-peak',
        echo_load(['--reflector', '--max', '--outstanding', str(plan.window['memif'])]))
    figs['ceiling.peak_pps'] = s['achieved_rps']
    return figs, det


def median_summary(runs):
    """What latency_figures() reads, each value the median of the runs' own."""
    def med(get):
        values = [v for v in (get(s) for s in runs) if v is not None]
        return statistics.median(values) if values else None
    return {'offered_rps': med(lambda s: s['offered_rps']),
            'achieved_rps': med(lambda s: s['achieved_rps']),
            'latency_ns': {k: {p: med(lambda s: s['latency_ns'][k][p]) for p in LAT_KEYS}
                           for k in ('corrected', 'uncorrected')}}


def step_low(suite):
    """The ceiling and Turbine at the same low rate, a run of each per round, their order
    swapped every round: the machine's speed drifts more in minutes than the gap measured.
    Each system's figures are the medians over its runs; the ratios, the median of the rounds'
    own ratios."""
    plan = suite.plan
    figs, det = {}, {'runs': {}}
    runs = {'ceiling': [], 'memif': []}
    for r in range(plan.low_rounds):
        for system in ('ceiling', 'memif') if r % 2 == 0 else ('memif', 'ceiling'):
            name = '%s-low-%d' % (system, r + 1)
            if system == 'ceiling':
                s = testpmd_run(suite, name, echo_load(['--reflector']) + open_loop(plan.low_rate),
                                duration=plan.low_s)
            else:
                _, s = turbine_memif_run(suite, name, echo_load(open_loop(plan.low_rate)),
                                         duration=plan.low_s)
            det['runs'][name] = s
            runs[system].append(s)
    for system, rs in runs.items():
        latency_figures(figs, system + '.low', median_summary(rs))
    for p in ('p50', 'p99'):
        per_round = [m['latency_ns']['corrected'][p] / c['latency_ns']['corrected'][p]
                     for c, m in zip(runs['ceiling'], runs['memif'])
                     if m['latency_ns']['corrected'][p] and c['latency_ns']['corrected'][p]]
        det['%s_per_ceiling_by_round' % p] = per_round
        if per_round:
            figs['memif.low.%s_per_ceiling' % p] = statistics.median(per_round)
    log('    p50 / ceiling p50 by round: %s'
        % ', '.join('%.2f' % v for v in det['p50_per_ceiling_by_round']))
    return figs, det


def step_memif(suite):
    """Turbine's embedded default (a memif server) with one lcore: peak, then open-loop latency
    at fractions of it."""
    plan = suite.plan
    figs, det = {}, {'runs': {}}
    _, s = turbine_memif_run(suite, 'memif-peak',
                             echo_load(['--max', '--outstanding', str(plan.window['memif'])]))
    det['runs']['peak'] = s
    peak = figs['memif.peak_rps'] = s['achieved_rps']
    for fr in plan.fractions:
        name = load_name(fr)
        _, s = turbine_memif_run(suite, 'memif-' + name, echo_load(open_loop(plan.rate(peak, fr))))
        det['runs'][name] = s
        latency_figures(figs, 'memif.' + name, s)
    return figs, det


def percentile(values, p):
    """HdrHistogram's (and turbine-gen's) semantics: the value at rank ceil(p% of n)."""
    v = sorted(values)
    return v[max(int(math.ceil(p / 100.0 * len(v))) - 1, 0)] if v else None


def fdatasync_probe(folder, count):
    """The disk's own fdatasync, as the queue's log meets it: `count` appends of PROBE_BYTES to
    a new file in `folder`, each made durable on its own. Run while nothing of ours competes."""
    path = os.path.join(folder, 'fdatasync-probe')
    block = b'\0' * PROBE_BYTES
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for _ in range(count):
            os.write(fd, block)
            t = time.perf_counter_ns()
            os.fdatasync(fd)
            times.append(time.perf_counter_ns() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    out = {'count': count, 'bytes': PROBE_BYTES, 'min': min(times), 'max': max(times),
           'mean': int(sum(times) / count)}
    out.update({k: percentile(times, p) for k, p in (('p50', 50), ('p90', 90), ('p99', 99))})
    log('    fdatasync of %d bytes, %d times: p50 %s p99 %s'
        % (PROBE_BYTES, count, fmt_value('p50_ns', out['p50']), fmt_value('p99_ns', out['p99'])))
    return out


def queue_folder():
    """A fresh folder on a real disk for the queue: tmpfs would make every fdatasync free."""
    folder = tempfile.mkdtemp(prefix='%s-%d-async-' % (TAG, os.getpid()), dir=ASYNC_ROOT)
    fstype = run(['stat', '-f', '-c', '%T', folder]).stdout.strip()
    mount = run(['findmnt', '-n', '-o', 'SOURCE,FSTYPE,OPTIONS', '-T', folder], check=False)
    where = {'folder': folder, 'statfs_type': fstype, 'mount': mount.stdout.split()}
    if fstype in ('tmpfs', 'ramfs'):
        shutil.rmtree(folder, ignore_errors=True)
        raise SuiteError('%s is on %s: its fdatasync costs nothing, the step would measure no '
                         'disk' % (ASYNC_ROOT, fstype))
    return folder, where


def turbine_view(suite, t, command, timeout):
    """One of Turbine's telemetry views (turbinectl --json COMMAND) as a dict, or None when it
    could not be read: a machine too busy to answer in time, or Turbine gone."""
    try:
        p = run([suite.ctl, '-f', t.eal.prefix, '--json', command], check=False, timeout=timeout)
        d = json.loads(p.stdout) if p.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError):
        d = None
    return d if isinstance(d, dict) else None


class AsyncWatch:
    """/turbine/async (turbinectl --json async) every ASYNC_SAMPLE_S while a run goes on."""

    def __init__(self, suite, turbine):
        self.suite, self.turbine = suite, turbine
        self.t0 = time.monotonic()
        self.samples = []
        self.errors = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self):
        d = turbine_view(self.suite, self.turbine, 'async', 5)
        if d is not None:
            self.samples.append(dict(d, t=round(time.monotonic() - self.t0, 3)))
        else:
            self.errors += 1   # a look missed: counted, and named in the report

    def _run(self):
        while not self.done.wait(ASYNC_SAMPLE_S):
            self._sample()

    def stop(self):
        self.done.set()
        self.thread.join(10)
        # The queue thread publishes every 100 ms: one more look sees the end of the run.
        time.sleep(0.15)
        self._sample()
        return {'samples': self.samples, 'errors': self.errors}


def async_batches(samples):
    """Accepted Events per fdatasync while Events came in: from the first look to the last
    that saw `accepted` grow (syncs after that carry only the pollers' entries)."""
    grew = [i for i in range(1, len(samples)) if samples[i]['accepted'] > samples[i - 1]['accepted']]
    if not grew:
        return None, None
    first, last = samples[0], samples[grew[-1]]
    syncs = last['syncs'] - first['syncs']
    accepted = last['accepted'] - first['accepted']
    # The queue's own last sync (write and fdatasync) at each look while Events came in.
    took = [samples[i]['last_sync_us'] * 1000 for i in grew]
    return (accepted / syncs if syncs > 0 else None), {
        'accepted': accepted, 'syncs': syncs, 'from_s': first['t'], 'to_s': last['t'],
        'queue_sync_ns': {'looks': len(took), 'p50': percentile(took, 50),
                          'p90': percentile(took, 90), 'max': max(took)}}


def async_run(suite, name, folder, load, backend=()):
    """One generator run of Events against a fresh Turbine and queue folder; its telemetry
    looked at throughout. Accepted means answered 202 (durable). `backend`: Turbine's options
    choosing another queue backend than the local log (step_jetstream)."""
    sub = os.path.join(folder, name)
    os.mkdir(sub)
    d, s = turbine_memif_run(suite, name, load,
                             extra=['--async-dir', sub, '--async-queue-max', str(ASYNC_QUEUE_MAX)]
                             + list(backend),
                             watch=lambda t: AsyncWatch(suite, t))
    by_status = s['by_status']
    s['accepted'] = by_status.get('202', 0)
    s['accepted_rps'] = s['accepted'] / d['duration_s'] if d.get('duration_s') else None
    s['refused_429'] = by_status.get('429', 0)
    s['not_202'] = (s['received'] or 0) - s['accepted']
    s['by_error'] = d.get('by_error', {})
    samples = s['watch']['samples']
    s['events_per_sync'], s['batches'] = async_batches(samples)
    s['queue'] = samples[-1] if samples else None
    s['queue_depth_max'] = max((x['depth'] for x in samples), default=None)
    s['telemetry_missed'] = s['watch']['errors']
    with open(suite.raw(name + '-async.json'), 'w') as f:
        json.dump(s.pop('watch'), f, indent=1)
        f.write('\n')
    s['telemetry'] = suite.rel(suite.raw(name + '-async.json'))
    shutil.rmtree(sub, ignore_errors=True)
    q = s['queue'] or {}
    took = (s['batches'] or {}).get('queue_sync_ns') or {}
    log('    %s Events accepted (202), %d refused (429), %s per fdatasync; the queue: '
        '202 p50 %s us p99 %s us, %s syncs, a sync took %s (p50 of %s looks)'
        % (fmt_value('accepted_rps', s['accepted_rps']), s['refused_429'],
           '-' if s['events_per_sync'] is None else '%.1f' % s['events_per_sync'],
           q.get('accept_p50_us'), q.get('accept_p99_us'), q.get('syncs'),
           fmt_value('p50_ns', took.get('p50')), took.get('looks')))
    return s


def queue_sync_p50(s):
    return ((s['batches'] or {}).get('queue_sync_ns') or {}).get('p50')


def step_async(suite):
    """Events into Turbine's durable queue (group commit on a real disk) over memif, one lcore,
    echo: the peak of accepted Events, then the 202's latency open loop at half of it, each
    beside the disk's own fdatasync timed just before."""
    plan = suite.plan
    figs, det = {}, {'runs': {}, 'fdatasync': {}, 'notes': []}
    event_load = ['--type', 'Event']
    folder, det['disk'] = queue_folder()
    try:
        det['fdatasync']['before_peak'] = fdatasync_probe(folder, plan.sync_probes)
        s = det['runs']['peak'] = async_run(
            suite, 'async-peak', folder,
            echo_load(event_load + ['--max', '--outstanding', str(plan.window['async'])]))
        peak = figs['async.peak_rps'] = s['accepted_rps']
        figs['async.peak.events_per_sync'] = s['events_per_sync']
        figs['async.peak.refused_429'] = s['refused_429']
        figs['async.peak.queue_sync_p50_ns'] = queue_sync_p50(s)
        if not peak:
            raise SuiteError('no Event was accepted at the peak (see %s)' % s['raw'])
        sync = det['fdatasync']['before_load50'] = fdatasync_probe(folder, plan.sync_probes)
        s = det['runs']['load50'] = async_run(
            suite, 'async-load50', folder,
            echo_load(event_load + open_loop(plan.rate(min(peak, ASYNC_GOAL_RPS), 0.5))))
        latency_figures(figs, 'async.load50', s)
        figs['async.load50.accepted_rps'] = s['accepted_rps']
        figs['async.load50.events_per_sync'] = s['events_per_sync']
        figs['async.load50.refused_429'] = s['refused_429']
        figs['async.load50.queue_sync_p50_ns'] = queue_sync_p50(s)
        figs['async.fdatasync.p50_ns'] = sync['p50']
        figs['async.fdatasync.p99_ns'] = sync['p99']
        p99 = s['latency_ns']['corrected']['p99']
        if p99 is not None and sync['p50']:
            figs['async.load50.p99_per_fdatasync'] = p99 / sync['p50']
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, s in det['runs'].items():
        if s['telemetry_missed']:
            det['notes'].append('%s: %d looks at /turbine/async went unanswered'
                                % (name, s['telemetry_missed']))
        if s['not_202']:
            det['notes'].append('%s: %d answers other than 202 (%s; errors %s): the latency '
                                'figures include them' % (name, s['not_202'], s['by_status'],
                                                          s['by_error']))
    a, b = (det['fdatasync'][k]['p50'] for k in ('before_peak', 'before_load50'))
    if max(a, b) > 2 * min(a, b):
        det['notes'].append('the disk\'s own fdatasync p50 moved from %s (before the peak) to '
                            '%s (before the latency run)'
                            % (fmt_value('p50_ns', a), fmt_value('p50_ns', b)))
    return figs, det


NATS_SERVER = '/usr/sbin/nats-server'   # Debian's nats-server


def step_jetstream(suite):
    """The queue on NATS JetStream (one local nats-server, file storage, one replica) beside the
    local log, in the same run, on the same disk and load: for each, the peak of accepted Events,
    then the 202's latency open loop at half that peak. Each JetStream run has a stream of its
    own, so that no backlog carries over."""
    plan = suite.plan
    figs, det = {}, {'runs': {}, 'notes': []}
    event_load = ['--type', 'Event']
    folder, det['disk'] = queue_folder()
    nats = None
    try:
        nats, url = start_nats(suite, os.path.join(folder, 'nats'), 'nats-server')
        det['nats'] = {'url': url, 'log': suite.rel(nats.log_path), 'replicas': 1}
        for backend in ('local', 'jetstream'):
            def keys(run):
                if backend == 'local':
                    return []
                return ['--async-backend', 'jetstream', '--nats-url', url,
                        '--nats-stream', 'PERF_' + run.upper()]
            s = det['runs'][backend + '-peak'] = async_run(
                suite, 'js-%s-peak' % backend, folder,
                echo_load(event_load + ['--max', '--outstanding', str(plan.window['async'])]),
                keys('peak'))
            peak = figs['jetstream.%s.peak_rps' % backend] = s['accepted_rps']
            figs['jetstream.%s.peak.refused' % backend] = s['not_202']
            if not peak:
                raise SuiteError('%s: no Event was accepted at the peak (see %s)' % (backend, s['raw']))
            s = det['runs'][backend + '-load50'] = async_run(
                suite, 'js-%s-load50' % backend, folder,
                echo_load(event_load + open_loop(plan.rate(min(peak, ASYNC_GOAL_RPS), 0.5))),
                keys('load50'))
            latency_figures(figs, 'jetstream.%s.load50' % backend, s)
            q = s['queue'] or {}
            figs['jetstream.%s.load50.queue_202_p50_ns' % backend] = (q.get('accept_p50_us') or 0) * 1000
            figs['jetstream.%s.load50.queue_202_p99_ns' % backend] = (q.get('accept_p99_us') or 0) * 1000
    finally:
        if nats is not None:
            nats.stop(10)
        shutil.rmtree(folder, ignore_errors=True)
    for name, s in det['runs'].items():
        if s['not_202']:
            det['notes'].append('%s: %d answers other than 202 (%s; errors %s)'
                                % (name, s['not_202'], s['by_status'], s['by_error']))
    return figs, det


ISOLATIONS = (('thread', ''), ('process', ',isolation=process'))


def step_isolation(suite):
    """Echo in thread mode and in process mode (each call in a sandbox process), side by side:
    Turbine over memif on the same one lcore and CPU, the sandbox on that CPU too. Peak, then
    open-loop latency at the low rate, the two modes one after the other for each."""
    plan = suite.plan
    figs, det = {}, {'runs': {}}
    for mode, keys in ISOLATIONS:
        _, s = turbine_memif_run(suite, 'isolation-%s-peak' % mode,
                                 echo_load(['--max', '--outstanding', str(plan.window['memif'])]),
                                 keys=keys)
        det['runs'][mode + '-peak'] = s
        figs['isolation.%s.peak_rps' % mode] = s['achieved_rps']
    for mode, keys in ISOLATIONS:
        _, s = turbine_memif_run(suite, 'isolation-%s-low' % mode,
                                 echo_load(open_loop(plan.low_rate)), keys=keys)
        det['runs'][mode + '-low'] = s
        latency_figures(figs, 'isolation.%s.low' % mode, s)
    thread, process = figs.get('isolation.thread.low.p50_ns'), figs.get('isolation.process.low.p50_ns')
    if thread is not None and process is not None:
        figs['isolation.process.low.p50_added_ns'] = process - thread
    return figs, det


def where_lost(d, before, after):
    """Split a run's losses by Turbine's own counts taken before and after it: requests sent
    that Turbine never counted were lost on the way in (the veth, the kernel's af_packet
    socket), responses it sent that the generator never took were lost on the way back (or
    came after the generator stopped waiting). Warm-up included on both sides."""
    if before is None or after is None:
        return None
    sent = d['sent'] + d['warmup']['sent']
    received = d['received'] + d['warmup']['received']
    requests = after.get('requests', 0) - before.get('requests', 0)
    responses = after.get('responses', 0) - before.get('responses', 0)
    return {'sent': sent, 'turbine_requests': requests, 'turbine_responses': responses,
            'received': received, 'on_the_way_in': sent - requests,
            'in_turbine': requests - responses, 'on_the_way_back': responses - received}


def step_kernel(suite):
    """The kernel server, then Turbine on net_af_packet, on the same veth, generator and cores."""
    plan = suite.plan
    figs, det = {}, {'kernel': {'runs': {}}, 'af_packet': {'runs': {}}}
    with Netns() as net:
        vdev = 'net_af_packet0,iface=' + net.gen_if
        target = ['--to', net.sut_ip + ':9000', '--src-ip', net.gen_ip]
        max_load = echo_load(['--max', '--outstanding', str(plan.window['af_packet'])])
        det['network'] = {'sut_netns': net.sut, 'gen_netns': net.gen, 'sut_ip': net.sut_ip,
                          'gen_ip': net.gen_ip, 'veth': [net.sut_if, net.gen_if]}

        net.kernel_address(True)
        k = Proc('kernel-baseline', [suite.baseline, '--bind', net.sut_ip, '--threads', '1',
                                     '--fn', 'echo=' + suite.modules['echo']],
                 suite.raw('kernel-baseline.log'), netns=net.sut, cpu=SUT_CPU)
        rates = {}
        try:
            k.wait_for(r'^turbine-kernel-baseline: ready: ', 10)
            _, s = suite.generate('kernel-peak', vdev, max_load, net.gen, target)
            det['kernel']['runs']['peak'] = s
            peak = figs['kernel.peak_rps'] = s['achieved_rps']
            for fr in plan.fractions:
                name = load_name(fr)
                rates[name] = plan.rate(peak, fr)
                _, s = suite.generate('kernel-' + name, vdev, echo_load(open_loop(rates[name])),
                                      net.gen, target)
                det['kernel']['runs'][name] = s
                latency_figures(figs, 'kernel.' + name, s)
        finally:
            det['kernel']['server'] = {'exit_status': k.stop(10), 'log': suite.rel(k.log_path),
                                       'final': next((l for l in k.output() if ' final ' in l),
                                                     None)}

        net.kernel_address(False)
        t = start_turbine(suite, 'turbine-af-packet', ['net_af_packet0,iface=' + net.sut_if],
                          ['echo'], netns=net.sut, ip=net.sut_ip)
        try:
            loads = [('peak', max_load)] + [(n, echo_load(open_loop(r))) for n, r in rates.items()]
            for name, load in loads:
                before = turbine_view(suite, t, 'stats', 10)
                d, s = suite.generate('af_packet-' + name, vdev, load, net.gen, target)
                s['where_lost'] = where_lost(d, before, turbine_view(suite, t, 'stats', 10))
                det['af_packet']['runs'][name] = s
                if name == 'peak':
                    figs['af_packet.peak_rps'] = s['achieved_rps']
                else:
                    latency_figures(figs, 'af_packet.' + name, s)
        finally:
            det['af_packet']['turbine'] = stop_turbine(t)
    return figs, det


def mix_load(extra=()):
    load = []
    for w, fn, ev in BIMODAL:
        load += ['--mix-entry', '%d:%s:%s' % (w, fn, ev)]
    return load + list(extra)


def step_bimodal(suite):
    """99.5% spin 1 us, 0.5% spin 100 us, on Turbine over memif: how the short ones fare."""
    plan = suite.plan
    figs, det = {}, {'runs': {}}
    _, s = turbine_memif_run(suite, 'bimodal-capacity',
                             mix_load(['--max', '--outstanding', str(plan.window['memif'])]),
                             ('spin',))
    det['runs']['capacity'] = s
    cap = figs['bimodal.capacity_rps'] = s['achieved_rps']
    for fr in plan.bimodal_fractions:
        name = load_name(fr)
        d, s = turbine_memif_run(suite, 'bimodal-' + name, mix_load(open_loop(plan.rate(cap, fr))),
                                 ('spin',))
        short, long_ = (d.get('mix') or [{}, {}])[:2]
        for key, entry in (('short', short), ('long', long_)):
            lat = (entry.get('latency_ns') or {}).get('corrected') or {}
            s[key] = dict({k: lat.get(k) for k in LAT_KEYS}, received=entry.get('received'))
        det['runs'][name] = s
        figs['bimodal.%s.short_p99_ns' % name] = s['short']['p99']
        figs['bimodal.%s.short_p999_ns' % name] = s['short']['p999']
        figs['bimodal.%s.p99_ns' % name] = s['latency_ns']['corrected']['p99']
        figs['bimodal.%s.p99_uncorrected_ns' % name] = s['latency_ns']['uncorrected']['p99']
        figs['bimodal.%s.offered_rps' % name] = s['offered_rps']
    return figs, det


def callgrind_run(suite, name, count, event):
    """Turbine under callgrind replaying `count` echo requests of `event` from a pcap: the
    call graph parsed (callgrind.parse), the captures removed (the suite's own, rewritten
    identically on every run)."""
    valgrind = shutil.which('valgrind')
    if valgrind is None:
        raise SuiteError('valgrind is not installed')
    pcap_in = suite.raw('%s-in.pcap' % name)
    pcap_out = suite.raw('%s-out.pcap' % name)
    out = suite.raw('%s.out' % name)
    callgrind.write_requests(pcap_in, count, 'echo', event)
    eal = Dpdk(name, no_huge=True)
    cmd = ([valgrind, '--tool=callgrind', '--toggle-collect=' + callgrind.ROOT,
            '--callgrind-out-file=' + out, '--compress-strings=no', '--compress-pos=no',
            suite.turbine, '--lcores', SUT_LCORES] + eal.args +
           ['--vdev', 'net_pcap0,rx_pcap=%s,tx_pcap=%s' % (pcap_in, pcap_out), '--',
            '--fn', 'echo=' + suite.modules['echo'], '--quiet'])
    p = Proc(name, cmd, suite.raw('%s.log' % name), cpu=SUT_CPU)
    p.eal = eal
    try:
        p.wait_for(r'^turbine: ready: ', 120)
        # The batch is read at the first polls; what follows is idle polling, which the
        # idle run prices and callgrind.analyse() takes away.
        time.sleep(1.5)
    finally:
        res = stop_turbine(p)
        for path in (pcap_in, pcap_out):
            if os.path.exists(path):
                os.unlink(path)
    final = res['final'] or {}
    if final.get('responses') != count:
        raise SuiteError('callgrind run %s: %s responses for %d requests (see %s)'
                         % (name, final.get('responses'), count, p.log_path))
    r = callgrind.parse(out)
    r['requests'] = count
    r['raw'] = suite.rel(out)
    return r


def instructions_of(suite, label, event):
    """The idle, N and 2N runs of one request and what they give (callgrind.analyse)."""
    n = suite.plan.batch
    # The small echo keeps the file names it always had.
    stem = 'callgrind' if label == 'echo' else 'callgrind-' + label
    results = {k: callgrind_run(suite, '%s-%s' % (stem, k), count, event)
               for k, count in (('idle', 0), ('n', n), ('2n', 2 * n))}
    a = callgrind.analyse(results['idle'], results['n'], results['2n'], n)
    a['request_frame_bytes'] = len(callgrind.request_frame(1, 'echo', event))
    a['event_bytes'] = callgrind.event_size(event)
    annotate = shutil.which('callgrind_annotate')
    if annotate is not None:
        p = run([annotate, '--inclusive=yes', suite.raw('%s-n.out' % stem)], check=False)
        with open(suite.raw('%s-n-annotate.txt' % stem), 'w') as f:
            f.write(p.stdout)
        a['annotate'] = suite.rel(suite.raw('%s-n-annotate.txt' % stem))
    a['callgrind_runs'] = results
    log('    %s (%d-byte frame): %.0f instructions per request (%.0f with the pcap PMD)'
        % (label, a['request_frame_bytes'], a['per_request'], a['per_request_with_pmd']))
    return a


def step_instructions(suite):
    """Instructions per request under callgrind, from fixed pcap batches: no timing involved.
    The small echo's figures are `instructions.*`, the API Gateway event's
    `instructions.apigw.*`; its details are the small echo's, with the other under 'apigw'."""
    figs, det = {}, None
    for label, prefix, event in INSTRUCTION_EVENTS:
        a = instructions_of(suite, label, event)
        figs[prefix + '.per_request'] = a['per_request']
        figs[prefix + '.per_request_with_pmd'] = a['per_request_with_pmd']
        if det is None:
            det = a
        else:
            det[label] = a
    return figs, det


# The lease step: the default tenant limited well above the generator's window (nothing is
# refused for concurrency once the node holds its lease), counted locally or leased.
LEASE_LIMIT = 100000
NATS_SERVER = next((p for p in ('/usr/sbin/nats-server', '/usr/bin/nats-server')
                    if os.path.exists(p)), None)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_nats(suite, store, name):
    """A nats-server with JetStream on loopback, its storage in `store`, its output in
    raw/<name>.log."""
    if NATS_SERVER is None:
        raise SuiteError('nats-server is not installed (Debian package nats-server)')
    port = free_port()
    p = Proc('nats-server', [NATS_SERVER, '-js', '-sd', store, '-a', '127.0.0.1', '-p', str(port)],
             suite.raw(name + '.log'), cpu=GEN_CPU)
    try:
        p.wait_for(r'Server is ready', 15)
    except BaseException:
        p.stop(10)
        raise
    return p, 'nats://127.0.0.1:%d' % port


def step_leases(suite):
    """The cost of leases on the synchronous path: Turbine's memif peak with a limited tenant
    counted locally, and leased from a NATS key-value bucket (limits_backend nats), in turns.
    Admission reads the leased share as it reads a local limit: the goal is no difference."""
    plan = suite.plan
    figs, det = {}, {'runs': {}, 'notes': []}
    store = tempfile.mkdtemp(prefix='turbine-perf-nats-')
    nats, url = start_nats(suite, store, 'leases-nats-server')
    limit = ['--tenant', 'default,concurrency=%d' % LEASE_LIMIT]
    extra = {'local': limit,
             'nats': limit + ['--limits-backend', 'nats', '--nats-url', url,
                              '--lease-bucket', 'perf_leases', '--node-id', 'perf']}
    peaks = {'local': [], 'nats': []}
    load = echo_load(['--max', '--outstanding', str(plan.window['memif'])])
    try:
        for i in range(1 if plan.quick else 3):
            # Each turn in the other order, so that a machine growing busier favours neither.
            for backend in ('local', 'nats') if i % 2 == 0 else ('nats', 'local'):
                name = 'leases-%s-%d' % (backend, i + 1)
                _, s = turbine_memif_run(suite, name, load, extra=extra[backend])
                det['runs'][name] = s
                peaks[backend].append(s['achieved_rps'])
                refused = s['by_status'].get('429', 0)
                if refused:
                    det['notes'].append('%s: %d calls refused 429 in the measured window'
                                        % (name, refused))
    finally:
        det['nats_server'] = {'exit_status': nats.stop(10), 'log': suite.rel(nats.log_path)}
        shutil.rmtree(store, ignore_errors=True)
    # The best of the turns: what each can do when the machine leaves it alone.
    figs['leases.local.peak_rps'] = max(peaks['local'])
    figs['leases.nats.peak_rps'] = max(peaks['nats'])
    det['peaks_rps'] = peaks
    return figs, det
