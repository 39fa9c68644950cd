"""perf/run --quick end to end: every step at low rate, then the report checked for
completeness and consistency. The figures themselves are not judged, only that each one is
there and positive, that every ratio is the quotient of the figures it names, that the
markdown table carries the same numbers, and that the plot is a PNG."""

import glob
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

PERF_RUN = os.environ.get('PERF_RUN', '')
PERF_BUILD = os.environ.get('PERF_BUILD', '')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'

LOADS = ('load10', 'load50', 'load90')
LATENCY = ('p50_ns', 'p99_ns', 'p999_ns', 'p99_uncorrected_ns', 'offered_rps', 'achieved_rps')


def expected_figures():
    """Written out here, not taken from perf/suite: the test states what a report must hold."""
    names = ['ceiling.peak_pps', 'memif.peak_rps', 'kernel.peak_rps', 'af_packet.peak_rps',
             'bimodal.capacity_rps', 'instructions.per_request',
             'instructions.per_request_with_pmd', 'instructions.apigw.per_request',
             'instructions.apigw.per_request_with_pmd']
    names += ['ceiling.low.' + k for k in LATENCY] + ['memif.low.' + k for k in LATENCY]
    names += ['memif.low.p50_per_ceiling', 'memif.low.p99_per_ceiling']
    names += ['%s.%s.%s' % (s, l, k) for s in ('memif', 'kernel', 'af_packet') for l in LOADS
              for k in LATENCY]
    names += ['bimodal.%s.%s' % (l, k) for l in ('load50', 'load80')
              for k in ('short_p99_ns', 'short_p999_ns', 'p99_ns', 'p99_uncorrected_ns',
                        'offered_rps')]
    names += ['isolation.%s.peak_rps' % m for m in ('thread', 'process')]
    names += ['isolation.%s.low.%s' % (m, k) for m in ('thread', 'process') for k in LATENCY]
    names += ['async.peak_rps', 'async.peak.events_per_sync', 'async.peak.queue_sync_p50_ns',
              'async.fdatasync.p50_ns', 'async.fdatasync.p99_ns']
    names += ['async.load50.' + k for k in LATENCY + ('accepted_rps', 'events_per_sync',
                                                      'queue_sync_p50_ns', 'p99_per_fdatasync')]
    for b in ('local', 'jetstream'):
        names += ['jetstream.%s.peak_rps' % b]
        names += ['jetstream.%s.load50.%s' % (b, k) for k in LATENCY + ('queue_202_p50_ns',
                                                                       'queue_202_p99_ns')]
    names += ['leases.local.peak_rps', 'leases.nats.peak_rps']
    return names


# The issues' goals, each on a figure or a ratio: whether a value meets it.
GOALS = {
    'async.peak_rps': lambda v: v >= 100000,
    'async.load50.p99_per_fdatasync': lambda v: v <= 2,
    'instructions.per_request': lambda v: v <= 1000,
    'instructions.apigw.per_request': lambda v: v <= 2500,
    'turbine_vs_ceiling.peak': lambda v: v >= 0.7,
    'turbine_vs_ceiling.low_p50': lambda v: v <= 1.3,
}

# Counts that are present but may well be 0.
COUNTS = ('async.peak.refused_429', 'async.load50.refused_429', 'jetstream.local.peak.refused',
          'jetstream.jetstream.peak.refused')


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, cond, what, detail=None):
        if cond:
            self.passed += 1
            print('ok     %s' % what)
        else:
            self.failed.append(what)
            print('FAIL   %s' % what)
            if detail is not None:
                print('       %s' % (detail,))
        return bool(cond)


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_figures(c, doc):
    figs = doc.get('figures', {})
    absent = [n for n in expected_figures() if n not in figs]
    c.ok(not absent, 'every expected figure is present', absent)
    bad = [(n, figs[n]) for n in expected_figures() if n in figs and not (number(figs[n]) and figs[n] > 0)]
    c.ok(not bad, 'every figure is a positive number', bad)
    bad = [(n, figs.get(n)) for n in COUNTS if not (number(figs.get(n)) and figs[n] >= 0)]
    c.ok(not bad, 'every count is there, 0 or more', bad)
    goals = {g.get('figure'): g for g in doc.get('goals', [])}
    values = dict(figs, **{n: r.get('value') for n, r in doc.get('ratios', {}).items()})
    c.ok(set(goals) == set(GOALS) and
         all(g.get('met') in (True, False) and g.get('value') == values.get(f)
             for f, g in goals.items()),
         'every goal is judged on its figure or ratio', doc.get('goals'))
    wrong = [g for f, g in goals.items() if f in GOALS and g.get('met') is not
             (GOALS[f](g['value']) if number(g.get('value')) else None)]
    c.ok(not wrong, 'each goal is met exactly when its value is within its bound', wrong)
    c.ok(not doc.get('errors'), 'no step failed', doc.get('errors'))


