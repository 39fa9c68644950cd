"""The database scenario: reserved concurrency holds a function's database connections to N.

A private MariaDB server (Debian's mariadbd, as root, a fresh datadir, no networking at all:
its Unix socket only, in Turbine's namespace) serves `dbcount`, whose init opens one
connection per environment; Turbine's account may hold N + 2 connections (the server's own
max_connections cannot go below 10). Turbine runs one dispatcher and three workers with the
function's reserved_concurrency = N (2): without the reservation it could have three environments.
A burst of 200 calls, each sleeping 20 ms in SQL, arrives ten times faster than N
environments can serve them. Checked: the database never saw more than N connections from
Turbine, every excess call got 429 ReservedFunctionConcurrentInvocationLimitExceeded, every
admitted call got 200 with no fn_error, each request got exactly one response, and the peak of
calls inside the handler, recorded by the module, never went above N. A function pointed at
a socket nobody serves answers 502 with the mysql error from its init.

The scenario runs twice against the same server: in thread mode, then with isolation =
"process" and network = true (each environment a jailed sandbox process that may make client
sockets; it runs as an unprivileged user, so the server's folder is made searchable). There
each sandbox counts only its own calls: its peak is 1, and the N environments the burst used
show the concurrency instead.
"""

import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import harness  # noqa: E402
from harness import log, run  # noqa: E402

N = 2                       # the function's reserved concurrency
LIMIT = N + 2               # the database's connection limit for Turbine's account
SLEEP_MS = 20               # each call's time in the database
BURST = 200                 # calls in the burst
# N environments serve N / SLEEP_MS calls per ms; the burst comes ten times faster.
GAP_S = SLEEP_MS / 1000.0 / N / 10
REPLY_WAIT_S = 15.0
LCORES = '0@0,1@1,2@1,3@1'  # 1 dispatcher, 3 workers: more environments than N are possible

DB_USER = 'turbine'
DB_PASSWORD = 'turbine-db-test'
DB_NAME = 'turbine'
REASON = 'ReservedFunctionConcurrentInvocationLimitExceeded'

MODULE = os.environ.get('TURBINE_MODULE_DBCOUNT', '')
SANDBOX = os.environ.get('TURBINE_SANDBOX', '')


