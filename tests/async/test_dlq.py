#!/usr/bin/python3
# turbine-dlq on a queue directory of real destination files: list, show, redrive, purge, -f.
"""Usage: test_dlq.py TURBINE_DLQ DLQ_FIXTURE FAKE_TELEMETRY_PY

Builds a queue directory whose dlq/ and success/ records are written by DLQ_FIXTURE (the
queue's own async_stored_pack and async_store_put), runs TURBINE_DLQ against it and checks
its output field by field, the files it leaves (redrive/ entries decoded here as the log's
ENQUEUE arrays), and its exit codes. -f is checked against FAKE_TELEMETRY_PY's server.
Needs no DPDK."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import msgpack

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE = 0, 1, 2, 64
ENTRY_ENQUEUE = 1
CONDITIONS = ["Success", "RetriesExhausted", "EventAgeExceeded"]

# 2026-11-27T09:30:00.250Z and a second later.
TS1 = 1795771800250999999
TS2 = TS1 + 1000000000

ERROR_BODY = {"errorType": "Boom", "errorMessage": "it failed"}

# event id -> what the fixture writes and what the record must say.
DLQ = {
    "0a000000-0000-4000-8000-000000000001": dict(
        tenant="acme", function="echo", qualifier="", condition=1, attempts=3, status=200,
        version="2", fn_error=True, ts=TS1, ts_text="2026-11-27T09:30:00.250Z",
        event={"hello": "world", "n": [1, 2, {"deep": None}], "f": 1.5, "t": True},
        response=ERROR_BODY, name_version="echo:2"),
    "0b000000-0000-4000-8000-000000000002": dict(
        tenant="default", function="resize", qualifier="prod", condition=2, attempts=0,
        status=0, version="", fn_error=False, ts=TS2, ts_text="2026-11-27T09:30:01.250Z",
        event=None, response=None, name_version="resize:prod"),
    "0c000000-0000-4000-8000-000000000003": dict(
        tenant="acme", function="echo", qualifier="", condition=1, attempts=1, status=200,
        version="1", fn_error=True, ts=TS1, ts_text="2026-11-27T09:30:00.250Z",
        event=[1, "two", 3], response="plain error text", name_version="echo:1"),
    # What JSON cannot say as such: bin as base64, a str that is not UTF-8, a key that is not a
    # str, a uint64 beyond int64, NaN.
    "0d000000-0000-4000-8000-000000000004": dict(
        tenant="acme", function="echo", qualifier="", condition=1, attempts=2, status=200,
        version="1", fn_error=True, ts=TS1, ts_text="2026-11-27T09:30:00.250Z",
        event_raw=(b"\x85" + msgpack.packb("bin") + msgpack.packb(b"\x00\xff", use_bin_type=True)
                   + msgpack.packb("bad") + b"\xa3a\xffb"
                   + msgpack.packb(1) + msgpack.packb("int key")
                   + msgpack.packb("big") + msgpack.packb(2**64 - 1)
                   + msgpack.packb("nan") + msgpack.packb(float("nan"))),
        event={"bin": "AP8=", "bad": "a\ufffdb", "1": "int key", "big": float(2**64 - 1),
               "nan": None},
        response=None, name_version="echo:1"),
}
SUCCESS = {
    "1a000000-0000-4000-8000-00000000000a": dict(
        tenant="acme", function="thumb", qualifier="", condition=0, attempts=1, status=200,
        version="5", fn_error=False, ts=TS1, ts_text="2026-11-27T09:30:00.250Z",
        event={"image": "a.png"}, response={"ok": True}, name_version="thumb:5"),
    "1b000000-0000-4000-8000-00000000000b": dict(
        tenant="beta", function="thumb", qualifier="v2", condition=0, attempts=2, status=200,
        version="7", fn_error=False, ts=TS2, ts_text="2026-11-27T09:30:01.250Z",
        event="just a string", response=None, name_version="thumb:7"),
}
UNKNOWN = "ffffffff-0000-4000-8000-00000000ffff"


def load_fake_telemetry(path):
    spec = importlib.util.spec_from_file_location("fake_telemetry", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def hexpack(value):
    return "" if value is None else msgpack.packb(value, use_bin_type=True).hex()


def write_record(fixture, qdir, kind, event_id, r):
    fn = r["function"] + (":" + r["qualifier"] if r["qualifier"] else "")
    subprocess.run([fixture, qdir, kind, event_id, r["tenant"], fn, str(r["condition"]),
                    str(r["attempts"]), str(r["status"]), r["version"],
                    "1" if r["fn_error"] else "0", str(r["ts"]),
                    r["event_raw"].hex() if "event_raw" in r else hexpack(r["event"]),
                    hexpack(r["response"])], check=True)


def populate(fixture, qdir):
    for event_id, r in DLQ.items():
        write_record(fixture, qdir, "dlq", event_id, r)
    for event_id, r in SUCCESS.items():
        write_record(fixture, qdir, "success", event_id, r)


def expected_json(event_id, r):
    """PROTOCOL.md's record as turbine-dlq prints it, with the tenant."""
    response_ctx = {"statusCode": r["status"],
                    "executedVersion": r["version"] if r["version"] else None}
    if r["fn_error"]:
        response_ctx["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": r["ts_text"],
        "requestContext": {"requestId": event_id, "function": r["name_version"],
                           "condition": CONDITIONS[r["condition"]],
                           "approximateInvokeCount": r["attempts"]},
        "requestPayload": r["event"],
        "responseContext": response_ctx,
        "responsePayload": r["response"],
        "tenant": r["tenant"],
    }


