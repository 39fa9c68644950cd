"""turbine-gateway with the real aws CLI and boto3: Lambda's Invoke API, SigV4 tenants, Lambda's errors.

Turbine runs in its namespace as every integration test has it; turbine-gateway runs in the
client's namespace, listening on 127.0.0.1 there and forwarding over the veth to turbine's
address. The aws CLI (/usr/bin/aws, Debian's awscli) and boto3 (in this process, its sockets
made inside the client's namespace) call it with two access keys of two tenants:

- RequestResponse (echo, hello), Event (202), DryRun (204), --log-type Tail (the log decodes),
  a qualifier (Qualifier and name:qualifier), a function error (FunctionError Unhandled);
- an unknown function (ResourceNotFoundException), an unknown qualifier, a throttle (a function
  with reserved concurrency 1 held by a long call: TooManyRequestsException with its Reason),
  a wrong secret (InvalidSignatureException), an unknown key (UnrecognizedClientException),
  the other tenant's key on a function only the first may call (403 AccessDeniedException).

No configuration or credentials from $HOME reach the CLI: its files are empty ones of the test's.
The helpers here (Gateway, the credentials, the signed raw requests) serve test_gateway_load.py
and test_gateway_input.py too.
"""

import base64
import datetime
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import MODULES, log  # noqa: E402

TURBINE_GATEWAY = os.environ.get('TURBINE_GATEWAY', '')
# boto3 in this process reads no configuration of the machine's: no profile, no instance metadata.
for _name in ('AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'):
    os.environ[_name] = os.devnull
os.environ['AWS_EC2_METADATA_DISABLED'] = 'true'
for _name in ('AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL'):
    os.environ.pop(_name, None)
AWS = '/usr/bin/aws'
REGION = 'eu-west-3'
LCORES = '0@0,1@1'
READY_TIMEOUT = 10.0

ALPHA = ('AKIDALPHA0000000001', 'alphaSecret/Key+1', 'alpha')
BETA = ('AKIDBETA00000000002', 'betaSecret/Key+2', 'beta')

# The functions every gateway test serves. `private` only tenant alpha may call; `busy` takes
# one call at a time, so a long call held on it makes the next one 429.
FUNCTIONS = {
    'echo': MODULES['echo'],
    'hello': MODULES['hello'],
    'fail': MODULES['fail'],
    'counter': MODULES['counter'],
    'private': MODULES['echo'] + ',tenants=alpha',
    'busy': MODULES['spin'] + ',reserved_concurrency=1,timeout_ms=20000',
}


def write_credentials(path, keys=(ALPHA, BETA)):
    with open(path, 'w') as f:
        f.write('# written by test_gateway.py: ACCESS_KEY_ID SECRET_ACCESS_KEY TENANT\n\n')
        for k in keys:
            f.write('%s %s %s\n' % k)


