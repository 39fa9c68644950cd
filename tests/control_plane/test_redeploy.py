"""Live redeploy under steady load: five new versions, not one request lost or failed.

Turbine serves `counter` on one lcore. turbine-gen, on the client's end of
the veth (net_af_packet, its own address), drives it at a steady rate for
the whole run, while a kernel client sends a probe every few milliseconds
and notes the version of every answer. Meanwhile turbinectl deploys five
new versions, each from a copy of the module, so that new code is loaded
each time. The generator must see every request answered 200 without a
function error; the probe must see versions that only move forward, and
the new one on every request sent after its deploy returned.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log  # noqa: E402

TURBINE_GEN = os.environ.get('TURBINE_GEN', '')
TURBINECTL = os.environ.get('TURBINECTL', '')
DEPLOYS = 5
RATE = 2000
DURATION_S = 8
PROBE_GAP_S = 0.005


def probe(bed, stop, sent, answers):
    """Send a request every PROBE_GAP_S until told to stop; record send time by id, answers by id."""
    client = bed.client()
    next_id = 1

    def receive():
        while not stop.is_set() or time.monotonic() < stop.deadline:
            r = client.recv(0.2)
            if isinstance(r, dict):
                answers.setdefault(r.get('id'), []).append(r)
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    while not stop.is_set() and next_id < 10000:
        sent[next_id] = time.monotonic()
        client.send({'id': next_id, 'fn': 'counter'})
        next_id += 1
        time.sleep(PROBE_GAP_S)
    t.join(5)
    client.close()


def body(c):
    work = tempfile.mkdtemp(prefix='tb-redeploy-')
    try:
        with harness.Testbed('redeploy', 42) as bed:
            with bed.turbine({'counter': harness.MODULES['counter']}, lcores='0') as t:
                gen_prefix = bed.next_prefix() + '-gen'
                out = os.path.join(work, 'gen.json')
                gen = subprocess.Popen(
                    ['ip', 'netns', 'exec', bed.client_ns, TURBINE_GEN, '--lcores', '0@1',
                     '--file-prefix', gen_prefix, '--no-pci', '--no-huge', '-m', '256',
                     '--vdev', 'net_af_packet0,iface=' + bed.client_if, '--',
                     '--to', bed.turbine_ip, '--src-ip', '198.18.42.3', '--fn', 'counter',
                     '--rate', str(RATE), '--warmup', '1', '--duration', str(DURATION_S),
                     '--drain-ms', '2000', '--json', out, '--quiet'],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                    stdin=subprocess.DEVNULL)
                stop = threading.Event()
                stop.deadline = float('inf')
                sent, answers = {}, {}
                pt = threading.Thread(target=probe, args=(bed, stop, sent, answers), daemon=True)
                pt.start()
                time.sleep(2.0)  # past the generator's ARP and warm-up

                switched = []  # (version, monotonic time its deploy returned)
                for k in range(DEPLOYS):
                    version = str(k + 2)
                    copy = os.path.join(work, 'counter-v%s.so' % version)
                    shutil.copy(harness.MODULES['counter'], copy)
                    p = subprocess.run([TURBINECTL, '-f', t.prefix, 'deploy', 'counter', copy,
                                        '--version', version], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, timeout=30,
                                       stdin=subprocess.DEVNULL)
                    switched.append((version, time.monotonic()))
                    c.eq(p.returncode, 0, 'deploy of version %s accepted' % version)
                    time.sleep(1.0)

                try:
                    gen_out, _ = gen.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    gen.kill()
                    gen_out, _ = gen.communicate()
                harness.remove_dpdk_files(gen_prefix)
                stop.deadline = time.monotonic() + 2.0
                stop.set()
                pt.join(10)
                log(gen_out[-3000:])

                c.eq(gen.returncode, 0, 'turbine-gen completed')
                with open(out) as f:
                    g = json.load(f)
                log('generator: sent %s received %s lost %s by_status %s fn_errors %s' %
                    (g['sent'], g['received'], g['lost'], g['by_status'], g['fn_errors']))
                c.ok(g['sent'] >= RATE * DURATION_S * 0.5, 'steady load was applied', g['sent'])
                c.eq(g['lost'], 0, 'no request lost across five redeploys')
                c.eq(g['duplicates'], 0, 'none answered twice')
                c.eq(g['by_status'], {'200': g['sent']}, 'every one answered 200')
                c.eq(g['fn_errors'], 0, 'without a function error')

                c.ok(len(sent) > 500, 'the probe ran throughout', len(sent))
                c.eq(sorted(answers), sorted(sent), 'every probe answered')
                versions = [answers[i][0].get('version') for i in sorted(answers)]
                c.ok(all(answers[i][0]['status'] == 200 for i in answers), 'every probe answered 200')
                as_int = [int(v) for v in versions]
                c.ok(all(a <= b for a, b in zip(as_int, as_int[1:])), 'versions only move forward')
                late = [(i, answers[i][0]['version'], v) for v, at in switched for i in sorted(sent)
                        if sent[i] > at and i in answers and int(answers[i][0]['version']) < int(v)]
                c.eq(late[:5], [], 'every request sent after a deploy returned ran the new version')
                c.eq(set(versions) >= {'1', str(DEPLOYS + 1)}, True, 'first and last versions both served')
                fn = t.telemetry('/turbine/function,counter')
                c.eq(fn['version'], str(DEPLOYS + 1), 'telemetry reports the last version')
                rc, final = t.stop()
                c.eq(rc, 0, 'turbine exits 0')
                c.eq(final['requests'], final['responses'], 'every request it took got a response')
                c.eq(final['status_200'], final['responses'], 'all of them 200')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    if not TURBINE_GEN or not TURBINECTL:
        harness.log('TURBINE_GEN and TURBINECTL must be set (run through meson test)')
        sys.exit(1)
    harness.main('redeploy', body)