def names(qdir, folder):
    return sorted(os.listdir(os.path.join(qdir, folder)))


class Runner:
    def __init__(self, dlq):
        self.dlq = dlq
        self.failures = 0
        self.count = 0

    def case(self, name, args, code, stdout_has=(), stderr_has=(), check=None, env=None):
        argv = [self.dlq] + args
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
        problems = []
        if p.returncode != code:
            problems.append("exit %d, expected %d" % (p.returncode, code))
        for s in stdout_has:
            if s not in p.stdout:
                problems.append("stdout lacks %r" % s)
        for s in stderr_has:
            if s not in p.stderr:
                problems.append("stderr lacks %r" % s)
        if check is not None:
            try:
                problems += check(p)
            except Exception as e:  # a check that cannot even parse the output fails the case
                problems.append("check raised %r" % e)
        self.count += 1
        if problems:
            self.failures += 1
            print("FAIL %s: %s" % (name, "; ".join(problems)))
            print("  argv: %r\n  stdout: %r\n  stderr: %r" % (argv, p.stdout, p.stderr))
        else:
            print("ok   %s" % name)
        return p


def check_table(records):
    """A header and one row per record in id order: EVENT_ID FUNCTION CONDITION INVOKES TIMESTAMP."""
    def check(p):
        lines = p.stdout.splitlines()
        problems = []
        if not lines or lines[0].split() != ["EVENT_ID", "FUNCTION", "CONDITION", "INVOKES",
                                             "TIMESTAMP"]:
            return ["header %r" % (lines[:1],)]
        rows = [line.split() for line in lines[1:]]
        want = [[i, r["name_version"], CONDITIONS[r["condition"]], str(r["attempts"]),
                 r["ts_text"]] for i, r in sorted(records.items())]
        if rows != want:
            problems.append("rows %r, expected %r" % (rows, want))
        # Aligned: every row's columns start where the header's do.
        starts = [lines[0].index(h) for h in ("FUNCTION", "CONDITION", "TIMESTAMP")]
        for line, row in zip(lines[1:], rows):
            if [line.index(row[1]), line.index(row[2]), line.index(row[4])] != starts:
                problems.append("not aligned: %r" % line)
        return problems
    return check