def check_ratios(c, doc):
    figs, ratios = doc.get('figures', {}), doc.get('ratios', {})
    for family in ('turbine_vs_ceiling.', 'turbine_vs_kernel.', 'corrected_vs_uncorrected.',
                   'process_vs_thread.', 'async_vs_memif.', 'async_vs_fdatasync.',
                   'jetstream_vs_local.'):
        c.ok(any(n.startswith(family) for n in ratios), 'ratios include %s*' % family, list(ratios))
    c.ok('turbine_vs_ceiling.peak' in ratios and 'turbine_vs_kernel.peak' in ratios and
         'process_vs_thread.peak' in ratios, 'the peak ratios are there', list(ratios))
    wrong = []
    for name, r in ratios.items():
        num, den = figs.get(r.get('numerator')), figs.get(r.get('denominator'))
        if not (number(num) and number(den) and den > 0 and number(r.get('value'))):
            wrong.append((name, r, num, den))
        elif r.get('paired') is None and not math.isclose(r['value'], num / den, rel_tol=1e-9):
            wrong.append((name, r, num, den))
    c.ok(not wrong, 'every ratio is its numerator figure over its denominator figure, or the '
         'figure of the rounds it was measured in', wrong)
    paired = {n: r['paired'] for n, r in ratios.items() if r.get('paired') is not None}
    rounds = doc.get('steps', {}).get('low', {})
    c.ok(sorted(paired) == ['turbine_vs_ceiling.low_p50', 'turbine_vs_ceiling.low_p99'] and
         all(math.isclose(ratios[n]['value'], figs[f], rel_tol=1e-9) and
             math.isclose(figs[f], statistics.median(
                 rounds.get('%s_per_ceiling_by_round' % n[-3:]) or [0]), rel_tol=1e-9)
             for n, f in paired.items()),
         'the low-load ratios are the medians of the rounds\' own ratios', (paired, rounds.keys()))
    unc = [n for n, r in ratios.items() if n.startswith('corrected_vs_uncorrected.')]
    c.ok(all(r['numerator'].endswith('.p99_ns') and r['denominator'].endswith('.p99_uncorrected_ns')
             for n, r in ratios.items() if n in unc),
         'corrected/uncorrected ratios compare p99 with p99', unc)
    return ratios


def check_losses(c, doc):
    """Turbine's af_packet runs say where requests went, from its counters around each run."""
    runs = doc.get('steps', {}).get('kernel', {}).get('af_packet', {}).get('runs', {})
    split = {n: r.get('where_lost') for n, r in runs.items()}
    c.ok(sorted(split) == ['load10', 'load50', 'load90', 'peak'] and
         all(isinstance(w, dict) for w in split.values()),
         "every af_packet run counts where its requests went (Turbine's counters read around it)",
         split)
    c.ok(all(w.get('in_turbine') == 0 for w in split.values() if isinstance(w, dict)),
         'Turbine answered every request it counted', split)


def check_markdown(c, md, stdout, ratios):
    c.ok('| ratio | value |' in md, 'the markdown has the ratio table', md[:300])
    for name, r in ratios.items():
        row = '| %s | %.2f |' % (r['label'], r['value']) if number(r.get('value')) else None
        if not c.ok(row is not None and row in md, 'markdown row for %s' % name, row):
            break
    c.ok(md.strip() in stdout, 'the table is printed as written')


def check_raw(c, out_dir, doc):
    """Every raw generator document the report points at exists and is the run's JSON."""
    refs = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == 'raw' and isinstance(x, str):
                    refs.append(x)
                else:
                    walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(doc.get('steps', {}))
    c.ok(len(refs) >= 20, 'the report references each run\'s raw output', len(refs))
    missing = [r for r in refs if not os.path.exists(os.path.join(out_dir, r))]
    c.ok(not missing, 'every raw reference exists', missing)
    gen = [r for r in refs if r.endswith('.json')]
    tools = set()
    for r in gen:
        with open(os.path.join(out_dir, r)) as f:
            tools.add(json.load(f).get('tool'))
    c.ok(tools == {'turbine-gen'}, 'the raw JSON files are turbine-gen documents', tools)


def main():
    c = Checks()
    if os.geteuid() != 0:
        print('skipped: needs root (hugepages, network namespaces)')
        sys.exit(77)
    if not PERF_RUN or not PERF_BUILD:
        print('PERF_RUN and PERF_BUILD are set by meson test')
        sys.exit(1)
    with tempfile.TemporaryDirectory(prefix='tb-perf-quick-') as out:
        t0 = time.monotonic()
        cmd = [sys.executable, PERF_RUN, '--quick', '--no-build', '--build-dir', PERF_BUILD,
               '--out', out]
        print('running: %s' % ' '.join(cmd), flush=True)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=540, stdin=subprocess.DEVNULL)
        print(p.stdout)
        print('perf/run --quick took %.0f s' % (time.monotonic() - t0))
        c.ok(p.returncode == 0, 'perf/run --quick exits 0', p.returncode)
        reports = glob.glob(os.path.join(out, '*.json'))
        if c.ok(len(reports) == 1, 'one report JSON in the output folder', reports):
            base = reports[0][:-len('.json')]
            with open(reports[0]) as f:
                doc = json.load(f)
            c.ok(doc.get('config', {}).get('plan', {}).get('quick') is True,
                 'the report records the quick plan')
            check_figures(c, doc)
            ratios = check_ratios(c, doc)
            check_losses(c, doc)
            if c.ok(os.path.exists(base + '.md'), 'the markdown report exists'):
                with open(base + '.md') as f:
                    check_markdown(c, f.read(), p.stdout, ratios)
            if c.ok(os.path.exists(base + '.png'), 'the plot exists'):
                with open(base + '.png', 'rb') as f:
                    head = f.read(8)
                c.ok(head == PNG_SIGNATURE and os.path.getsize(base + '.png') > 1000,
                     'the plot is a PNG', head)
            check_raw(c, out, doc)
            q = subprocess.run([sys.executable, PERF_RUN, '--compare', reports[0], reports[0]],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=30)
            c.ok(q.returncode == 0, 'a report compared with itself: no regression', q.stdout[-500:])
    print('perf_quick: %d checks passed, %d failed' % (c.passed, len(c.failed)))
    for what in c.failed:
        print('  failed: %s' % what)
    sys.exit(1 if c.failed or c.passed == 0 else 0)


if __name__ == '__main__':
    main()
