"""From the figures of one run to its report: the ratios, a markdown table, a plot of latency
against offered load, and the comparison of two runs for regression suites.

Figures are flat names with one number each: `<step>.<what>` or `<step>.<load>.<what>`.
Names ending in `_rps` or `_pps` are rates (higher is better); everything else (latencies in
ns, instructions, counts, ratios such as `_per_fdatasync`) is a cost (lower is better)."""

import json
import math

LOADS = ('load10', 'load50', 'load90')
DEFAULT_FIGURES = ('memif.peak_rps', 'memif.load50.p99_ns')
DEFAULT_THRESHOLD = 10.0


def expected_figures():
    """Every figure a complete run has, in report order."""
    lat = ('p50_ns', 'p99_ns', 'p999_ns', 'p99_uncorrected_ns', 'offered_rps', 'achieved_rps')
    names = ['ceiling.peak_pps'] + ['ceiling.low.' + k for k in lat]
    names += ['memif.peak_rps'] + ['memif.low.' + k for k in lat]
    names += ['memif.low.p50_per_ceiling', 'memif.low.p99_per_ceiling']
    names += ['memif.%s.%s' % (l, k) for l in LOADS for k in lat]
    names += ['async.peak_rps', 'async.peak.events_per_sync', 'async.peak.refused_429',
              'async.peak.queue_sync_p50_ns']
    names += ['async.load50.' + k for k in lat]
    names += ['async.load50.%s' % k for k in ('accepted_rps', 'events_per_sync', 'refused_429',
                                              'queue_sync_p50_ns', 'p99_per_fdatasync')]
    names += ['async.fdatasync.p50_ns', 'async.fdatasync.p99_ns']
    for backend in ('local', 'jetstream'):
        names += ['jetstream.%s.peak_rps' % backend, 'jetstream.%s.peak.refused' % backend]
        names += ['jetstream.%s.load50.%s' % (backend, k) for k in lat]
        names += ['jetstream.%s.load50.queue_202_%s_ns' % (backend, p) for p in ('p50', 'p99')]
    for mode in ('thread', 'process'):
        names += ['isolation.%s.peak_rps' % mode] + ['isolation.%s.low.%s' % (mode, k) for k in lat]
    names += ['isolation.process.low.p50_added_ns']
    for step in ('kernel', 'af_packet'):
        names += ['%s.peak_rps' % step] + ['%s.%s.%s' % (step, l, k) for l in LOADS for k in lat]
    names += ['bimodal.capacity_rps']
    names += ['bimodal.%s.%s' % (l, k) for l in ('load50', 'load80')
              for k in ('short_p99_ns', 'short_p999_ns', 'p99_ns', 'p99_uncorrected_ns',
                        'offered_rps')]
    names += ['instructions.per_request', 'instructions.per_request_with_pmd',
              'instructions.apigw.per_request', 'instructions.apigw.per_request_with_pmd']
    names += ['leases.local.peak_rps', 'leases.nats.peak_rps']
    return names