def check_json_list(records):
    def check(p):
        lines = p.stdout.splitlines()
        if len(lines) != 1:
            return ["--json printed %d lines" % len(lines)]
        got = json.loads(lines[0])
        want = [expected_json(i, r) for i, r in sorted(records.items())]
        if not isinstance(got, list) or len(got) != len(want):
            return ["--json printed %r" % got]
        problems = []
        for g, w in zip(got, want):
            for key in w:
                if key not in g:
                    problems.append("%s: no %s" % (w["requestContext"]["requestId"], key))
                elif g[key] != w[key] or type(g[key]) is not type(w[key]):
                    problems.append("%s: %s is %r, expected %r" % (
                        w["requestContext"]["requestId"], key, g[key], w[key]))
            extra = set(g) - set(w)
            if extra:
                problems.append("extra fields %r" % extra)
            if "functionError" in g.get("responseContext", {}) and \
                    not w["responseContext"].get("functionError"):
                problems.append("functionError on a success")
        return problems
    return check


def check_show(event_id, r):
    def check(p):
        problems = []
        if len(p.stdout.splitlines()) < 10 or "\n  \"" not in p.stdout:
            problems.append("not indented JSON")
        got = json.loads(p.stdout)
        if got != expected_json(event_id, r):
            problems.append("printed %r" % got)
        return problems
    return check


def decode_redrive(qdir, event_id):
    with open(os.path.join(qdir, "redrive", event_id + ".mp"), "rb") as f:
        return msgpack.unpackb(f.read(), raw=False, strict_map_key=False)


def check_redriven(qdir, event_id, r, function, qualifier, before, after):
    """redrive/<id>.mp is an ENQUEUE entry: the same id and event, no tries, accepted now."""
    problems = []
    try:
        e = decode_redrive(qdir, event_id)
    except OSError as err:
        return ["no redrive file: %s" % err]
    if not isinstance(e, list) or len(e) != 11:
        return ["redrive entry is %r" % (e,)]
    (etype, eid, accepted, attempts, throttles, tenant, fn, qual, key, trace, event) = e
    if etype != ENTRY_ENQUEUE:
        problems.append("type %r" % etype)
    if eid != uuid.UUID(event_id).bytes:
        problems.append("id %r" % eid)
    if not before <= accepted <= after:
        problems.append("accepted_ns %r not in [%d, %d]" % (accepted, before, after))
    if (attempts, throttles) != (0, 0):
        problems.append("attempts/throttles %r/%r" % (attempts, throttles))
    if (tenant, fn, qual) != (r["tenant"], function, qualifier):
        problems.append("tenant/function/qualifier %r" % ((tenant, fn, qual),))
    if (key, trace) != (b"", ""):
        problems.append("key/trace %r" % ((key, trace),))
    if event != r["event"]:
        problems.append("event %r, expected %r" % (event, r["event"]))
    return problems