def remove_stale():
    """Servers, turbines and directories of earlier runs killed before they could clean up:
    a run's directory names its pid, and its processes name the directory."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), 'tb-db-*-*')):
        m = re.match(r'^tb-db-(\d+)-', os.path.basename(d))
        if not m or os.path.exists('/proc/' + m.group(1)):
            continue
        for pid in filter(str.isdigit, os.listdir('/proc')):
            with contextlib.suppress(OSError):
                with open('/proc/%s/cmdline' % pid, 'rb') as f:
                    if any(d.encode() in arg for arg in f.read().split(b'\0')):
                        os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)


def which(*names):
    for name in names:
        for d in (None, '/usr/sbin', '/usr/bin'):
            path = shutil.which(name) if d is None else os.path.join(d, name)
            if path and os.access(path, os.X_OK):
                return path
    return None


class MariaDB:
    """A private MariaDB server in a temporary directory, reachable only on its Unix socket."""

    def __init__(self, tmp, netns):
        self.server = which('mariadbd', 'mysqld')
        self.install_db = which('mariadb-install-db', 'mysql_install_db')
        self.client = which('mariadb', 'mysql')
        self.dir = tmp
        self.datadir = os.path.join(tmp, 'data')
        self.socket = os.path.join(tmp, 'mysqld.sock')
        self.errlog = os.path.join(tmp, 'mysqld.err')
        self.netns = netns
        self.proc = None

    def start(self):
        sizes = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=32M']
        self.initialise(sizes)
        # max_connections cannot go below 10; Turbine's account gets its own limit of N + 2.
        cmd = ['ip', 'netns', 'exec', self.netns,
               self.server, '--no-defaults', '--user=root', '--datadir=' + self.datadir,
               '--socket=' + self.socket, '--pid-file=' + os.path.join(self.dir, 'mysqld.pid'),
               '--tmpdir=' + self.dir, '--log-error=' + self.errlog, '--skip-networking',
               '--skip-name-resolve', '--max-connections=10', '--userstat=1'] + sizes
        log('starting: ' + ' '.join(cmd))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        ok = harness.wait_until(lambda: self.proc.poll() is not None or
                                self.sql('SELECT 1', check=False).returncode == 0, 60, 0.2)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError('mariadbd did not come up\n' + self.log_tail())

    def initialise(self, sizes):
        """mariadb-install-db, in a process group of its own: the bootstrap server it starts
        goes with it when the test is interrupted."""
        cmd = [self.install_db, '--no-defaults', '--datadir=' + self.datadir, '--user=root',
               '--auth-root-authentication-method=socket', '--skip-test-db',
               '--skip-name-resolve'] + sizes
        log('running: ' + ' '.join(cmd))
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, errors='replace',
                             start_new_session=True)
        try:
            out = p.communicate(timeout=120)[0]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        if p.returncode != 0:
            raise RuntimeError('%s: exit %d\n%s' % (cmd[0], p.returncode, out))

    def sql(self, query, check=True):
        """One statement list as root on the socket, in a connection of its own."""
        return run([self.client, '--no-defaults', '--socket=' + self.socket, '--user=root',
                    '--batch', '--skip-column-names', '--execute=' + query],
                   check=check, timeout=30)

    def rows(self, query):
        return [line.split('\t') for line in self.sql(query).stdout.splitlines()]

    def value(self, query):
        return self.rows(query)[0][-1]

    def log_tail(self):
        try:
            with open(self.errlog, errors='replace') as f:
                return ''.join(f.readlines()[-20:])
        except OSError:
            return '(no error log)'

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


CONFIG = '''# written by tests/db/test_db.py
dispatch_lcores = [0];
worker_lcores = [1, 2, 3];
functions = (
  { name = "dbcount"; module = "%(module)s"; timeout_ms = 2000; reserved_concurrency = %(n)d;
    %(isolation)s
    params = { socket = "%(socket)s"; user = "%(user)s"; password = "%(password)s";
               database = "%(db)s"; }; },
  { name = "dbdown"; module = "%(module)s"; timeout_ms = 2000; %(isolation)s
    params = { socket = "%(absent)s"; user = "%(user)s"; database = "%(db)s"; }; }
);
'''
ISOLATION = {'thread': '', 'process': 'isolation = "process"; network = true;'}


def burst(client):
    """BURST calls, one every GAP_S seconds, then every answer until all came or time ran out."""
    replies = {}
    strays = []
    start = time.monotonic()
    for i in range(BURST):
        delay = start + i * GAP_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        client.send({'id': 1000 + i, 'fn': 'dbcount', 'event': {'sleep_ms': SLEEP_MS}})
    sent_s = time.monotonic() - start
    end = time.monotonic() + REPLY_WAIT_S
    while sum(len(v) for v in replies.values()) < BURST and time.monotonic() < end:
        r = client.recv(max(0.05, end - time.monotonic()))
        if r is None:
            break
        if isinstance(r, dict) and r.get('id') in range(1000, 1000 + BURST):
            replies.setdefault(r['id'], []).append(r)
        else:
            strays.append(r)
    # A second answer to any request would come now.
    while True:
        r = client.recv(0.5)
        if r is None:
            break
        if isinstance(r, dict) and r.get('id') in range(1000, 1000 + BURST):
            replies.setdefault(r['id'], []).append(r)
        else:
            strays.append(r)
    return replies, strays, sent_s


def prepare(db, tmp):
    db.start()
    db.sql("CREATE DATABASE %s; "
           "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s' WITH MAX_USER_CONNECTIONS %d; "
           "GRANT ALL ON %s.* TO '%s'@'localhost'; "
           "CREATE TABLE %s.hits (id INT PRIMARY KEY, n BIGINT UNSIGNED NOT NULL); "
           "INSERT INTO %s.hits VALUES (1, 0); "
           % (DB_NAME, DB_USER, DB_PASSWORD, LIMIT, DB_NAME, DB_USER, DB_NAME, DB_NAME))
    # A sandbox runs as nobody: it must be able to reach the socket (the server makes it 0777).
    os.chmod(tmp, 0o755)


class Prefixed:
    """Checks whose names start with the run's isolation."""

    def __init__(self, checks, prefix):
        self.checks = checks
        self.prefix = prefix

    def ok(self, cond, what, detail=None):
        return self.checks.ok(cond, '%s: %s' % (self.prefix, what), detail)

    def eq(self, actual, expected, what):
        return self.checks.eq(actual, expected, '%s: %s' % (self.prefix, what))