def ratio_definitions():
    """(name, label, numerator figure, denominator figure), in report order."""
    defs = [
        ('turbine_vs_ceiling.peak', 'Turbine memif peak / ceiling peak (goal >= 0.7)',
         'memif.peak_rps', 'ceiling.peak_pps'),
        ('turbine_vs_ceiling.low_p50', 'Turbine memif p50 / ceiling p50, low load, median of '
         'alternated rounds (goal <= 1.3)',
         'memif.low.p50_ns', 'ceiling.low.p50_ns'),
        ('turbine_vs_ceiling.low_p99', 'Turbine memif p99 / ceiling p99, low load, median of '
         'alternated rounds',
         'memif.low.p99_ns', 'ceiling.low.p99_ns'),
        ('turbine_vs_kernel.peak', 'Turbine af_packet peak / kernel peak',
         'af_packet.peak_rps', 'kernel.peak_rps'),
        ('async_vs_memif.peak', 'Events accepted (202, durable) at peak / Turbine memif echo peak',
         'async.peak_rps', 'memif.peak_rps'),
        ('async_vs_fdatasync.load50_p50', '202 p50 at half the async peak / fdatasync p50',
         'async.load50.p50_ns', 'async.fdatasync.p50_ns'),
        ('async_vs_fdatasync.load50_p99', '202 p99 at half the async peak / fdatasync p50 '
         '(goal <= 2)', 'async.load50.p99_ns', 'async.fdatasync.p50_ns'),
        ('async_vs_fdatasync.queue_sync', "the queue's own sync during that run (p50) / the "
         "disk's fdatasync p50 before it", 'async.load50.queue_sync_p50_ns',
         'async.fdatasync.p50_ns'),
        ('jetstream_vs_local.peak', 'Events accepted at peak: JetStream queue / local log',
         'jetstream.jetstream.peak_rps', 'jetstream.local.peak_rps'),
        ('jetstream_vs_local.load50_p50', '202 p50 at half of each one\'s peak: JetStream / local',
         'jetstream.jetstream.load50.p50_ns', 'jetstream.local.load50.p50_ns'),
        ('jetstream_vs_local.load50_p99', '202 p99 at half of each one\'s peak: JetStream / local',
         'jetstream.jetstream.load50.p99_ns', 'jetstream.local.load50.p99_ns'),
        ('leases_vs_local.peak', 'memif peak, tenant limit leased from NATS / counted locally '
         '(goal: no measurable difference)', 'leases.nats.peak_rps', 'leases.local.peak_rps'),
        ('process_vs_thread.peak', 'process mode memif peak / thread mode peak (goal >= 0.25)',
         'isolation.process.peak_rps', 'isolation.thread.peak_rps'),
        ('process_vs_thread.low_p50', 'process mode p50 / thread mode p50, low load',
         'isolation.process.low.p50_ns', 'isolation.thread.low.p50_ns'),
        ('process_vs_thread.low_p99', 'process mode p99 / thread mode p99, low load',
         'isolation.process.low.p99_ns', 'isolation.thread.low.p99_ns'),
    ]
    for l in LOADS:
        for p in ('p50', 'p99'):
            defs.append(('turbine_vs_kernel.%s_%s' % (l, p),
                         'Turbine af_packet %s / kernel %s, %s%% of kernel peak' % (p, p, l[4:]),
                         'af_packet.%s.%s_ns' % (l, p), 'kernel.%s.%s_ns' % (l, p)))
    points = ([('ceiling.low', 'ceiling, low load'), ('memif.low', 'Turbine memif, low load')] +
              [('isolation.%s.low' % m, 'Turbine memif, %s mode, low load' % m)
               for m in ('thread', 'process')] +
              [('memif.%s' % l, 'Turbine memif, %s%% of peak' % l[4:]) for l in LOADS] +
              [('async.load50', 'Events (202), 50% of the async peak')] +
              [('kernel.%s' % l, 'kernel, %s%% of peak' % l[4:]) for l in LOADS] +
              [('af_packet.%s' % l, 'Turbine af_packet, %s%% of kernel peak' % l[4:])
               for l in LOADS] +
              [('bimodal.%s' % l, 'bimodal, %s%% of capacity' % l[4:])
               for l in ('load50', 'load80')])
    for prefix, label in points:
        defs.append(('corrected_vs_uncorrected.' + prefix, 'p99 corrected / uncorrected: ' + label,
                     prefix + '.p99_ns', prefix + '.p99_uncorrected_ns'))
    return defs


RATIO_NAMES = frozenset(d[0] for d in ratio_definitions())

# Ratios measured round by round, the two systems alternated (perf/suite/steps.py, step_low):
# the figure holding the median of the rounds' own ratios, which stands for the ratio when
# measured (reports before it have only the two figures).
PAIRED = {'turbine_vs_ceiling.low_p50': 'memif.low.p50_per_ceiling',
          'turbine_vs_ceiling.low_p99': 'memif.low.p99_per_ceiling'}