class Gateway:
    """turbine-gateway in the bed's client namespace, on 127.0.0.1 and a port it picks."""

    def __init__(self, bed, credentials, args=()):
        self.bed = bed
        self.cmd = ['ip', 'netns', 'exec', bed.client_ns, TURBINE_GATEWAY, '--listen', '127.0.0.1:0',
                    '--to', '%s:%d' % (bed.turbine_ip, harness.SERVICE_PORT),
                    '--credentials', credentials] + list(args)
        self.proc = None
        self.out = []
        self.err = []
        self.port = None
        self.ready = threading.Event()
        self.readers = []
        bed.processes.append(self)

    def _read(self, stream, lines):
        for line in stream:
            lines.append(line.rstrip('\n'))
            if line.startswith('turbine-gateway: ready:'):
                self.port = int(line.split('127.0.0.1:')[1].split(',')[0])
                self.ready.set()
        self.ready.set()

    def start(self):
        log('starting: ' + ' '.join(self.cmd))
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors='replace')
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            t = threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            t.start()
            self.readers.append(t)
        self.ready.wait(READY_TIMEOUT)
        if self.port is None:
            self.kill()
            raise RuntimeError('turbine-gateway did not get ready:\n%s\n%s' %
                               ('\n'.join(self.out), '\n'.join(self.err)))
        log(self.out[0])
        return self

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def stop(self):
        """SIGTERM; the final counters it prints (None when it printed none)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        for t in self.readers:
            t.join(5)
        if self.err:
            log('turbine-gateway stderr:\n' + '\n'.join(self.err[-40:]))
        for line in self.out:
            if line.startswith('turbine-gateway: final '):
                log(line)
                return json.loads(line[len('turbine-gateway: final '):])
        log('no final line; stderr:\n' + '\n'.join(self.err[-20:]))
        return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        elif self.proc is not None and self.proc.returncode != 0:
            log('turbine-gateway exited %s; stderr:\n%s' % (self.proc.returncode, '\n'.join(self.err[-60:])))


def start_turbine(bed, functions=None, lcores=LCORES):
    """Turbine for the gateway tests. LCORES (a dispatcher and a worker) lets a call be refused
    429 while another holds `busy`; '0' (one lcore running every call, CPU 0) leaves CPU 1 to the
    gateway and its clients, so that a worker starved of its CPU is never taken out of dispatch."""
    t = bed.turbine(functions or FUNCTIONS, lcores=lcores)
    t.start()
    # The gateway listens on the namespace's loopback, which starts down.
    harness.run(['ip', '-n', bed.client_ns, 'link', 'set', 'lo', 'up'])
    return t


# ---------------------------------------------------------------- signed raw requests

def signed_headers(key, url, body, headers=None, when=None):
    """The headers botocore's SigV4 signer gives a POST of body to url (service lambda)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method='POST', url=url, data=body, headers=dict(headers or {}))
    auth = SigV4Auth(Credentials(key[0], key[1]), 'lambda', REGION)
    if when is None:
        auth.add_auth(req)
    else:
        # A signature made at another time: botocore reads the clock through datetime.
        import unittest.mock
        with unittest.mock.patch('botocore.auth.datetime') as dt:
            dt.datetime.utcnow.return_value = when
            dt.datetime.now.return_value = when
            dt.timezone = datetime.timezone
            auth.add_auth(req)
    return dict(req.headers.items())


def invoke_path(fn, qualifier=None):
    from urllib.parse import quote
    path = '/2015-03-31/functions/%s/invocations' % quote(fn, safe='')
    if qualifier is not None:
        path += '?Qualifier=' + quote(qualifier, safe='')
    return path


