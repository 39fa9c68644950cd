"""The report's goals on synthetic figures: each judged on its figure or on the ratio of two,
met exactly when within its bound, unjudged when not measured, and shown in the markdown."""

import os
import sys

PERF = os.environ.get('PERF_RUN') and os.path.dirname(os.environ['PERF_RUN']) or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'perf')
sys.path.insert(0, PERF)

from suite import report  # noqa: E402

failed = []
passed = 0


def check(cond, what, detail=''):
    global passed
    if cond:
        passed += 1
        print('ok     %s' % what)
    else:
        failed.append(what)
        print('FAIL   %s\n       %s' % (what, detail))


def judged(figures):
    return {g['figure']: g for g in report.goals(figures)}


def doc_of(figures):
    return {'host': 'h', 'started_at': 't', 'figures': figures, 'ratios': report.ratios(figures),
            'config': {'command': ['perf/run'], 'machine': {'cpu_model': 'cpu'},
                       'load_average': {'before': '0', 'after': '0'},
                       'plan': {'quick': False, 'cpus': {'system_under_test': 0, 'generator': 1}}}}


def main():
    # The figures before the work: every one of its goals missed.
    before = {'ceiling.peak_pps': 4200000.0, 'memif.peak_rps': 1660000.0,
              'ceiling.low.p50_ns': 1600, 'memif.low.p50_ns': 2200,
              'instructions.per_request': 4819.0, 'instructions.apigw.per_request': 9606.0}
    g = judged(before)
    for name in ('instructions.per_request', 'instructions.apigw.per_request',
                 'turbine_vs_ceiling.peak', 'turbine_vs_ceiling.low_p50'):
        check(name in g and g[name]['met'] is False, '%s: judged, not met' % name, g.get(name))
    check(abs(g['turbine_vs_ceiling.peak']['value'] - 1660000.0 / 4200000.0) < 1e-12,
          'the peak goal is judged on the ratio of the two peaks', g['turbine_vs_ceiling.peak'])
    check(g['async.peak_rps']['met'] is None, 'a goal not measured is not judged', g['async.peak_rps'])

    after = dict(before, **{'memif.peak_rps': 2950000.0, 'memif.low.p50_ns': 2070,
                            'instructions.per_request': 1000.0,
                            'instructions.apigw.per_request': 2499.0})
    g = judged(after)
    for name in ('instructions.per_request', 'instructions.apigw.per_request',
                 'turbine_vs_ceiling.peak', 'turbine_vs_ceiling.low_p50'):
        check(g[name]['met'] is True, '%s: met at or within its bound' % name, g[name])

    g = judged(dict(after, **{'memif.peak_rps': 2900000.0, 'memif.low.p50_ns': 2090}))
    check(g['turbine_vs_ceiling.peak']['met'] is False, 'a peak ratio of 0.69: not met',
          g['turbine_vs_ceiling.peak'])
    check(g['turbine_vs_ceiling.low_p50']['met'] is False, 'a p50 ratio of 1.31: not met',
          g['turbine_vs_ceiling.low_p50'])
    check(judged(dict(after, **{'ceiling.peak_pps': 0}))['turbine_vs_ceiling.peak']['met'] is None,
          'a ceiling of 0: the ratio, and its goal, unjudged')

    md = report.markdown(doc_of(before))
    check('| `turbine_vs_ceiling.peak` | 0.40 | NO |' in md, 'the markdown shows a ratio goal '
          'with its value to two decimals', md)
    check('>= 0.70 | `turbine_vs_ceiling.peak`' in md, 'and its bound', md)
    check('<= 2,500 | `instructions.apigw.per_request` | 9,606 | NO |' in md,
          'the markdown shows the API Gateway instruction goal', md)

    print('perf_goals: %d checks passed, %d failed' % (passed, len(failed)))
    for what in failed:
        print('  failed: %s' % what)
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == '__main__':
    main()