def ratios(figures):
    out = {}
    for name, label, num, den in ratio_definitions():
        a, b = figures.get(num), figures.get(den)
        value = a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None
        out[name] = {'label': label, 'value': value, 'numerator': num, 'denominator': den}
        paired = figures.get(PAIRED.get(name))
        if isinstance(paired, (int, float)):
            out[name].update(value=paired, paired=PAIRED[name])
    return out


def fmt_value(name, v):
    if v is None:
        return '-'
    if name.endswith('_ns'):
        if v >= 1e6:
            return '%.2f ms' % (v / 1e6)
        if v >= 1e3:
            return '%.1f us' % (v / 1e3)
        return '%d ns' % v
    if name.endswith(('_rps', '_pps')):
        return '{:,.0f}/s'.format(v)
    if name.endswith(('_per_sync', '_per_fdatasync', '_per_ceiling')):
        return '{:,.2f}'.format(v)
    return '{:,.0f}'.format(v)


# (figure or ratio, label, the goal's bound, True: it must reach the bound; False: stay within)
GOALS = [
    ('async.peak_rps', 'durable Events accepted (202) per second on one dispatcher lcore',
     100000, True),
    ('async.load50.p99_per_fdatasync', '202 p99 at half the async peak (at most 50,000/s), in '
     'fdatasync p50s', 2,
     False),
    ('instructions.per_request', 'instructions per small echo request on the dispatcher path',
     1000, False),
    ('instructions.apigw.per_request', 'instructions per API Gateway event (about 480 bytes) echoed',
     2500, False),
    ('turbine_vs_ceiling.peak', 'Turbine memif echo peak / packet-I/O ceiling', 0.7, True),
    ('turbine_vs_ceiling.low_p50', 'Turbine memif p50 / ceiling p50 at low load', 1.3, False),
]


def fmt_goal(name, v):
    """A goal's value or bound: ratios with two decimals, figures as fmt_value shows them."""
    if v is not None and name in RATIO_NAMES:
        return '%.2f' % v
    return fmt_value(name, v)


def goals(figures):
    """Each goal with the figure or ratio that decides it: met True or False, None when not
    measured."""
    values = dict(figures)
    values.update((n, r['value']) for n, r in ratios(figures).items())
    out = []
    for name, label, bound, at_least in GOALS:
        v = values.get(name)
        met = None if not finite(v) else (v >= bound if at_least else v <= bound)
        out.append({'figure': name, 'label': label, 'goal': '%s %s' % ('>=' if at_least else '<=',
                                                                         fmt_goal(name, bound)),
                    'value': v, 'met': met})
    return out


def markdown(doc):
    cfg = doc['config']
    lines = ['# Turbine benchmark: %s, %s' % (doc['host'], doc['started_at']), '',
             '`%s`%s; system under test on CPU %d, turbine-gen on CPU %d; %s; '
             'load average %s before, %s after.'
             % (' '.join(cfg['command']), ' (quick: plumbing only, figures not meaningful)'
                if cfg['plan']['quick'] else '', cfg['plan']['cpus']['system_under_test'],
                cfg['plan']['cpus']['generator'], cfg['machine']['cpu_model'],
                cfg['load_average']['before'], cfg['load_average']['after']), '',
             '| ratio | value | numerator | denominator |', '|---|---:|---:|---:|']
    figs = doc['figures']
    for name, r in doc['ratios'].items():
        lines.append('| %s | %s | %s | %s |' % (
            r['label'], '-' if r['value'] is None else '%.2f' % r['value'],
            fmt_value(r['numerator'], figs.get(r['numerator'])),
            fmt_value(r['denominator'], figs.get(r['denominator']))))
    measured = [g for g in goals(figs) if g['met'] is not None]
    if measured:
        lines += ['', '| goal | figure | value | met |', '|---|---|---:|---|']
        lines += ['| %s %s | `%s` | %s | %s |' % (g['label'], g['goal'], g['figure'],
                                                  fmt_goal(g['figure'], g['value']),
                                                  'yes' if g['met'] else 'NO')
                  for g in measured]
    lines += ['', '| figure | value |', '|---|---:|']
    for name in expected_figures():
        if name in figs:
            lines.append('| `%s` | %s |' % (name, fmt_value(name, figs[name])))
    if doc.get('notes'):
        lines += ['', 'Notes:', ''] + ['- ' + n for n in doc['notes']]
    return '\n'.join(lines) + '\n'