def raw_call(conn, port, key, fn, body, headers=None, qualifier=None, sign=True, when=None):
    """One POST on an http.client connection: (status, {lower-case header: value}, body bytes)."""
    path = invoke_path(fn, qualifier)
    hdrs = dict(headers or {})
    if sign:
        hdrs = signed_headers(key, 'http://127.0.0.1:%d%s' % (port, path), body, hdrs, when)
    conn.request('POST', path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def connection(bed, port, timeout=30):
    """An http.client connection whose socket is made inside the client namespace."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    with harness.in_netns(bed.client_ns):
        conn.connect()
    return conn


def hold_busy(bed, us):
    """Occupy `busy` (reserved concurrency 1) for us microseconds with a direct UDP call."""
    cl = bed.client()
    cl.send({'id': 77, 'fn': 'busy', 'tenant': 'alpha', 'event': {'us': us}})
    return cl


def released(c, cl, us):
    r = cl.recv(us / 1e6 + 10)
    c.ok(isinstance(r, dict) and r.get('status') == 200, 'the call that held busy finished', r)
    cl.close()


# ---------------------------------------------------------------- the aws CLI

class Cli:
    def __init__(self, bed, gw, tmp):
        self.bed = bed
        self.gw = gw
        self.tmp = tmp
        self.n = 0
        for name in ('config', 'credentials'):
            open(os.path.join(tmp, name), 'w').close()

    def invoke(self, key, fn, *args):
        """aws lambda invoke: (exit code, the printed JSON or None, the payload bytes, stderr)."""
        self.n += 1
        out = os.path.join(self.tmp, 'out-%d' % self.n)
        env = {
            'PATH': '/usr/bin:/bin', 'HOME': self.tmp, 'LANG': 'C.UTF-8',
            'AWS_ACCESS_KEY_ID': key[0], 'AWS_SECRET_ACCESS_KEY': key[1],
            'AWS_DEFAULT_REGION': REGION,
            'AWS_CONFIG_FILE': os.path.join(self.tmp, 'config'),
            'AWS_SHARED_CREDENTIALS_FILE': os.path.join(self.tmp, 'credentials'),
            'AWS_EC2_METADATA_DISABLED': 'true', 'AWS_MAX_ATTEMPTS': '1', 'AWS_RETRY_MODE': 'standard',
            'AWS_PAGER': '',
        }
        cmd = ['ip', 'netns', 'exec', self.bed.client_ns, AWS, 'lambda', 'invoke',
               '--endpoint-url', self.gw.url, '--cli-binary-format', 'raw-in-base64-out',
               '--function-name', fn] + list(args) + [out]
        p = harness.run(cmd, check=False, timeout=120, env=env)
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            doc = None
        payload = None
        if os.path.exists(out):
            with open(out, 'rb') as f:
                payload = f.read()
        return p.returncode, doc, payload, p.stderr


def cli_cases(c, bed, gw, tmp):
    cli = Cli(bed, gw, tmp)

    rc, doc, payload, err = cli.invoke(ALPHA, 'echo', '--payload', '{"hello": "world", "n": [1, 2]}')
    c.eq((rc, (doc or {}).get('StatusCode'), (doc or {}).get('ExecutedVersion')), (0, 200, '1'),
         'aws: RequestResponse echo: 200, version 1')
    c.eq(json.loads(payload or b'null'), {'hello': 'world', 'n': [1, 2]}, 'aws: echo returns the event')

    rc, doc, payload, err = cli.invoke(ALPHA, 'hello', '--payload', '{"name": "CLI"}')
    c.eq((rc, json.loads(payload or b'null')), (0, {'message': 'Hello, CLI!'}), 'aws: hello')

    rc, doc, payload, err = cli.invoke(ALPHA, 'echo', '--invocation-type', 'Event', '--payload', '{"e": 1}')
    c.eq((rc, (doc or {}).get('StatusCode'), err), (0, 202, ''), 'aws: Event is 202')

    rc, doc, payload, err = cli.invoke(ALPHA, 'echo', '--invocation-type', 'DryRun')
    c.eq((rc, (doc or {}).get('StatusCode'), err), (0, 204, ''), 'aws: DryRun is 204')

    rc, doc, payload, err = cli.invoke(ALPHA, 'counter', '--log-type', 'Tail')
    logs = base64.b64decode((doc or {}).get('LogResult', '')).decode(errors='replace')
    c.ok(rc == 0 and 'call ' in logs, 'aws: --log-type Tail: LogResult decodes to the handler\'s log',
         (rc, doc, err))

    rc, doc, payload, err = cli.invoke(ALPHA, 'echo', '--qualifier', '1', '--payload', '"q"')
    c.eq((rc, (doc or {}).get('ExecutedVersion'), payload), (0, '1', b'"q"'), 'aws: --qualifier 1')
    rc, doc, payload, err = cli.invoke(ALPHA, 'echo:$LATEST', '--payload', '2')
    c.eq((rc, payload), (0, b'2'), 'aws: echo:$LATEST')
    rc, doc, payload, err = cli.invoke(ALPHA, 'arn:aws:lambda:%s:123456789012:function:echo' % REGION,
                                       '--payload', '3')
    c.eq((rc, payload), (0, b'3'), 'aws: a function ARN')
    rc, doc, payload, err = cli.invoke(ALPHA, 'echo', '--qualifier', '9')
    c.ok(rc != 0 and 'ResourceNotFoundException' in err, 'aws: an unknown qualifier is ResourceNotFoundException',
         (rc, err))

    rc, doc, payload, err = cli.invoke(ALPHA, 'fail', '--payload', '{"type": "KeyError", "message": "k"}')
    c.eq((rc, (doc or {}).get('StatusCode'), (doc or {}).get('FunctionError')), (0, 200, 'Unhandled'),
         'aws: function error: FunctionError Unhandled')
    c.eq(json.loads(payload or b'null'), {'errorType': 'KeyError', 'errorMessage': 'k'},
         'aws: function error: the error object')

    rc, doc, payload, err = cli.invoke(ALPHA, 'nope')
    c.ok(rc != 0 and '(ResourceNotFoundException)' in err, 'aws: unknown function: ResourceNotFoundException',
         (rc, err))

    rc, doc, payload, err = cli.invoke((ALPHA[0], ALPHA[1] + 'x'), 'echo')
    c.ok(rc != 0 and '(InvalidSignatureException)' in err, 'aws: wrong secret: InvalidSignatureException',
         (rc, err))
    rc, doc, payload, err = cli.invoke(('AKIDUNKNOWN000000003', 'x'), 'echo')
    c.ok(rc != 0 and '(UnrecognizedClientException)' in err, 'aws: unknown key: UnrecognizedClientException',
         (rc, err))

    rc, doc, payload, err = cli.invoke(ALPHA, 'private', '--payload', '"mine"')
    c.eq((rc, payload), (0, b'"mine"'), 'aws: alpha may call private')
    rc, doc, payload, err = cli.invoke(BETA, 'private')
    c.ok(rc != 0 and '(AccessDeniedException)' in err, 'aws: beta on private: AccessDeniedException', (rc, err))

    # The CLI takes seconds to start: the holding call lasts well beyond that.
    us = 12000000
    cl = hold_busy(bed, us)
    time.sleep(0.3)
    rc, doc, payload, err = cli.invoke(ALPHA, 'busy', '--payload', '{"us": 1}')
    c.ok(rc != 0 and '(TooManyRequestsException)' in err, 'aws: throttled: TooManyRequestsException', (rc, err))
    released(c, cl, us)


# ---------------------------------------------------------------- boto3

def boto3_client(gw, key):
    import boto3
    from botocore.config import Config
    return boto3.session.Session().client(
        'lambda', endpoint_url=gw.url, region_name=REGION, aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        config=Config(retries={'max_attempts': 1, 'mode': 'standard'}, read_timeout=30))


def client_error(call):
    """Run call(); the botocore ClientError it raised (None when it did not raise)."""
    import botocore.exceptions
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e
    return None


def boto3_cases(c, bed, gw):
    with harness.in_netns(bed.client_ns):
        alpha = boto3_client(gw, ALPHA)
        beta = boto3_client(gw, BETA)

        r = alpha.invoke(FunctionName='echo', Payload=b'{"hello": "boto3"}')
        c.eq((r['StatusCode'], r.get('ExecutedVersion'), json.loads(r['Payload'].read())),
             (200, '1', {'hello': 'boto3'}), 'boto3: RequestResponse echo')
        rid = r['ResponseMetadata']['RequestId']
        c.ok(len(rid) == 36 and rid.count('-') == 4, 'boto3: x-amzn-RequestId is a UUID', rid)

        r = beta.invoke(FunctionName='hello', Payload=b'{"name": "boto3"}')
        c.eq(json.loads(r['Payload'].read()), {'message': 'Hello, boto3!'}, 'boto3: hello with the other key')

        r = alpha.invoke(FunctionName='echo', InvocationType='Event', Payload=b'{}')
        c.eq(r['StatusCode'], 202, 'boto3: Event is 202')
        r = alpha.invoke(FunctionName='echo', InvocationType='DryRun')
        c.eq(r['StatusCode'], 204, 'boto3: DryRun is 204')

        r = alpha.invoke(FunctionName='counter', LogType='Tail')
        c.ok('call ' in base64.b64decode(r.get('LogResult', '')).decode(errors='replace'),
             'boto3: LogType Tail: LogResult decodes to the handler\'s log', r.get('LogResult'))

        r = alpha.invoke(FunctionName='echo', Qualifier='1', Payload=b'[1]')
        c.eq((r.get('ExecutedVersion'), r['Payload'].read()), ('1', b'[1]'), 'boto3: Qualifier 1')
        r = alpha.invoke(FunctionName='echo:1', Payload=b'[2]', ClientContext=base64.b64encode(
            b'{"custom": {"app": "t"}}').decode())
        c.eq(r['Payload'].read(), b'[2]', 'boto3: echo:1 with a client context')

        r = alpha.invoke(FunctionName='fail', Payload=b'{"type": "ValueError", "message": "v"}')
        c.eq((r['StatusCode'], r.get('FunctionError'), json.loads(r['Payload'].read())),
             (200, 'Unhandled', {'errorType': 'ValueError', 'errorMessage': 'v'}), 'boto3: function error')

        try:
            alpha.invoke(FunctionName='nope')
            c.ok(False, 'boto3: unknown function raises ResourceNotFoundException')
        except alpha.exceptions.ResourceNotFoundException as e:
            c.eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
                 ('ResourceNotFoundException', 404), 'boto3: unknown function raises ResourceNotFoundException')
        try:
            alpha.invoke(FunctionName='echo', Qualifier='9')
            c.ok(False, 'boto3: unknown qualifier raises ResourceNotFoundException')
        except alpha.exceptions.ResourceNotFoundException:
            c.ok(True, 'boto3: unknown qualifier raises ResourceNotFoundException')

        us = 3000000
        cl = hold_busy(bed, us)
        time.sleep(0.3)
        try:
            alpha.invoke(FunctionName='busy', Payload=b'{"us": 1}')
            c.ok(False, 'boto3: throttled raises TooManyRequestsException')
        except alpha.exceptions.TooManyRequestsException as e:
            c.eq((e.response['ResponseMetadata']['HTTPStatusCode'], e.response.get('Reason')),
                 (429, 'ReservedFunctionConcurrentInvocationLimitExceeded'),
                 'boto3: throttled raises TooManyRequestsException with its Reason')
        released(c, cl, us)

        wrong = boto3_client(gw, (ALPHA[0], 'not-the-secret'))
        e = client_error(lambda: wrong.invoke(FunctionName='echo'))
        c.eq((e and e.response['Error']['Code'], e and e.response['ResponseMetadata']['HTTPStatusCode']),
             ('InvalidSignatureException', 403), 'boto3: wrong secret: 403 InvalidSignatureException')
        unknown = boto3_client(gw, ('AKIDUNKNOWN000000003', 'x'))
        e = client_error(lambda: unknown.invoke(FunctionName='echo'))
        c.eq((e and e.response['Error']['Code'], e and e.response['ResponseMetadata']['HTTPStatusCode']),
             ('UnrecognizedClientException', 403), 'boto3: unknown key: 403 UnrecognizedClientException')

        r = alpha.invoke(FunctionName='private', Payload=b'"a"')
        c.eq(r['Payload'].read(), b'"a"', 'boto3: alpha may call private')
        e = client_error(lambda: beta.invoke(FunctionName='private'))
        c.eq((e and e.response['Error']['Code'], e and e.response['ResponseMetadata']['HTTPStatusCode']),
             ('AccessDeniedException', 403), 'boto3: beta on private: 403 AccessDeniedException')


def body(c):
    with harness.Testbed('gateway', 60) as bed, tempfile.TemporaryDirectory(prefix='tb-gateway-') as tmp:
        start_turbine(bed)
        creds = os.path.join(tmp, 'credentials')
        write_credentials(creds)
        gw = Gateway(bed, creds).start()
        boto3_cases(c, bed, gw)
        cli_cases(c, bed, gw, tmp)
        final = gw.stop() or {}
        c.ok(final.get('answered', 0) > 0 and final.get('timeouts') == 0 and final.get('garbage') == 0,
             'the gateway answered from Turbine, no call timed out', final)


if __name__ == '__main__':
    harness.main('gateway', body, required=[harness.TURBINE, TURBINE_GATEWAY] + list(MODULES.values()))
