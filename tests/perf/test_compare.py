"""perf/run --compare OLD.json NEW.json on synthetic reports: exit statuses and what it prints.

0 no chosen figure regressed past the threshold; 1 one did; 2 an unreadable report; 3 a chosen
figure missing. Rates regress when they fall, latencies and instruction counts when they rise.
"""

import json
import os
import subprocess
import sys
import tempfile

PERF_RUN = os.environ.get('PERF_RUN') or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'perf', 'run')

OLD = {
    'memif.peak_rps': 1000000.0,
    'memif.load50.p99_ns': 10000,
    'kernel.peak_rps': 100000.0,
    'instructions.per_request': 4000.0,
}

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


def write(tmp, name, figures, wrap=True):
    path = os.path.join(tmp, name)
    with open(path, 'w') as f:
        json.dump({'suite': 'turbine-perf', 'figures': figures} if wrap else figures, f)
    return path


def compare(tmp, new, *extra, old=None):
    old_path = old or write(tmp, 'old.json', OLD)
    new_path = write(tmp, 'new.json', new)
    p = subprocess.run([sys.executable, PERF_RUN, '--compare', old_path, new_path] + list(extra),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def line_of(out, figure):
    return next((l for l in out.splitlines() if l.split()[:1] == [figure]), '')


def changed(**kw):
    d = dict(OLD)
    d.update({k.replace('__', '.'): v for k, v in kw.items()})
    return d


def main():
    with tempfile.TemporaryDirectory(prefix='tb-perf-compare-') as tmp:
        rc, out = compare(tmp, OLD)
        check(rc == 0, 'identical reports: exit 0', out)
        check('no regression' in out, 'identical reports: says no regression', out)
        for fig in OLD:
            check(line_of(out, fig) != '', 'every figure is listed: %s' % fig, out)
        check('+0.0%' in line_of(out, 'kernel.peak_rps'), 'an unchanged figure shows +0.0%',
              line_of(out, 'kernel.peak_rps'))

        rc, out = compare(tmp, changed(memif__peak_rps=850000.0))
        check(rc == 1, 'peak 15% lower: exit 1', out)
        check('REGRESSION' in line_of(out, 'memif.peak_rps'), 'peak 15% lower: the line says so',
              out)
        check('-15.0%' in line_of(out, 'memif.peak_rps'), 'peak 15% lower: change -15.0%', out)

        rc, out = compare(tmp, changed(memif__peak_rps=1200000.0))
        check(rc == 0, 'peak 20% higher: an improvement, exit 0', out)

        rc, out = compare(tmp, changed(memif__peak_rps=950000.0))
        check(rc == 0, 'peak 5% lower, default threshold 10%: exit 0', out)
        rc, out = compare(tmp, changed(memif__peak_rps=950000.0), '--threshold', '3')
        check(rc == 1, 'peak 5% lower, --threshold 3: exit 1', out)

        rc, out = compare(tmp, changed(memif__load50__p99_ns=12000))
        check(rc == 1, 'p99 20% higher: exit 1', out)
        check('REGRESSION' in line_of(out, 'memif.load50.p99_ns'), 'p99 20% higher: flagged', out)
        rc, out = compare(tmp, changed(memif__load50__p99_ns=5000))
        check(rc == 0, 'p99 halved: an improvement, exit 0', out)

        rc, out = compare(tmp, changed(kernel__peak_rps=50000.0))
        check(rc == 0, 'a figure not chosen may fall: exit 0', out)
        check('-50.0%' in line_of(out, 'kernel.peak_rps'), 'its change is still printed', out)
        rc, out = compare(tmp, changed(kernel__peak_rps=50000.0), '--figure', 'kernel.peak_rps')
        check(rc == 1, '--figure kernel.peak_rps: its fall fails the comparison', out)
        rc, out = compare(tmp, changed(instructions__per_request=4500.0),
                          '--figure', 'instructions.per_request')
        check(rc == 1, 'instructions 12.5% up, chosen: exit 1', out)
        rc, out = compare(tmp, changed(memif__peak_rps=850000.0), '--figure', 'kernel.peak_rps')
        check(rc == 0, 'only the chosen figures decide: default ones not chosen then', out)

        missing = dict(OLD)
        del missing['memif.load50.p99_ns']
        rc, out = compare(tmp, missing)
        check(rc == 3, 'a chosen figure missing from the new report: exit 3', out)
        check('MISSING' in out, 'the missing figure is named', out)

        rc, out = compare(tmp, OLD, old=os.path.join(tmp, 'nonexistent.json'))
        check(rc == 2, 'an unreadable report: exit 2', out)
        bad = os.path.join(tmp, 'bad.json')
        with open(bad, 'w') as f:
            f.write('[1, 2')
        rc, out = compare(tmp, OLD, old=bad)
        check(rc == 2, 'a report that is not JSON: exit 2', out)

        p = subprocess.run([sys.executable, PERF_RUN, '--compare', 'a', 'b', 'c'],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
        check(p.returncode == 2, 'three reports: a usage error', p.stderr)

    print('perf_compare: %d checks passed, %d failed' % (passed, len(failed)))
    for what in failed:
        print('  failed: %s' % what)
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == '__main__':
    main()