def plot(doc, path):
    """Corrected latency percentiles against offered load, one colour per system."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figs = doc['figures']
    series = [('Turbine, memif', 'memif', ['low'] + list(LOADS), 'tab:blue'),
              ('Turbine, af_packet', 'af_packet', list(LOADS), 'tab:green'),
              ('kernel server, veth', 'kernel', list(LOADS), 'tab:red')]
    styles = [('p50', '-', 'o'), ('p99', '--', 's'), ('p999', ':', '^')]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for label, step, loads, colour in series:
        for pct, ls, marker in styles:
            pts = [(figs.get('%s.%s.offered_rps' % (step, l)), figs.get('%s.%s.%s_ns' % (step, l, pct)))
                   for l in loads]
            pts = sorted((x, y / 1e3) for x, y in pts if x and y)  # steps not run: no point
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, linestyle=ls,
                        marker=marker, label='%s %s' % (label, pct.replace('p999', 'p99.9')))
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('offered load (requests/s, Poisson)')
    ax.set_ylabel('latency from intended send time (us)')
    ax.set_title('Echo round trip: %s, %s' % (doc['host'], doc['started_at'][:10]))
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def higher_is_better(name):
    return name.endswith(('_rps', '_pps'))


def regression_pct(name, old, new):
    """How much worse `new` is than `old`, in percent (negative: better)."""
    if higher_is_better(name):
        return (old - new) / old * 100.0
    return (new - old) / old * 100.0


def compare(old, new, chosen=DEFAULT_FIGURES, threshold=DEFAULT_THRESHOLD, out=print):
    """Print every figure's change from `old` to `new` (documents or figure dicts) and return
    the exit status: 0, 1 when a chosen figure regressed past `threshold` percent, 3 when a
    chosen figure is missing from either."""
    fo = old.get('figures', old)
    fn = new.get('figures', new)
    names = [n for n in expected_figures() if n in fo or n in fn]
    names += sorted(n for n in set(fo) | set(fn) if n not in names)
    regressed, missing = [], []
    out('%-44s %16s %16s %9s' % ('figure', 'old', 'new', 'change'))
    for name in names:
        a, b = fo.get(name), fn.get(name)
        mark = ''
        if finite(a) and finite(b) and a:
            change = '%+8.1f%%' % ((b - a) / a * 100.0)
            if name in chosen:
                worse = regression_pct(name, a, b)
                if worse > threshold:
                    mark = '  REGRESSION (%.1f%% worse)' % worse
                    regressed.append(name)
                else:
                    mark = '  ok'
        else:
            change = '%9s' % '-'
            if name in chosen:
                mark = '  MISSING'
                missing.append(name)
        out('%-44s %16s %16s %s%s' % (name, fmt_value(name, a), fmt_value(name, b), change, mark))
    missing += [n for n in chosen if n not in names]
    if missing:
        out('missing from one of the runs: %s' % ', '.join(missing))
        return 3
    if regressed:
        out('regression past %.1f%% in: %s' % (threshold, ', '.join(regressed)))
        return 1
    out('no regression past %.1f%% in: %s' % (threshold, ', '.join(chosen)))
    return 0


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get('figures', doc), dict):
        raise ValueError('%s: not a perf/run result (no "figures" object)' % path)
    return doc


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