def cases(r, fixture, fake, tmp):
    qdir = os.path.join(tmp, "queue")
    populate(fixture, qdir)
    d = ["--dir", qdir]
    ids = sorted(DLQ)

    # Reading.
    r.case("list", d + ["list"], EXIT_OK, check=check_table(DLQ))
    r.case("list_json", d + ["list", "--json"], EXIT_OK, check=check_json_list(DLQ))
    r.case("list_json_first", ["--json"] + d + ["list"], EXIT_OK, check=check_json_list(DLQ))
    r.case("list_success", d + ["--success", "list"], EXIT_OK, check=check_table(SUCCESS))
    r.case("list_success_json", d + ["list", "--json", "--success"], EXIT_OK,
           check=check_json_list(SUCCESS))
    for event_id in ids:
        r.case("show_" + event_id[:2], d + ["show", event_id], EXIT_OK,
               check=check_show(event_id, DLQ[event_id]))
    sid = sorted(SUCCESS)[1]
    r.case("show_success", d + ["--success", "show", sid], EXIT_OK,
           check=check_show(sid, SUCCESS[sid]))
    r.case("show_upper_case", d + ["show", ids[0].upper()], EXIT_OK,
           check=check_show(ids[0], DLQ[ids[0]]))
    r.case("show_unknown", d + ["show", UNKNOWN], EXIT_FAILED,
           stderr_has=["event " + UNKNOWN, os.path.join(qdir, "dlq")],
           check=lambda p: [] if p.stdout == "" else ["printed %r" % p.stdout])
    r.case("show_wrong_folder", d + ["show", sid], EXIT_FAILED, stderr_has=[sid])

    # A file that is not a record is named, the others still listed.
    bad = "0f000000-0000-4000-8000-0000000000ff"
    with open(os.path.join(qdir, "dlq", bad + ".mp"), "wb") as f:
        f.write(b"\x93\x01\x02")
    r.case("list_bad_file", d + ["list"], EXIT_FAILED,
           stderr_has=[bad + ".mp", "not a destination record"], check=check_table(DLQ))
    r.case("show_bad_file", d + ["show", bad], EXIT_FAILED,
           stderr_has=[bad + ".mp", "not a destination record"])
    # A record under another event's name is not taken for it.
    os.rename(os.path.join(qdir, "dlq", bad + ".mp"), os.path.join(tmp, "bad.mp"))
    os.link(os.path.join(qdir, "dlq", ids[0] + ".mp"), os.path.join(qdir, "dlq", bad + ".mp"))
    r.case("show_renamed_file", d + ["show", bad], EXIT_FAILED, stderr_has=["another event"])
    os.unlink(os.path.join(qdir, "dlq", bad + ".mp"))

    # Redrive: the entry in redrive/, the record gone from dlq/.
    before = time.time_ns()
    r.case("redrive", d + ["redrive", ids[0]], EXIT_OK,
           stdout_has=[ids[0] + " redriven to echo"])
    after = time.time_ns()
    problems = check_redriven(qdir, ids[0], DLQ[ids[0]], "echo", "", before, after)
    if ids[0] + ".mp" in names(qdir, "dlq"):
        problems.append("the DLQ file is still there")
    report(r, "redrive_files", problems)
    r.case("show_redriven", d + ["show", ids[0]], EXIT_FAILED, stderr_has=[ids[0]])
    r.case("list_after_redrive", d + ["list", "--json"], EXIT_OK,
           check=check_json_list({i: DLQ[i] for i in ids[1:]}))

    # One unknown among several: an error naming it, and nothing changes.
    r.case("redrive_unknown", d + ["redrive", ids[1], UNKNOWN], EXIT_FAILED,
           stderr_has=["event " + UNKNOWN])
    report(r, "redrive_unknown_files",
           [] if names(qdir, "dlq") == [i + ".mp" for i in ids[1:]] and
           names(qdir, "redrive") == [ids[0] + ".mp"] else
           ["dlq %r, redrive %r" % (names(qdir, "dlq"), names(qdir, "redrive"))])

    # --to: another function, and its qualifier; the event keeps its qualifier otherwise.
    before = time.time_ns()
    r.case("redrive_to", d + ["redrive", "--to", "other:live", ids[1]], EXIT_OK,
           stdout_has=[ids[1] + " redriven to other:live"])
    report(r, "redrive_to_files",
           check_redriven(qdir, ids[1], DLQ[ids[1]], "other", "live", before, time.time_ns()))
    before = time.time_ns()
    r.case("redrive_keeps_qualifier", d + ["--success", "redrive", sorted(SUCCESS)[1]], EXIT_OK,
           stdout_has=["redriven to thumb:v2"])
    report(r, "redrive_keeps_qualifier_files",
           check_redriven(qdir, sorted(SUCCESS)[1], SUCCESS[sorted(SUCCESS)[1]], "thumb", "v2",
                          before, time.time_ns()))

    # --all, here over the success log: every record goes, each as its own entry.
    populate(fixture, qdir)
    before = time.time_ns()
    r.case("redrive_all_success", d + ["--success", "redrive", "--all", "--to", "sink"], EXIT_OK,
           stdout_has=[i + " redriven to sink" for i in SUCCESS])
    problems = []
    for i, rec in SUCCESS.items():
        problems += check_redriven(qdir, i, rec, "sink", "", before, time.time_ns())
    if names(qdir, "success"):
        problems.append("success/ still holds %r" % names(qdir, "success"))
    if len(names(qdir, "dlq")) != len(DLQ):
        problems.append("dlq/ changed: %r" % names(qdir, "dlq"))
    report(r, "redrive_all_success_files", problems)
    r.case("redrive_all_empty", d + ["--success", "redrive", "--all"], EXIT_OK,
           check=lambda p: [] if p.stdout == "" else ["printed %r" % p.stdout])

    # Purge: one, then an unknown among known ones (nothing goes), then --all.
    r.case("purge", d + ["purge", ids[0]], EXIT_OK, stdout_has=[ids[0] + " purged"])
    report(r, "purge_files", [] if ids[0] + ".mp" not in names(qdir, "dlq") else ["still there"])
    r.case("purge_unknown", d + ["purge", ids[1], UNKNOWN], EXIT_FAILED,
           stderr_has=["event " + UNKNOWN])
    report(r, "purge_unknown_files",
           [] if ids[1] + ".mp" in names(qdir, "dlq") else ["a known one went"])
    # Temporary files of a writer at work are neither listed nor purged.
    tmpfile = os.path.join(qdir, "dlq", "." + ids[2] + ".Xy12Ab")
    with open(tmpfile, "wb") as f:
        f.write(b"partial")
    r.case("purge_all", d + ["purge", "--all"], EXIT_OK,
           stdout_has=[i + " purged" for i in ids[1:]])
    report(r, "purge_all_files",
           [] if names(qdir, "dlq") == [os.path.basename(tmpfile)] else
           ["dlq/ holds %r" % names(qdir, "dlq")])
    r.case("list_empty", d + ["list"], EXIT_OK,
           check=lambda p: [] if p.stdout == "" else ["printed %r" % p.stdout])
    r.case("list_empty_json", d + ["list", "--json"], EXIT_OK,
           check=lambda p: [] if json.loads(p.stdout) == [] else ["printed %r" % p.stdout])
    r.case("no_folder", ["--dir", os.path.join(tmp, "absent"), "list"], EXIT_FAILED,
           stderr_has=[os.path.join(tmp, "absent", "dlq")])

    # Usage errors: exit 64, nothing touched.
    populate(fixture, qdir)
    for name, args in [
            ("no_command", d),
            ("unknown_command", d + ["frobnicate"]),
            ("unknown_option", d + ["--bogus", "list"]),
            ("list_extra", d + ["list", ids[0]]),
            ("show_no_id", d + ["show"]),
            ("show_two_ids", d + ["show", ids[0], ids[1]]),
            ("show_json", d + ["show", "--json", ids[0]]),
            ("show_all", d + ["show", "--all"]),
            ("bad_id", d + ["show", "0a000000-0000-4000-8000-00000000000"]),
            ("bad_id_chars", d + ["purge", "0a000000-0000-4000-8000-00000000000g"]),
            ("bad_id_among", d + ["purge", ids[0], "nope"]),
            ("redrive_nothing", d + ["redrive"]),
            ("redrive_ids_and_all", d + ["redrive", "--all", ids[0]]),
            ("purge_nothing", d + ["purge"]),
            ("purge_to", d + ["purge", "--to", "x", ids[0]]),
            ("list_all", d + ["list", "--all"]),
            ("list_to", d + ["list", "--to", "x"]),
            ("to_bad_name", d + ["redrive", "--to", "a/b", ids[0]]),
            ("to_bad_qualifier", d + ["redrive", "--to", "a:", ids[0]]),
            ("to_long_name", d + ["redrive", "--to", "n" * 65, ids[0]]),
            ("dir_and_prefix", d + ["-f", "p", "list"]),
            ("prefix_slash", ["-f", "a/b", "list"]),
            ("dir_empty", ["--dir", "", "list"]),
            ("dir_missing_arg", ["list", "--dir"]),
            ]:
        r.case("usage_" + name, args, EXIT_USAGE, stderr_has=["turbine-dlq: "])
    report(r, "usage_changed_nothing",
           [] if len(names(qdir, "dlq")) == len(DLQ) + 1 else ["dlq/ holds %r" % names(qdir, "dlq")])
    r.case("help", ["--help"], EXIT_OK,
           stdout_has=["list [--json]", "show EVENT_ID", "redrive [--to FUNCTION] EVENT_ID... | --all",
                       "purge EVENT_ID... | --all", "--success", "--dir DIR", "--file-prefix",
                       "/var/lib/turbine", "/turbine/async", "Exit status", "64"])

    # -f: a running turbine's telemetry names the directory.
    env = dict(os.environ, RUNTIME_DIRECTORY=tmp)
    srv = fake.FakeTelemetry(os.path.join(tmp, "dpdk", "t1", "dpdk_telemetry.v2"))
    try:
        srv.answers = {"/turbine/async": {"backend": "local", "dir": qdir, "depth": 0}}
        srv.requests.clear()
        r.case("prefix_telemetry", ["-f", "t1", "list", "--json"], EXIT_OK, env=env,
               check=check_json_list(DLQ))
        report(r, "prefix_telemetry_request",
               [] if srv.requests == ["/turbine/async"] else ["sent %r" % srv.requests])
        r.case("prefix_telemetry_long", ["--file-prefix=t1", "show", ids[2]], EXIT_OK, env=env,
               check=check_show(ids[2], DLQ[ids[2]]))
        srv.answers = {}
        r.case("prefix_telemetry_null", ["-f", "t1", "list"], EXIT_FAILED, env=env,
               stderr_has=["/turbine/async", "--dir"])
        srv.answers = {"/turbine/async": {"backend": "local"}}
        r.case("prefix_telemetry_no_dir", ["-f", "t1", "list"], EXIT_FAILED, env=env,
               stderr_has=["\"dir\""])
        srv.answers = {"/turbine/async": {"dir": qdir}}
        srv.greeting = b"hello"
        r.case("prefix_not_telemetry", ["-f", "t1", "list"], EXIT_UNREACHABLE, env=env,
               stderr_has=["not a DPDK telemetry"])
    finally:
        srv.close()
    # Nothing runs with the prefix (no socket, or one nobody listens on): the default place.
    absent = "dlq-test-%d" % os.getpid()
    r.case("prefix_not_running", ["-f", absent, "list"], EXIT_FAILED, env=env,
           stderr_has=["/var/lib/turbine/%s/dlq" % absent])
    stale = os.path.join(tmp, "dpdk", absent + "-stale", "dpdk_telemetry.v2")
    os.makedirs(os.path.dirname(stale))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(stale)
    try:
        r.case("prefix_stale_socket", ["-f", absent + "-stale", "--success", "list"], EXIT_FAILED,
               env=env, stderr_has=["/var/lib/turbine/%s-stale/success" % absent])
    finally:
        s.close()


def report(r, name, problems):
    r.count += 1
    if problems:
        r.failures += 1
        print("FAIL %s: %s" % (name, "; ".join(problems)))
    else:
        print("ok   %s" % name)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 64
    dlq, fixture = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    fake = load_fake_telemetry(sys.argv[3])
    r = Runner(dlq)
    with tempfile.TemporaryDirectory(prefix="turbine-dlq-") as tmp:
        cases(r, fixture, fake, tmp)
    print("%d passed, %d failed" % (r.count - r.failures, r.failures))
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
