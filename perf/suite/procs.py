"""Processes of the suite: DPDK programs with prefixes of their own, the veth pair between two
network namespaces, and the clean-up of both, also after a run that was killed."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time

# Every name the suite creates carries this and its process id, so that a later run can tell
# leftovers of a dead run from those of a live one.
TAG = 'tbperf'
RUNTIME_DIR = '/var/run/dpdk'
# Where the async step keeps its queue folders: a real disk (/tmp may be tmpfs).
ASYNC_ROOT = '/var/tmp'
# Turbine's queue folder without --async-dir: <here>/<file-prefix>, made by every Turbine.
DEFAULT_QUEUE_ROOT = '/var/lib/turbine'
HUGEPAGES_SYSFS = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages'
HUGEPAGES = 512


class SuiteError(Exception):
    """A step could not run; the message says which and why."""


class Interrupted(Exception):
    """SIGINT or SIGTERM: unwind, stop what was started, remove what was made."""


def _on_signal(signum, _frame):
    raise Interrupted('signal %d' % signum)


def trap_signals():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def log(*args):
    print(*args, flush=True)


def run(cmd, check=True, timeout=60, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    if check and p.returncode != 0:
        raise SuiteError('%s: exit %d\n%s%s' % (' '.join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def reserve_hugepages(want=HUGEPAGES):
    """Mount hugetlbfs and reserve `want` 2 MiB pages (never fewer than are reserved already)."""
    with open('/proc/mounts') as f:
        mounted = any(l.split()[1:3] == ['/dev/hugepages', 'hugetlbfs'] for l in f)
    if not mounted:
        os.makedirs('/dev/hugepages', exist_ok=True)
        run(['mount', '-t', 'hugetlbfs', 'nodev', '/dev/hugepages'])
    with open(HUGEPAGES_SYSFS) as f:
        have = int(f.read())
    if have < want:
        with open(HUGEPAGES_SYSFS, 'w') as f:
            f.write('%d\n' % want)
        with open(HUGEPAGES_SYSFS) as f:
            have = int(f.read())
    if have < want:
        log('warning: only %d of %d 2 MiB hugepages reserved' % (have, want))
    return have


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale():
    """Namespaces, DPDK runtime folders and queue folders left by a suite run whose process is
    gone."""
    stale = re.compile(r'^%s-(\d+)-' % TAG)
    p = run(['ip', 'netns', 'list'], check=False)
    for line in p.stdout.splitlines():
        name = line.split()[0] if line.split() else ''
        m = stale.match(name)
        if m and not _pid_alive(int(m.group(1))):
            run(['ip', 'netns', 'del', name], check=False)
    for parent in (RUNTIME_DIR, ASYNC_ROOT, DEFAULT_QUEUE_ROOT):
        if not os.path.isdir(parent):
            continue
        for name in os.listdir(parent):
            m = stale.match(name)
            if m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


class Proc:
    """A child process whose output goes to a log file and is followed line by line."""

    def __init__(self, name, cmd, log_path, stdin_pipe=False, netns=None, cpu=None):
        self.name = name
        full = list(cmd)
        if cpu is not None:
            full = ['taskset', '-c', str(cpu)] + full
        if netns is not None:
            full = ['ip', 'netns', 'exec', netns] + full
        self.cmd = full
        self.log_path = log_path
        self.lines = []
        self._cond = threading.Condition()
        self._log = open(log_path, 'w')
        log('  start %s: %s' % (name, ' '.join(full)))
        self.p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                  start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.p.stdout:
            self._log.write(line)
            self._log.flush()
            with self._cond:
                self.lines.append(line.rstrip('\n'))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern, timeout):
        """The first output line matching `pattern` (a regular expression), or SuiteError."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    m = rx.search(line)
                    if m:
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self.p.poll() is not None and not self._reader.is_alive():
                    raise SuiteError('%s exited (status %s) before saying /%s/; see %s'
                                     % (self.name, self.p.returncode, pattern, self.log_path))
                if left <= 0:
                    raise SuiteError('%s did not say /%s/ within %.0f s; see %s'
                                     % (self.name, pattern, timeout, self.log_path))
                self._cond.wait(min(left, 0.2))

    def stop(self, timeout=30, how=signal.SIGINT, stdin_text=None):
        """Ask it to end (a signal, or a line on its stdin), then wait; kill it past `timeout`."""
        if self.p.poll() is None:
            try:
                if stdin_text is not None:
                    self.p.stdin.write(stdin_text)
                    self.p.stdin.flush()
                else:
                    # To the whole group: `ip netns exec` and `taskset` exec, valgrind does not.
                    os.killpg(self.p.pid, how)
            except (OSError, ValueError):
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log('warning: %s did not stop within %d s: killing it' % (self.name, timeout))
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        self._reader.join(5)
        self._log.close()
        return self.p.returncode

    def output(self):
        with self._cond:
            return list(self.lines)


class Netns:
    """Two namespaces joined by a veth pair: `sut` holds the server's end, `gen` the generator's.
    Neither end is in the root namespace, so no test frame reaches the host's stack."""

    def __init__(self, subnet='198.18.200'):
        pid = os.getpid()
        self.sut = '%s-%d-s' % (TAG, pid)
        self.gen = '%s-%d-g' % (TAG, pid)
        self.sut_if = 'tbp%ds' % pid
        self.gen_if = 'tbp%dg' % pid
        self.sut_ip = subnet + '.1'
        self.gen_ip = subnet + '.2'
        self.made = []

    def __enter__(self):
        try:
            for ns in (self.sut, self.gen):
                run(['ip', 'netns', 'add', ns])
                self.made.append(ns)
            run(['ip', 'link', 'add', self.sut_if, 'netns', self.sut, 'type', 'veth',
                 'peer', 'name', self.gen_if, 'netns', self.gen])
            for ns, ifname in ((self.sut, self.sut_if), (self.gen, self.gen_if)):
                # No IPv6 chatter (router solicitations, DAD) on the benchmark's wire.
                for key in ('all', 'default', ifname):
                    run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw',
                         'net.ipv6.conf.%s.disable_ipv6=1' % key], check=False)
                run(['ip', '-n', ns, 'link', 'set', ifname, 'up'])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def kernel_address(self, on):
        """Give the server's end its address (the kernel server) or take it away (Turbine)."""
        run(['ip', '-n', self.sut, 'addr', 'flush', 'dev', self.sut_if])
        if on:
            run(['ip', '-n', self.sut, 'addr', 'add', self.sut_ip + '/24', 'dev', self.sut_if])

    def __exit__(self, *exc):
        for ns in reversed(self.made):
            run(['ip', 'netns', 'del', ns], check=False)
        self.made = []
        return False


class Dpdk:
    """EAL arguments for one process: its own --file-prefix, hugepage memory, no PCI scan."""

    def __init__(self, name, memory_mb=256, no_huge=False):
        self.prefix = '%s-%d-%s' % (TAG, os.getpid(), name)
        if no_huge:
            mem = ['--no-huge', '-m', str(memory_mb)]
        else:
            # --huge-unlink: the pages go back to the pool when the process ends, however it ends.
            mem = ['-m', str(memory_mb), '--huge-unlink']
        self.args = ['--file-prefix', self.prefix, '--no-pci'] + mem

    def runtime_dir(self):
        return os.path.join(RUNTIME_DIR, self.prefix)

    def cleanup(self):
        shutil.rmtree(self.runtime_dir(), ignore_errors=True)
