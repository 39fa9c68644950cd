#!/usr/bin/python3
# turbinectl against a fake rte_telemetry server: the requests it sends, its output and exit codes.
"""Usage: fake_telemetry.py TURBINECTL

Serves DPDK telemetry v2 as lib/telemetry does (a SOCK_SEQPACKET Unix socket, a JSON greeting,
requests read into 1024 bytes and split at the first ',', replies {"<command>": data}) with
canned answers, runs TURBINECTL against it once per case and checks what it sent and how it
exited. Needs no root and no DPDK."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2, 64

STATS = {"rx_packets": 120, "requests": 100, "status_200": 97, "status_429": 3,
         "mempool_in_use": 1024}
FUNCTIONS = {
    "echo": {"version": "1", "module": "/opt/turbine/echo.so", "ready": 1, "timeout_ms": 3000,
             "memory_mb": 128, "warm_workers": 2, "cold_start_us": [110, 95],
             "reserved_concurrency": 4, "rate": 100, "burst": 10, "in_flight": 1,
             "isolation": "process", "network": 0, "sandbox_pids": [4021, 4022],
             "sandbox_states": ["ready", "starting"], "sandbox_restarts": [0, 3]},
    "hello": {"version": "3", "module": "/opt/turbine/hello.so", "ready": 0, "timeout_ms": 500,
              "memory_mb": 256, "warm_workers": 0, "cold_start_us": [],
              "reserved_concurrency": 0, "rate": 0, "burst": 0, "in_flight": 0,
              "isolation": "thread"},
}
FUNCTION_ECHO = {"calls": 42, "errors": 1, "timeouts": 0,
                 "throttles": {"reserved_concurrency": 2, "function_rate": 1},
                 "environments": 2, "cold_starts": [{"worker": 0, "init_us": 110}],
                 "in_flight": 1, "latency_ns": {"p50": 1200, "p99": 5400, "p999": 9100}}
WORKERS = {
    "0": {"lcore": 2, "socket": 0, "state": "ok", "busy_fraction": "0.375", "queue_depth": 3,
          "heartbeat_age_ms": 1, "functions": ["echo", "hello"]},
    "1": {"lcore": 3, "socket": 0, "state": "drained", "busy_fraction": "0", "queue_depth": 0,
          "heartbeat_age_ms": 2, "functions": []},
    "2": {"lcore": 4, "socket": 0, "state": "stuck", "stuck_function": "loop", "stuck_ms": 1250,
          "busy_fraction": "0", "queue_depth": 0, "heartbeat_age_ms": 1251, "functions": ["loop"]},
}
PORTS = {"0": {"name": "net_memif0", "rx_packets": 120, "tx_packets": 118}}
LEASES = {"acme": {"node": "node-a", "connected": 1, "concurrency_limit": 4,
                   "concurrency_share": 3, "concurrency_held": 3, "concurrency_wanted": 4,
                   "concurrency_others": 1, "rate_limit": 0, "rate_share": 0, "rate_held": 0,
                   "rate_wanted": 0, "rate_others": 0, "nodes": 2, "expires_in_ms": 2712}}

# What the fake dispatcher answers, by full request; anything else gets null, as an unknown
# command does in rte_telemetry.
ANSWERS = {
    "/turbine/stats": STATS,
    "/turbine/functions": FUNCTIONS,
    "/turbine/function,echo": FUNCTION_ECHO,
    "/turbine/workers": WORKERS,
    "/turbine/ports": PORTS,
    "/turbine/leases": LEASES,
    "/turbine/set,echo,reserved_concurrency=5": {"ok": 1},
    "/turbine/set,echo,rate=100": {"ok": 1},
    "/turbine/set,echo,burst=x": {"ok": 0, "error": "burst: 'x' is not a number"},
    "/turbine/set,echo,tenants=a:b": {"ok": True},
    "/turbine/set,echo,memory_mb=1": {"changed": 1},
    "/turbine/tenant,acme,concurrency=3": {"ok": 1},
    "/turbine/tenant,acme,rate=-1": {"ok": "false", "error": "rate must be positive"},
    "/turbine/drain,1": {"ok": 1},
    "/turbine/undrain,1": {"ok": 1},
    "/turbine/drain,7": {"ok": 0, "error": "no worker 7"},
}


class FakeTelemetry:
    """One listening socket; connections served one after another, as turbinectl makes them."""

    def __init__(self, path, max_output_len=16384):
        self.path = path
        self.max_output_len = max_output_len
        self.answers = dict(ANSWERS)
        self.requests = []
        self.greeting = None        # None: DPDK's; bytes: sent instead
        self.close_at_once = False  # as rte_telemetry does beyond its client limit
        self.silent = False         # reads requests, answers nothing
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.serve_one(conn)

    def serve_one(self, conn):
        if self.close_at_once:
            return
        greeting = self.greeting
        if greeting is None:
            greeting = json.dumps({"version": "DPDK 22.11.11", "pid": os.getpid(),
                                   "max_output_len": self.max_output_len}).encode()
        conn.send(greeting)
        while True:
            try:
                data = conn.recv(1024 - 1)
            except OSError:
                return
            if not data:
                return
            text = data.decode()
            self.requests.append(text)
            if self.silent:
                continue
            cmd = text.split(",", 1)[0]
            reply = json.dumps({cmd: self.answers.get(text)}, separators=(",", ":"))
            conn.send(reply.encode())

    def close(self):
        # shutdown() wakes the accept() of the serving thread; close() alone would leave it
        # blocked there, still taking connections.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Runner:
    def __init__(self, ctl, server, tmp):
        self.ctl = ctl
        self.server = server
        self.tmp = tmp
        self.failures = 0
        self.count = 0

    def case(self, name, args, code, sent=None, stdout_has=(), stderr_has=(), socket=True,
             env=None, cwd=None, check=None):
        """Runs turbinectl; sent=None skips the request check, [] means nothing reached the socket."""
        argv = [self.ctl] + (["--socket", self.server.path] if socket else []) + args
        self.server.requests.clear()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                           env=env, cwd=cwd)
        problems = []
        if p.returncode != code:
            problems.append("exit %d, expected %d" % (p.returncode, code))
        if sent is not None and self.server.requests != sent:
            problems.append("sent %r, expected %r" % (self.server.requests, sent))
        for s in stdout_has:
            if s not in p.stdout:
                problems.append("stdout lacks %r" % s)
        for s in stderr_has:
            if s not in p.stderr:
                problems.append("stderr lacks %r" % s)
        if check is not None:
            problems += check(p)
        self.count += 1
        if problems:
            self.failures += 1
            print("FAIL %s: %s" % (name, "; ".join(problems)))
            print("  argv: %r\n  stdout: %r\n  stderr: %r" % (argv, p.stdout, p.stderr))
        else:
            print("ok   %s" % name)


def json_line(expected):
    def check(p):
        lines = p.stdout.splitlines()
        if len(lines) != 1:
            return ["--json printed %d lines" % len(lines)]
        if json.loads(lines[0]) != expected:
            return ["--json printed %r" % lines[0]]
        return []
    return check


def aligned(p):
    """Every "name value" line puts its value in the same column."""
    cols = {len(line) - len(line.split()[-1]) for line in p.stdout.splitlines()}
    return [] if len(cols) == 1 else ["values not aligned: %r" % p.stdout]


def cases(r, tmp):
    srv = r.server
    # Queries.
    r.case("stats", ["stats"], EXIT_OK, ["/turbine/stats"],
           stdout_has=["rx_packets", "mempool_in_use  1024"], check=aligned)
    r.case("stats_json", ["stats", "--json"], EXIT_OK, ["/turbine/stats"],
           check=json_line(STATS))
    r.case("stats_json_first", ["--json", "stats"], EXIT_OK, ["/turbine/stats"],
           check=json_line(STATS))
    r.case("functions", ["functions"], EXIT_OK, ["/turbine/functions"],
           stdout_has=["FUNCTION", "VERSION", "READY", "RESERVED", "MODULE", "110,95",
                       "/opt/turbine/echo.so", "yes", "no", "ISOLATION", "process", "thread",
                       "SANDBOXES", "ready,starting", "4021,4022", "RESTARTS", "0,3"])
    r.case("functions_json", ["functions", "--json"], EXIT_OK, ["/turbine/functions"],
           check=json_line(FUNCTIONS))
    r.case("function", ["function", "echo"], EXIT_OK, ["/turbine/function,echo"],
           stdout_has=["calls", "throttles.reserved_concurrency", "latency_ns.p999",
                       "cold_starts.0.init_us"], check=aligned)
    r.case("function_unknown", ["function", "nosuch"], EXIT_FAILED, ["/turbine/function,nosuch"],
           stderr_has=["unknown command or refused: /turbine/function,nosuch"])
    r.case("workers", ["workers"], EXIT_OK, ["/turbine/workers"],
           stdout_has=["WORKER", "STATE", "drained", "37.5%", "echo,hello", "STUCK_IN",
                       "STUCK_MS", "stuck", "loop", "1250"])
    r.case("workers_json", ["workers", "--json"], EXIT_OK, ["/turbine/workers"],
           check=json_line(WORKERS))
    r.case("ports", ["ports"], EXIT_OK, ["/turbine/ports"], stdout_has=["net_memif0"])
    r.case("leases", ["leases"], EXIT_OK, ["/turbine/leases"],
           stdout_has=["TENANT", "NODE", "NATS", "CONC_SHARE", "acme", "node-a", "yes", "2712"])
    r.case("raw", ["raw", "/turbine/function,echo", "--json"], EXIT_OK,
           ["/turbine/function,echo"], check=json_line(FUNCTION_ECHO))
    r.case("raw_unknown", ["raw", "/nosuch,1"], EXIT_FAILED, ["/nosuch,1"],
           stderr_has=["unknown command or refused: /nosuch,1"])

    # Mutations: one request per pair, stopping at the first refusal.
    r.case("set", ["set", "echo", "reserved_concurrency=5", "rate=100", "tenants=a:b"], EXIT_OK,
           ["/turbine/set,echo,reserved_concurrency=5", "/turbine/set,echo,rate=100",
            "/turbine/set,echo,tenants=a:b"])
    r.case("set_refused", ["set", "echo", "rate=100", "burst=x", "reserved_concurrency=5"],
           EXIT_FAILED, ["/turbine/set,echo,rate=100", "/turbine/set,echo,burst=x"],
           stderr_has=["/turbine/set,echo,burst=x: burst: 'x' is not a number",
                       "1 request before it took effect"])
    r.case("set_refused_json", ["--json", "set", "echo", "burst=x"], EXIT_FAILED,
           ["/turbine/set,echo,burst=x"],
           check=json_line(ANSWERS["/turbine/set,echo,burst=x"]))
    r.case("set_null", ["set", "echo", "nokey=1"], EXIT_FAILED, ["/turbine/set,echo,nokey=1"],
           stderr_has=["unknown command or refused: /turbine/set,echo,nokey=1"])
    r.case("set_without_ok", ["set", "echo", "memory_mb=1"], EXIT_FAILED,
           ["/turbine/set,echo,memory_mb=1"], stderr_has=['without "ok"'])
    r.case("set_bad_pair", ["set", "echo", "rate=1", "burst"], EXIT_USAGE, [])
    r.case("set_comma", ["set", "echo", "tenants=a,b"], EXIT_USAGE, [])
    r.case("set_no_pair", ["set", "echo"], EXIT_USAGE, [])
    r.case("tenant", ["tenant", "acme", "concurrency=3"], EXIT_OK,
           ["/turbine/tenant,acme,concurrency=3"])
    r.case("tenant_refused", ["tenant", "acme", "rate=-1"], EXIT_FAILED,
           ["/turbine/tenant,acme,rate=-1"], stderr_has=["rate must be positive"])
    r.case("drain", ["drain", "1"], EXIT_OK, ["/turbine/drain,1"])
    r.case("undrain", ["undrain", "1"], EXIT_OK, ["/turbine/undrain,1"])
    r.case("drain_refused", ["drain", "7"], EXIT_FAILED, ["/turbine/drain,7"],
           stderr_has=["no worker 7"])
    r.case("drain_not_number", ["drain", "one"], EXIT_USAGE, [])

    # deploy sends the module's absolute path, resolved where turbinectl runs.
    module = os.path.join(tmp, "echo-v2.so")
    with open(module, "wb"):
        pass
    srv.answers["/turbine/deploy,echo,%s,2" % module] = {"ok": 1, "version": "2"}
    srv.answers["/turbine/deploy,echo,%s" % module] = {"ok": 0, "error": "init failed: boom"}
    r.case("deploy", ["deploy", "echo", "echo-v2.so", "--version", "2"], EXIT_OK,
           ["/turbine/deploy,echo,%s,2" % module], stdout_has=["version  2"], cwd=tmp)
    r.case("deploy_refused", ["deploy", "echo", module], EXIT_FAILED,
           ["/turbine/deploy,echo,%s" % module], stderr_has=["init failed: boom"])
    r.case("deploy_missing", ["deploy", "echo", "absent.so"], EXIT_USAGE, [], cwd=tmp,
           stderr_has=["absent.so"])
    r.case("version_not_deploy", ["stats", "--version", "2"], EXIT_USAGE, [])

    # Usage errors never reach the socket.
    r.case("help", ["--help"], EXIT_OK, [], stdout_has=["deploy FUNCTION MODULE_PATH"])
    r.case("no_command", [], EXIT_USAGE, [])
    r.case("unknown_command", ["frobnicate"], EXIT_USAGE, [])
    r.case("unknown_option", ["--bogus", "stats"], EXIT_USAGE, [])
    r.case("function_no_name", ["function"], EXIT_USAGE, [])
    r.case("stats_extra", ["stats", "more"], EXIT_USAGE, [])
    r.case("name_comma", ["function", "a,b"], EXIT_USAGE, [])
    r.case("raw_too_long", ["raw", "/" + "x" * 1100], EXIT_USAGE, [])
    r.case("bad_timeout", ["--timeout-ms", "0", "stats"], EXIT_USAGE, [])
    r.case("prefix_and_socket", ["-f", "x", "stats"], EXIT_USAGE, [])

    # -f finds the socket where EAL puts it for that file prefix.
    env = dict(os.environ, RUNTIME_DIRECTORY=tmp)
    prefixed = FakeTelemetry(os.path.join(tmp, "dpdk", "t1", "dpdk_telemetry.v2"))
    try:
        r.server = prefixed
        r.case("file_prefix", ["-f", "t1", "stats"], EXIT_OK, ["/turbine/stats"],
               socket=False, env=env)
        r.case("file_prefix_long", ["--file-prefix=t1", "drain", "1"], EXIT_OK,
               ["/turbine/drain,1"], socket=False, env=env)
    finally:
        prefixed.close()
        r.server = srv
    r.case("file_prefix_absent", ["-f", "t2", "stats"], EXIT_UNREACHABLE, socket=False, env=env,
           stderr_has=[os.path.join(tmp, "dpdk", "t2", "dpdk_telemetry.v2"), "--file-prefix"])

    # Unreachable, or not answering as telemetry does.
    r.case("no_socket", ["--socket", os.path.join(tmp, "absent"), "stats"], EXIT_UNREACHABLE,
           socket=False, stderr_has=[os.path.join(tmp, "absent"), "--file-prefix"])
    srv.close_at_once = True
    r.case("closed", ["stats"], EXIT_UNREACHABLE, [])
    srv.close_at_once = False
    srv.greeting = b"hello"
    r.case("not_telemetry", ["stats"], EXIT_UNREACHABLE, [], stderr_has=["not a DPDK telemetry"])
    srv.greeting = None
    srv.silent = True
    r.case("no_answer", ["--timeout-ms", "200", "stats"], EXIT_UNREACHABLE, ["/turbine/stats"],
           stderr_has=["within 200 ms"])
    srv.silent = False

    # Replies are read whole into max_output_len bytes, and one cut short is not taken as data.
    big = {"f%03d" % i: {"version": "1", "ready": 1} for i in range(150)}
    srv.answers["/turbine/functions"] = big
    r.case("reply_above_1024", ["--json", "functions"], EXIT_OK, ["/turbine/functions"],
           check=json_line(big))
    small = FakeTelemetry(os.path.join(tmp, "small.sock"), max_output_len=1024)
    small.answers["/turbine/functions"] = big
    try:
        r.server = small
        r.case("reply_truncated", ["functions"], EXIT_UNREACHABLE, ["/turbine/functions"],
               stderr_has=["longer than the 1024 bytes"])
    finally:
        small.close()
        r.server = srv


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    with tempfile.TemporaryDirectory(prefix="turbinectl-") as tmp:
        server = FakeTelemetry(os.path.join(tmp, "dpdk_telemetry.v2"))
        r = Runner(os.path.abspath(sys.argv[1]), server, tmp)
        try:
            cases(r, tmp)
        finally:
            server.close()
    print("%d passed, %d failed" % (r.count - r.failures, r.failures))
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