def scenario(c, bed, db, tmp, isolation):
    c = Prefixed(c, isolation)
    db.sql('UPDATE %s.hits SET n = 0 WHERE id = 1; FLUSH USER_STATISTICS' % DB_NAME)
    # From here on Max_used_connections counts the connections open at once, this one
    # included; no other admin connection runs until the burst is over.
    db.sql('FLUSH STATUS')

    path = os.path.join(tmp, 'turbine-%s.conf' % isolation)
    with open(path, 'w') as f:
        f.write(CONFIG % {'module': MODULE, 'n': N, 'socket': db.socket, 'user': DB_USER,
                          'password': DB_PASSWORD, 'db': DB_NAME,
                          'absent': os.path.join(tmp, 'absent.sock'),
                          'isolation': ISOLATION[isolation]})
    t = bed.turbine({}, lcores=LCORES, args=['--config', path])
    t.start()
    c.eq((t.dispatchers, t.workers), (1, 3), 'turbine: one dispatcher, three workers')
    c.eq(t.telemetry('/turbine/functions')['dbcount'].get('isolation'), isolation,
         'telemetry: the function\'s isolation')

    cl = bed.client()
    r = cl.call({'id': 1, 'fn': 'dbcount'}) or {}
    body = r.get('body') if isinstance(r.get('body'), dict) else {}
    c.ok(r.get('status') == 200 and 'fn_error' not in r and body.get('n') == 1,
         'first call: 200, n = 1 from the table', r)
    c.ok(set(body) == {'n', 'worker', 'peak', 'conn'}, 'first call: body has n, worker, peak, conn', r)

    r = cl.call({'id': 2, 'fn': 'dbdown'}) or {}
    c.ok(r.get('status') == 502 and r.get('error') == 'ResourceNotReadyException' and
         'mysql error' in str(r.get('message')), 'no database: 502 with the mysql error', r)

    replies, strays, sent_s = burst(cl)
    log('burst: %d calls sent in %.3f s, %d answered' % (BURST, sent_s, len(replies)))

    # Every request, one answer.
    c.eq(sorted(replies), list(range(1000, 1000 + BURST)), 'burst: every request answered')
    c.eq([i for i, v in replies.items() if len(v) != 1], [], 'burst: no request answered twice')
    c.eq(strays, [], 'burst: no answer to anything else')

    answers = [v[0] for v in replies.values()]
    ok = [a for a in answers if a.get('status') == 200]
    throttled = [a for a in answers if a.get('status') == 429]
    other = [a for a in answers if a.get('status') not in (200, 429)]
    log('burst: %d x 200, %d x 429, %d other' % (len(ok), len(throttled), len(other)))
    c.eq(other, [], 'burst: every answer is 200 or 429')
    c.ok(len(throttled) >= BURST // 2, 'burst: most of the excess refused (%d x 429)' % len(throttled))
    c.ok(len(ok) >= N, 'burst: calls admitted (%d x 200)' % len(ok))
    c.eq([a for a in throttled if a.get('error') != 'TooManyRequestsException' or
          a.get('reason') != REASON], [],
         'burst: every 429 is TooManyRequestsException, ' + REASON)
    c.eq([a for a in ok if 'fn_error' in a or not isinstance(a.get('body'), dict)], [],
         'burst: every 200 succeeded (no fn_error)')

    bodies = [a['body'] for a in ok if isinstance(a.get('body'), dict)] + [body]
    peak = max([b.get('peak', 0) for b in bodies] or [0])
    workers = sorted({b.get('worker') for b in bodies})
    conns = sorted({b.get('conn') for b in bodies})
    log('handler peak %d, workers %s, connections %s' % (peak, workers, conns))
    c.ok(peak <= N, 'handler: peak of concurrent calls %d <= %d' % (peak, N))
    if isolation == 'thread':
        c.eq(peak, N, 'handler: the burst kept all N environments busy at once')
    else:
        # Each sandbox sees only its own calls, one at a time.
        c.eq(peak, 1, 'handler: each sandbox ran one call at a time')
        c.eq(len(workers), N, 'handler: the burst used all N environments')
    c.ok(len(workers) <= N, 'handler: calls ran in at most N environments (%s)' % workers)
    c.ok(len(conns) <= N, 'handler: calls used at most N connections (%s)' % conns)
    ns = sorted(b.get('n') for b in bodies)
    c.eq(ns, sorted(set(ns)), 'handler: each call counted once')

    # The database's side, in one admin connection that is itself counted.
    max_used = int(db.value("SHOW GLOBAL STATUS LIKE 'Max_used_connections'"))
    refused = int(db.value("SHOW GLOBAL STATUS LIKE 'Connection_errors_max_connections'"))
    live = db.rows("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '%s'" % DB_USER)
    stats = db.rows("SELECT TOTAL_CONNECTIONS, DENIED_CONNECTIONS FROM "
                    "information_schema.USER_STATISTICS WHERE USER = '%s'" % DB_USER)
    n_db = int(db.value('SELECT n FROM %s.hits WHERE id = 1' % DB_NAME))
    log('database: Max_used_connections %d (1 of them this query), %s connections from Turbine '
        'now, user statistics (total, denied) %s, n = %d' % (max_used, len(live), stats, n_db))
    c.ok(max_used - 1 <= N, 'database: at most N connections from Turbine at once (%d)' % (max_used - 1))
    c.eq(refused, 0, 'database: no connection refused for max_connections')
    c.ok(stats and int(stats[0][1]) == 0, 'database: no connection of Turbine\'s account denied', stats)
    c.ok(1 <= len(live) <= N, 'database: Turbine keeps its connections open (%d)' % len(live))
    c.ok({int(x[0]) for x in live} >= set(conns), 'database: the calls ran on those connections',
         (live, conns))
    c.eq(n_db, len(ok) + 1, 'database: the counter row saw every admitted call')

    c.ok(t.alive(), 'turbine still running after the burst', t.output())
    rc, final = t.stop()
    c.ok(rc == 0, 'turbine: exit 0 on SIGTERM', 'exit %s\n%s' % (rc, t.output()))
    if final is not None and 'status_429' in final:
        c.eq(final['status_429'], len(throttled), 'turbine: its 429 count matches the client\'s')
    c.ok(harness.wait_until(lambda: not db.rows("SELECT ID FROM information_schema.PROCESSLIST "
                                                "WHERE USER = '%s'" % DB_USER), 10, 0.2),
         'database: fini closed every connection')
    cl.close()


def body(c):
    with harness.Testbed('db', 12) as bed:
        remove_stale()
        tmp = tempfile.mkdtemp(prefix='tb-db-%d-' % os.getpid())
        db = MariaDB(tmp, bed.server_ns)
        try:
            prepare(db, tmp)
            modes = ['thread']
            if SANDBOX and os.path.exists(SANDBOX):
                modes.append('process')
            else:
                log('turbine-sandbox was not built (libseccomp-dev): thread mode only')
            for isolation in modes:
                scenario(c, bed, db, tmp, isolation)
                for t in bed.processes:
                    t.kill()
        except Exception:
            log('--- mariadbd error log\n' + db.log_tail())
            raise
        finally:
            for t in bed.processes:
                t.kill()
            db.stop()
            shutil.rmtree(tmp, ignore_errors=True)


if os.geteuid() != 0:
    harness.skip('needs root: network namespaces, veth pairs, raw sockets and DPDK')
if not MODULE or not os.path.exists(MODULE):
    harness.skip('dbcount was not built (needs libmariadb-dev)')
if which('mariadbd', 'mysqld') is None:
    harness.skip('mariadbd is not installed (mariadb-server)')
if which('mariadb-install-db', 'mysql_install_db') is None or which('mariadb', 'mysql') is None:
    harness.skip('mariadb-install-db or the mariadb client is missing (mariadb-server)')
harness.main('db_scenario', body, required=[harness.TURBINE, MODULE])
