#!/usr/bin/python3
"""Self-test of tests/servers/fake_aws.py: every endpoint, every fault, the control
API, the process lifetime, botocore against the fakes, and Debian's AWS CLI
(/usr/bin/aws) pointed at them. Prints "N passed, M failed"; exits non-zero on failure.

Run (from the repository root): MANTLE_SOURCE_DIR=$PWD /usr/bin/python3 tests/test_fake_aws_servers.py
"""

import contextlib
import datetime
import hashlib
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from unittest import mock
from urllib.parse import parse_qs, urlencode

SRC = os.environ.get('MANTLE_SOURCE_DIR') or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
SERVERS_DIR = os.path.join(SRC, 'tests', 'servers')
SERVER = os.path.join(SERVERS_DIR, 'fake_aws.py')
PY = '/usr/bin/python3'
AWS = '/usr/bin/aws'
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, SERVERS_DIR)

import botocore.auth  # noqa: E402
import botocore.session  # noqa: E402
from botocore import UNSIGNED  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import ContainerProvider, Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from botocore.utils import ContainerMetadataFetcher, InstanceMetadataFetcher  # noqa: E402

from fakeaws import cli_support, util as fake_util  # noqa: E402

STS_NS = '{https://sts.amazonaws.com/doc/2011-06-15/}'
SRC_AK = 'AKIAFAKESOURCE000001'
SRC_SK = 'fakeSourceSecretAccessKey00000000000001'
ACCOUNT = '123456789012'
ISO_RE = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
TOTAL_BUDGET = 55  # seconds; ctest's own timeout is far larger

PASSED, FAILED = [], []
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Fail(AssertionError):
    pass


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail('%s: got %r, want %r' % (what, got, want))


# --------------------------------------------------------------------------- HTTP
NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode('utf-8', 'replace')

    def json(self):
        return json.loads(self.body)


def http(method, url, headers=None, body=None, timeout=5, opener=NO_PROXY_OPENER):
    if isinstance(body, str):
        body = body.encode()
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


class Server:
    """The fake_aws.py process, started exactly as the C tests start it."""

    def __init__(self, *args, stdin_watch=True, services='imds,ecs,sts,sso,proxy', lifetime=120):
        cmd = [PY, SERVER, '--services', services, '--lifetime', str(lifetime)]
        if stdin_watch:
            cmd.append('--stdin-watch')
        cmd += list(args)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        self.info = json.loads(self._first_line(10))
        self.urls = self.info

    def _first_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b''
        fd = self.proc.stdout.fileno()
        while b'\n' not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.kill()
                raise Fail('no startup line within %ss' % timeout)
            chunk = os.read(fd, 4096)
            if not chunk:
                raise Fail('server exited before its startup line: %s' % self.stderr_text())
            buf += chunk
        return buf.split(b'\n', 1)[0].decode()

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors='replace')[-2000:]

    def ctl(self, method, path, doc=None):
        body = json.dumps(doc).encode() if doc is not None else None
        r = http(method, self.info['control'] + path, {'Content-Type': 'application/json'}, body)
        return r.status, (json.loads(r.body) if r.body else None)

    def post(self, path, doc):
        status, out = self.ctl('POST', path, doc)
        expect(status == 200, 'control POST %s failed: %s %s' % (path, status, out))
        return out

    def reset(self):
        self.post('/reset', {})

    def faults(self, doc):
        self.post('/faults', doc)

    def config(self, doc):
        self.post('/config', doc)

    def requests(self, service=None):
        path = '/requests' + ('?service=' + service if service else '')
        return self.ctl('GET', path)[1]['requests']

    def close_stdin_and_wait(self, timeout):
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Fail('server did not exit within %ss of stdin EOF' % timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


S = None  # the shared server


@contextlib.contextmanager
def clean_env(**values):
    """os.environ without AWS_*/proxy variables, plus `values`, restored afterwards."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith('AWS_') or key.lower() in ('http_proxy', 'https_proxy', 'no_proxy',
                                                     'all_proxy'):
            del os.environ[key]
    os.environ['AWS_CONFIG_FILE'] = '/nonexistent/fake_aws/config'
    os.environ['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/fake_aws/credentials'
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def imds_fetcher(**kw):
    return InstanceMetadataFetcher(
        timeout=kw.pop('timeout', 2), num_attempts=kw.pop('num_attempts', 1),
        config={'ec2_metadata_service_endpoint': S.urls['imds']}, env={}, **kw)


def sts_client(ak=SRC_AK, sk=SRC_SK, token=None, endpoint=True, config=None, **kw):
    session = botocore.session.Session()
    cfg = Config(retries={'total_max_attempts': 1}, connect_timeout=3, read_timeout=5)
    if config is not None:
        cfg = cfg.merge(config)
    return session.create_client(
        'sts', region_name=kw.pop('region', 'us-east-1'),
        endpoint_url=S.urls['sts'] if endpoint else None,
        aws_access_key_id=ak, aws_secret_access_key=sk, aws_session_token=token,
        config=cfg, **kw)


def sso_client():
    session = botocore.session.Session()
    return session.create_client(
        'sso', region_name='us-east-1', endpoint_url=S.urls['sso'],
        config=Config(signature_version=UNSIGNED, retries={'total_max_attempts': 1}))


def client_error(fn):
    try:
        fn()
    except ClientError as e:
        return e
    raise Fail('expected a ClientError')


class _FixedDatetime:
    def __init__(self, when):
        self._when = when

    def utcnow(self):
        return self._when


def signed_sts(params, ak=SRC_AK, sk=SRC_SK, token=None, region='us-east-1', service='sts',
               when=None, tamper=None, host=None):
    """POST a SigV4-signed STS query request with urllib (so it can be tampered with)."""
    url = S.urls['sts'] + '/'
    body = urlencode(params)
    headers = {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'}
    if host:
        headers['Host'] = host
    req = AWSRequest(method='POST', url=url, data=body, headers=headers)
    auth = SigV4Auth(Credentials(ak, sk, token), service, region)
    if when is not None:
        fake_mod = types.SimpleNamespace(datetime=_FixedDatetime(when))
        with mock.patch.object(botocore.auth, 'datetime', fake_mod):
            auth.add_auth(req)
    else:
        auth.add_auth(req)
    headers = {k: v for k, v in req.headers.items()}
    if tamper:
        body = tamper(body)
    return http('POST', url, headers, body)


def sts_error(resp):
    root = ET.fromstring(resp.body)
    eq(root.tag, STS_NS + 'ErrorResponse', 'STS error root')
    err = root.find(STS_NS + 'Error')
    expect(root.find(STS_NS + 'RequestId').text, 'STS error lacks RequestId')
    return (err.find(STS_NS + 'Type').text, err.find(STS_NS + 'Code').text,
            err.find(STS_NS + 'Message').text)


def last(service, n=1):
    return S.requests(service)[-n]


# ===================================================================== startup
@test
def startup_line_and_control():
    for key in ('imds', 'ecs', 'sts', 'sso', 'proxy', 'control'):
        expect(S.urls[key].startswith('http://127.0.0.1:'), '%s URL %r' % (key, S.urls.get(key)))
    expect(os.path.isfile(S.info['ca_bundle']), 'ca_bundle file exists')
    eq(S.ctl('GET', '/health'), (200, {'ok': True}), 'GET /health')
    eq(S.ctl('GET', '/urls')[1]['sts'], S.urls['sts'], 'GET /urls')
    status, out = S.ctl('POST', '/faults', {'imds': {'stauts': 500}})
    expect(status == 400 and 'stauts' in out['error'], 'unknown fault key rejected: %s' % out)
    status, out = S.ctl('POST', '/faults', {'nosuch': {}})
    eq(status, 400, 'unknown fault service')
    status, out = S.ctl('POST', '/config', {'imds': {'rolename': 'x'}})
    eq(status, 400, 'unknown config key')
    status, out = S.ctl('POST', '/config', 'not an object')
    eq(status, 400, 'config must be an object')
    for port_key in ('imds', 'sts'):
        host = S.urls[port_key].split('//')[1].split(':')[0]
        eq(host, '127.0.0.1', 'bound to loopback')


@test
def startup_error_is_reported_as_json():
    p = subprocess.run([PY, SERVER, '--services', 'imds,bogus', '--lifetime', '5'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    eq(p.returncode, 2, 'exit code on a bad --services')
    expect('error' in json.loads(p.stdout.decode().splitlines()[0]), 'error line')


# ======================================================================== IMDS
@test
def imds_token_put_rules():
    S.reset()
    u = S.urls['imds'] + '/latest/api/token'
    r = http('PUT', u)
    eq(r.status, 400, 'PUT without TTL')
    expect('400 - Bad Request' in r.text and r.headers['Content-Type'] == 'text/html',
           'IMDS error page: %r' % r.text)
    for bad in ('0', '21601', 'abc', '-5'):
        eq(http('PUT', u, {'x-aws-ec2-metadata-token-ttl-seconds': bad}).status, 400, 'TTL ' + bad)
    eq(http('PUT', u, {'x-aws-ec2-metadata-token-ttl-seconds': '60',
                       'X-Forwarded-For': '1.2.3.4'}).status, 403, 'PUT via a proxy')
    eq(http('GET', u).status, 405, 'GET on the token path')
    r = http('PUT', u, {'x-aws-ec2-metadata-token-ttl-seconds': '21600'})
    eq(r.status, 200, 'PUT token')
    eq(r.headers['x-aws-ec2-metadata-token-ttl-seconds'], '21600', 'TTL echoed')
    expect(len(r.text) > 20, 'token looks like a token')


@test
def imds_v1_v2_documents():
    S.reset()
    base = S.urls['imds'] + '/latest/meta-data/iam/security-credentials/'
    r = http('GET', base)
    eq((r.status, r.text), (200, 'mantle-imds-role'), 'v1 role list')
    doc = http('GET', base + 'mantle-imds-role').json()
    eq(doc['Code'], 'Success', 'Code')
    eq(doc['Type'], 'AWS-HMAC', 'Type')
    eq(doc['AccessKeyId'], 'ASIAFAKEIMDS00000001', 'AccessKeyId')
    for k in ('SecretAccessKey', 'Token', 'LastUpdated', 'Expiration'):
        expect(k in doc, 'field ' + k)
    expect(parse_iso(doc['Expiration']) > now_utc() + datetime.timedelta(hours=5), 'Expiration')
    eq(http('GET', base + 'other-role').status, 404, 'unknown role')
    tok = http('PUT', S.urls['imds'] + '/latest/api/token',
               {'x-aws-ec2-metadata-token-ttl-seconds': '300'}).text
    r = http('GET', base, {'x-aws-ec2-metadata-token': tok})
    eq(r.status, 200, 'v2 GET')
    r = http('GET', base, {'x-aws-ec2-metadata-token': 'bogus'})
    eq(r.status, 401, 'invalid token')
    expect('401 - Unauthorized' in r.text, '401 page')
    eq(http('GET', S.urls['imds'] + '/latest/meta-data/placement/region').text, 'us-east-1',
       'region')
    eq(http('GET', S.urls['imds'] + '/latest/meta-data/placement/availability-zone/').text,
       'us-east-1a', 'availability zone')
    eq(http('GET', S.urls['imds'] + '/latest/dynamic/instance-identity/document').json()['region'],
       'us-east-1', 'identity document')
    eq(http('GET', S.urls['imds'] + '/latest/meta-data/nothing').status, 404, 'unknown path')
    eq([e['imds_auth'] for e in S.requests('imds') if 'imds_auth' in e][:2], ['v1', 'v1'],
       'request log marks v1')


@test
def imds_v2_only_mode():
    S.reset()
    S.config({'imds': {'require_token': True, 'role_name': 'v2-only-role'}})
    base = S.urls['imds'] + '/latest/meta-data/iam/security-credentials/'
    eq(http('GET', base).status, 401, 'v1 GET refused')
    creds = imds_fetcher().retrieve_iam_role_credentials()
    eq(creds.get('role_name'), 'v2-only-role', 'botocore used a token')
    log = S.requests('imds')
    eq([(e['method'], e['status']) for e in log],
       [('GET', 401), ('PUT', 200), ('GET', 200), ('GET', 200)], 'request sequence')
    expect('x-aws-ec2-metadata-token' in log[2]['headers'], 'token header sent')


@test
def imds_token_expiry():
    S.reset()
    base = S.urls['imds'] + '/latest/meta-data/iam/security-credentials/'
    tok_url = S.urls['imds'] + '/latest/api/token'
    tok = http('PUT', tok_url, {'x-aws-ec2-metadata-token-ttl-seconds': '1'}).text
    eq(http('GET', base, {'x-aws-ec2-metadata-token': tok}).status, 200, 'fresh token')
    tok2 = http('PUT', tok_url, {'x-aws-ec2-metadata-token-ttl-seconds': '300'}).text
    time.sleep(1.15)
    eq(http('GET', base, {'x-aws-ec2-metadata-token': tok}).status, 401, 'token after its TTL')
    eq(http('GET', base, {'x-aws-ec2-metadata-token': tok2}).status, 200, 'longer token')
    out = S.post('/imds/expire-tokens', {})
    expect(out['expired'] >= 2, 'expire-tokens count')
    eq(http('GET', base, {'x-aws-ec2-metadata-token': tok2}).status, 401, 'expired by control')
    S.config({'imds': {'token_ttl_override': 0}})
    r = http('PUT', tok_url, {'x-aws-ec2-metadata-token-ttl-seconds': '21600'})
    eq(r.headers['x-aws-ec2-metadata-token-ttl-seconds'], '0', 'override echoed')
    eq(http('GET', base, {'x-aws-ec2-metadata-token': r.text}).status, 401, 'TTL override 0')


@test
def imds_botocore_provider_via_env():
    S.reset()
    with clean_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=S.urls['imds']):
        creds = botocore.session.Session().get_credentials()
    expect(creds is not None, 'botocore found credentials')
    eq(creds.method, 'iam-role', 'provider')
    frozen = creds.get_frozen_credentials()
    eq((frozen.access_key, frozen.token), ('ASIAFAKEIMDS00000001', 'fake-imds-session-token-0001'),
       'credentials')
    log = S.requests('imds')
    eq(log[0]['method'], 'PUT', 'IMDSv2 token first')
    eq(log[0]['headers'].get('x-aws-ec2-metadata-token-ttl-seconds'), '21600', 'botocore TTL')


@test
def imds_fallback_to_v1():
    S.reset()
    for status in (403, 404, 405):
        S.faults({'imds': {'method': 'PUT', 'status': status}})
        creds = imds_fetcher().retrieve_iam_role_credentials()
        eq(creds.get('access_key'), 'ASIAFAKEIMDS00000001', 'v1 fallback after PUT %d' % status)
    log = S.requests('imds')
    eq(log[-1]['imds_auth'], 'v1', 'GET without token')
    eq(log[-3]['fault'], 'status', 'fault recorded')
    S.faults({'imds': {'method': 'PUT', 'status': 400}})
    eq(imds_fetcher().retrieve_iam_role_credentials(), {}, 'PUT 400 is terminal')
    S.faults({'imds': {'method': 'PUT', 'path_prefix': '/latest/api/token', 'hang': True}})
    t0 = time.monotonic()
    creds = imds_fetcher(timeout=0.4).retrieve_iam_role_credentials()
    eq(creds.get('access_key'), 'ASIAFAKEIMDS00000001', 'v1 after a token read timeout')
    expect(time.monotonic() - t0 < 3, 'read timeout honoured')


@test
def imds_status_and_fail_next():
    S.reset()
    S.faults({'imds': {'path_prefix': '/latest/meta-data/iam/security-credentials/mantle',
                       'status': 500}})
    eq(imds_fetcher().retrieve_iam_role_credentials(), {}, 'status 500 on the credentials')
    S.faults({'imds': {'method': 'GET', 'fail_next': 1, 'fail_status': 503}})
    eq(imds_fetcher(num_attempts=1).retrieve_iam_role_credentials(), {}, '1 attempt fails')
    S.faults({'imds': {'method': 'GET', 'fail_next': 2}})
    creds = imds_fetcher(num_attempts=3).retrieve_iam_role_credentials()
    eq(creds.get('access_key'), 'ASIAFAKEIMDS00000001', 'succeeds after 2 failures')
    statuses = [e['status'] for e in S.requests('imds') if e['method'] == 'GET']
    eq(statuses[-4:], [500, 500, 200, 200], 'fail_next sequence')
    eq(S.ctl('GET', '/faults')[1]['imds'][0]['remaining'], 0, 'remaining count')
    S.faults({'imds': {'throttle': True}})
    r = http('GET', S.urls['imds'] + '/latest/meta-data/iam/security-credentials/')
    expect(r.status == 429 and '429 - Too Many Requests' in r.text, 'throttle 429')


@test
def imds_body_faults():
    S.reset()
    url = S.urls['imds'] + '/latest/meta-data/iam/security-credentials/mantle-imds-role'
    S.faults({'imds': {'malformed': True}})
    try:
        http('GET', url).json()
        raise Fail('malformed body parsed')
    except ValueError:
        pass
    eq(imds_fetcher().retrieve_iam_role_credentials(), {}, 'botocore rejects malformed JSON')
    S.faults({'imds': {'missing_fields': ['Token']}})
    expect('Token' not in http('GET', url).json(), 'Token missing')
    eq(imds_fetcher().retrieve_iam_role_credentials(), {}, 'botocore needs Token')
    S.faults({'imds': {'body_code': 'AssumeRoleUnauthorizedAccess'}})
    doc = http('GET', url).json()
    expect(doc['Code'] == 'AssumeRoleUnauthorizedAccess' and 'Message' in doc, 'Code error doc')
    eq(imds_fetcher().retrieve_iam_role_credentials(), {}, 'botocore rejects a Code error')
    S.faults({'imds': {'empty_body': True}})
    r = http('GET', url)
    eq((r.status, r.body), (200, b''), 'empty body')
    S.faults({'imds': {'expired': True}})
    expect(parse_iso(http('GET', url).json()['Expiration']) < now_utc(), 'expired Expiration')
    creds = imds_fetcher().retrieve_iam_role_credentials()
    expect(parse_iso(creds['expiry_time']) > now_utc(),
           'botocore extends expired IMDS credentials (static stability)')


@test
def imds_delay_and_hang():
    S.reset()
    url = S.urls['imds'] + '/latest/meta-data/iam/security-credentials/'
    S.faults({'imds': {'delay': 0.3}})
    t0 = time.monotonic()
    eq(http('GET', url).status, 200, 'delayed answer')
    expect(time.monotonic() - t0 >= 0.3, 'delay honoured')
    S.faults({'imds': {'hang': True}})
    t0 = time.monotonic()
    try:
        http('GET', url, timeout=0.4)
        raise Fail('hang answered')
    except (socket.timeout, TimeoutError, urllib.error.URLError):
        pass
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not S.requests('imds')[-1].get('client_gone'):
        time.sleep(0.05)
    entry = S.requests('imds')[-1]
    expect(entry.get('client_gone') and entry['status'] is None,
           'hang ends when the client disconnects: %r' % entry)
    # A hang is released when its rule is cleared.
    result = {}
    th = threading.Thread(target=lambda: result.setdefault('r', http('GET', url, timeout=5)))
    th.start()
    time.sleep(0.3)
    expect('r' not in result, 'still hanging')
    S.faults({'imds': None})
    th.join(5)
    eq(result['r'].status, 200, 'released hang answers normally')


# ========================================================================= ECS
@test
def ecs_documents_and_auth():
    S.reset()
    url = S.urls['ecs'] + '/v2/credentials/abc'
    doc = http('GET', url).json()
    eq(doc['AccessKeyId'], 'ASIAFAKEECS000000001', 'AccessKeyId')
    eq(doc['AccountId'], ACCOUNT, 'AccountId')
    expect(parse_iso(doc['Expiration']) > now_utc(), 'Expiration in the future')
    S.config({'ecs': {'authorization': 'secret-auth-token', 'path': '/v2/credentials/abc',
                      'account_id': None, 'role_arn': 'arn:aws:iam::123456789012:role/task'}})
    r = http('GET', url)
    eq(r.status, 401, 'missing Authorization')
    expect('message' in r.json(), 'JSON error body')
    eq(http('GET', url, {'Authorization': 'wrong'}).status, 401, 'wrong Authorization')
    doc = http('GET', url, {'Authorization': 'secret-auth-token'}).json()
    expect('AccountId' not in doc and doc['RoleArn'].endswith(':role/task'), 'ECS style doc')
    eq(http('GET', S.urls['ecs'] + '/v2/credentials/other',
            {'Authorization': 'secret-auth-token'}).status, 404, 'other path')


@test
def ecs_botocore_container_provider():
    S.reset()
    S.config({'ecs': {'authorization': 'eks-pod-identity-token'}})
    env = {'AWS_CONTAINER_CREDENTIALS_FULL_URI': S.urls['ecs'] + '/v1/credentials',
           'AWS_CONTAINER_AUTHORIZATION_TOKEN': 'eks-pod-identity-token'}
    fetcher = ContainerMetadataFetcher(sleep=lambda s: None)
    creds = ContainerProvider(environ=env, fetcher=fetcher).load()
    frozen = creds.get_frozen_credentials()
    eq((frozen.access_key, frozen.token), ('ASIAFAKEECS000000001', 'fake-ecs-session-token-0001'),
       'credentials')
    entry = last('ecs')
    eq(entry['headers'].get('authorization'), 'eks-pod-identity-token', 'Authorization sent')
    eq(entry['headers'].get('accept'), 'application/json', 'Accept sent')
    eq(entry['path'], '/v1/credentials', 'path')
    S.faults({'ecs': {'fail_next': 2, 'fail_status': 500}})
    ContainerProvider(environ=env, fetcher=fetcher).load()  # 3 attempts: 2 fail, 1 works
    eq([e['status'] for e in S.requests('ecs')][-3:], [500, 500, 200], 'retried')
    S.faults({'ecs': {'fail_next': 3, 'fail_status': 503}})
    try:
        ContainerProvider(environ=env, fetcher=fetcher).load()
        raise Fail('3 failures should exhaust botocore')
    except Fail:
        raise
    except Exception as e:
        expect('503' in str(e), 'error mentions 503: %s' % e)


@test
def ecs_faults():
    S.reset()
    url = S.urls['ecs'] + '/creds'
    S.faults({'ecs': {'status': 503}})
    r = http('GET', url)
    expect(r.status == 503 and r.json()['code'] == 'ServiceUnavailable', 'status 503')
    S.faults({'ecs': {'throttle': True}})
    eq(http('GET', url).status, 429, 'throttle')
    S.faults({'ecs': {'malformed': True}})
    try:
        http('GET', url).json()
        raise Fail('malformed parsed')
    except ValueError:
        pass
    S.faults({'ecs': {'missing_fields': ['SecretAccessKey', 'Expiration']}})
    doc = http('GET', url).json()
    expect('SecretAccessKey' not in doc and 'Expiration' not in doc, 'fields missing')
    S.faults({'ecs': {'expired': True}})
    expect(parse_iso(http('GET', url).json()['Expiration']) < now_utc(), 'expired')
    S.faults({'ecs': {'delay': 0.25, 'status': 500, 'error_code': 'Boom', 'error_message': 'x'}})
    t0 = time.monotonic()
    r = http('GET', url)
    expect(time.monotonic() - t0 >= 0.25 and r.json() == {'code': 'Boom', 'message': 'x'},
           'delay + custom error')


# ========================================================================= STS
@test
def sts_assume_role_botocore():
    S.reset()
    arn = 'arn:aws:iam::210987654321:role/mantle/test-role'
    with clean_env():
        out = sts_client().assume_role(RoleArn=arn, RoleSessionName='sess-one',
                                       DurationSeconds=900, ExternalId='ext-123')
        again = sts_client().assume_role(RoleArn=arn, RoleSessionName='sess-two')
        other = sts_client().assume_role(RoleArn=arn + '2', RoleSessionName='sess-one')
    c = out['Credentials']
    eq(c['AccessKeyId'], fake_util.derived_access_key('sts', arn), 'AccessKeyId from RoleArn')
    eq(again['Credentials']['AccessKeyId'], c['AccessKeyId'], 'same role, same key id')
    expect(other['Credentials']['AccessKeyId'] != c['AccessKeyId'], 'other role, other key id')
    tok = parse_qs(c['SessionToken'].split(':', 1)[1])
    eq((tok['RoleArn'], tok['RoleSessionName'], tok['DurationSeconds'], tok['ExternalId']),
       ([arn], ['sess-one'], ['900'], ['ext-123']), 'token echoes the parameters')
    left = (c['Expiration'] - now_utc()).total_seconds()
    expect(840 < left <= 905, 'Expiration = now + DurationSeconds (%s)' % left)
    eq(out['AssumedRoleUser']['Arn'], 'arn:aws:sts::210987654321:assumed-role/test-role/sess-one',
       'AssumedRoleUser.Arn')
    expect(out['AssumedRoleUser']['AssumedRoleId'].endswith(':sess-one'), 'AssumedRoleId')
    expect(out['ResponseMetadata']['RequestId'], 'RequestId')
    entry = S.requests('sts')[0]
    expect(entry['sigv4']['valid'] and entry['sigv4']['region'] == 'us-east-1', 'signature ok')
    eq(entry['params']['Version'], '2011-06-15', 'query protocol')
    # The raw XML has the documented shape.
    r = signed_sts({'Action': 'AssumeRole', 'Version': '2011-06-15', 'RoleArn': arn,
                    'RoleSessionName': 'raw'})
    root = ET.fromstring(r.body)
    eq(root.tag, STS_NS + 'AssumeRoleResponse', 'root element')
    res = root.find(STS_NS + 'AssumeRoleResult')
    eq([ch.tag[len(STS_NS):] for ch in res.find(STS_NS + 'Credentials')],
       ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'], 'Credentials children')
    expect(res.find(STS_NS + 'AssumedRoleUser/' + STS_NS + 'Arn') is not None, 'AssumedRoleUser')
    expect(root.find(STS_NS + 'ResponseMetadata/' + STS_NS + 'RequestId').text, 'RequestId')
    eq(r.headers['Content-Type'], 'text/xml', 'content type')


@test
def sts_role_chaining_and_caller_identity():
    S.reset()
    with clean_env():
        first = sts_client().assume_role(RoleArn='arn:aws:iam::123456789012:role/first',
                                         RoleSessionName='a1')['Credentials']
        c2 = sts_client(first['AccessKeyId'], first['SecretAccessKey'], first['SessionToken'])
        second = c2.assume_role(RoleArn='arn:aws:iam::123456789012:role/second',
                                RoleSessionName='a2')['Credentials']
        who = c2.get_caller_identity()
        me = sts_client().get_caller_identity()
    tok = parse_qs(second['SessionToken'].split(':', 1)[1])
    eq(tok['Source'], [first['AccessKeyId']], 'chained from the first role')
    eq(who['Arn'], 'arn:aws:sts::123456789012:assumed-role/first/a1', 'GetCallerIdentity (role)')
    eq((me['Arn'], me['Account'], me['UserId']),
       ('arn:aws:iam::123456789012:user/mantle-test', ACCOUNT, SRC_AK), 'GetCallerIdentity (user)')
    with clean_env():
        e = client_error(lambda: sts_client(first['AccessKeyId'], first['SecretAccessKey'],
                                            'wrong-token').get_caller_identity())
    eq(e.response['Error']['Code'], 'InvalidClientTokenId', 'wrong session token')


@test
def sts_signature_rejected():
    S.reset()
    arn = 'arn:aws:iam::123456789012:role/x-role'
    with clean_env():
        e = client_error(lambda: sts_client(sk=SRC_SK + 'x').assume_role(
            RoleArn=arn, RoleSessionName='ss'))
    eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
       ('SignatureDoesNotMatch', 403), 'wrong secret')
    expect(last('sts')['sigv4']['canonical_request'], 'canonical request logged for debugging')
    with clean_env():
        e = client_error(lambda: sts_client(ak='AKIAUNKNOWN000000000').assume_role(
            RoleArn=arn, RoleSessionName='ss'))
    eq(e.response['Error']['Code'], 'InvalidClientTokenId', 'unknown key')
    params = {'Action': 'AssumeRole', 'Version': '2011-06-15', 'RoleArn': arn,
              'RoleSessionName': 'sess'}
    r = http('POST', S.urls['sts'] + '/', {'Content-Type': 'application/x-www-form-urlencoded'},
             urlencode(params))
    eq((r.status, sts_error(r)[:2]), (403, ('Sender', 'MissingAuthenticationToken')), 'unsigned')
    eq(signed_sts(params).status, 200, 'signed raw request accepted')
    r = signed_sts(params, tamper=lambda b: b.replace('x-role', 'y-role'))
    eq((r.status, sts_error(r)[1]), (403, 'SignatureDoesNotMatch'), 'tampered body')
    r = signed_sts(params, service='iam')
    eq((r.status, sts_error(r)[1]), (403, 'SignatureDoesNotMatch'), 'wrong service')
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    r = signed_sts(params, when=old)
    err = sts_error(r)
    expect(r.status == 403 and err[1] == 'SignatureDoesNotMatch' and
           err[2].startswith('Signature expired'), 'stale signature: %r' % (err,))
    future = datetime.datetime.utcnow() + datetime.timedelta(minutes=10)
    expect(sts_error(signed_sts(params, when=future))[2].startswith('Signature not yet current'),
           'future signature')


@test
def sts_validation_and_unknown_action():
    S.reset()
    base = {'Version': '2011-06-15', 'RoleArn': 'arn:aws:iam::123456789012:role/v-role'}
    cases = [
        (dict(base, Action='AssumeRole', RoleSessionName='s1', DurationSeconds='100'),
         400, 'ValidationError', 'durationSeconds'),
        (dict(base, Action='AssumeRole', RoleSessionName='s1', DurationSeconds='50000'),
         400, 'ValidationError', 'durationSeconds'),
        (dict(base, Action='AssumeRole'), 400, 'ValidationError', 'roleSessionName'),
        (dict(base, Action='AssumeRole', RoleSessionName='bad name!'),
         400, 'ValidationError', 'roleSessionName'),
        (dict(base, Action='DecodeNothing'), 400, 'InvalidAction', 'DecodeNothing'),
    ]
    for params, status, code, text in cases:
        r = signed_sts(params)
        err = sts_error(r)
        expect(r.status == status and err[1] == code and text in err[2],
               '%s -> %s %r' % (params, r.status, err))
    S.config({'sts': {'roles': ['arn:aws:iam::123456789012:role/allowed']}})
    r = signed_sts(dict(base, Action='AssumeRole', RoleSessionName='s1'))
    eq((r.status, sts_error(r)[1]), (403, 'AccessDenied'), 'role not in the allow-list')


@test
def sts_web_identity():
    S.reset()
    arn = 'arn:aws:iam::123456789012:role/web-role'
    with clean_env():
        c = sts_client(config=Config(signature_version=UNSIGNED))
        out = c.assume_role_with_web_identity(RoleArn=arn, RoleSessionName='web',
                                              WebIdentityToken='fake-web-identity-token')
        e = client_error(lambda: c.assume_role_with_web_identity(
            RoleArn=arn, RoleSessionName='web', WebIdentityToken='wrong'))
    eq(out['Credentials']['AccessKeyId'], fake_util.derived_access_key('sts', arn), 'key id')
    eq(parse_qs(out['Credentials']['SessionToken'].split(':', 1)[1])['Action'],
       ['AssumeRoleWithWebIdentity'], 'token names the action')
    eq(out['SubjectFromWebIdentityToken'], 'system:serviceaccount:default:mantle', 'subject')
    expect(out['Provider'] and out['Audience'], 'Provider and Audience')
    expect('authorization' not in S.requests('sts')[0]['headers'], 'sent unsigned')
    eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
       ('InvalidIdentityToken', 400), 'wrong token')


@test
def sts_faults():
    S.reset()
    arn = 'arn:aws:iam::123456789012:role/f-role'
    call = lambda **kw: sts_client(**kw).assume_role(RoleArn=arn, RoleSessionName='ff')  # noqa
    with clean_env():
        S.faults({'sts': {'throttle': True}})
        e = client_error(call)
        eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
           ('Throttling', 400), 'throttle (STS answers 400 Throttling)')
        S.faults({'sts': {'status': 429}})
        eq(client_error(call).response['Error']['Code'], 'Throttling', '429 Throttling')
        S.faults({'sts': {'status': 503}})
        e = client_error(call)
        eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
           ('ServiceUnavailable', 503), '503')
        S.faults({'sts': {'status': 500}})
        eq(client_error(call).response['Error']['Code'], 'InternalFailure', '500')
        S.faults({'sts': {'fail_next': 1, 'fail_status': 500}})
        out = call(config=Config(retries={'total_max_attempts': 2, 'mode': 'standard'}))
        expect(out['Credentials']['AccessKeyId'].startswith('ASIA'), 'retry succeeded')
        eq([x['status'] for x in S.requests('sts')][-2:], [500, 200], 'fail then succeed')
        S.faults({'sts': {'malformed': True}})
        try:
            call()
            raise Fail('malformed XML accepted')
        except Fail:
            raise
        except Exception as exc:
            expect('pars' in type(exc).__name__.lower() or 'pars' in str(exc).lower(),
                   'parse error: %r' % exc)
        S.faults({'sts': {'missing_fields': ['SessionToken']}})
        expect('SessionToken' not in call()['Credentials'], 'SessionToken missing')
        S.faults({'sts': {'expired': True}})
        expect(call()['Credentials']['Expiration'] < now_utc(), 'expired credentials')
        S.faults({'sts': {'action': 'AssumeRoleWithWebIdentity', 'status': 500}})
        eq(call()['AssumedRoleUser']['Arn'].split('/')[-1], 'ff', 'action filter spares AssumeRole')
        S.faults({'sts': {'delay': 0.3}})
        t0 = time.monotonic()
        call()
        expect(time.monotonic() - t0 >= 0.3, 'delay')
        S.faults({'sts': {'hang': True}})
        try:
            call(config=Config(read_timeout=0.4))
            raise Fail('hang answered')
        except Fail:
            raise
        except Exception as exc:
            expect('timeout' in str(exc).lower() or 'timed out' in str(exc).lower(),
                   'read timeout: %r' % exc)


# ========================================================================= SSO
@test
def sso_get_role_credentials():
    S.reset()
    with clean_env():
        c = sso_client()
        out = c.get_role_credentials(roleName='MantleSSORole', accountId=ACCOUNT,
                                     accessToken='fake-sso-access-token')
        rc = out['roleCredentials']
        eq(rc['accessKeyId'], fake_util.derived_access_key('sso', ACCOUNT, 'MantleSSORole'), 'key')
        expect(rc['expiration'] > time.time() * 1000 + 3000 * 1000, 'expiration in epoch millis')
        entry = last('sso')
        eq(entry['headers'].get('x-amz-sso_bearer_token'), 'fake-sso-access-token', 'token header')
        expect('account_id=123456789012' in entry['path'] and 'role_name=MantleSSORole' in
               entry['path'], 'query string')
        e = client_error(lambda: c.get_role_credentials(
            roleName='MantleSSORole', accountId=ACCOUNT, accessToken='wrong'))
        eq((e.response['Error']['Code'], e.response['Error']['Message'],
            e.response['ResponseMetadata']['HTTPStatusCode']),
           ('UnauthorizedException', 'Session token not found or invalid', 401), 'bad token')
        S.config({'sso': {'access_token_expired': True}})
        e = client_error(lambda: c.get_role_credentials(
            roleName='MantleSSORole', accountId=ACCOUNT, accessToken='fake-sso-access-token'))
        eq(e.response['Error']['Code'], 'UnauthorizedException', 'expired token')
        S.config({'sso': {'access_token_expired': False, 'account_id': '999999999999'}})
        e = client_error(lambda: c.get_role_credentials(
            roleName='MantleSSORole', accountId=ACCOUNT, accessToken='fake-sso-access-token'))
        eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
           ('ForbiddenException', 403), 'account not assigned')
    r = http('GET', S.urls['sso'] + '/federation/credentials?account_id=1&role_name=r',
             {'x-amz-sso_bearer_token': 'nope'})
    eq((r.status, r.json()), (401, {'message': 'Session token not found or invalid'}), 'raw 401')
    expect(r.headers['x-amzn-ErrorType'].startswith('UnauthorizedException:'), 'ErrorType header')


@test
def sso_faults():
    S.reset()
    with clean_env():
        c = sso_client()
        call = lambda: c.get_role_credentials(  # noqa: E731
            roleName='R', accountId=ACCOUNT, accessToken='fake-sso-access-token')
        S.faults({'sso': {'throttle': True}})
        e = client_error(call)
        eq((e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode']),
           ('TooManyRequestsException', 429), 'throttle')
        S.faults({'sso': {'missing_fields': ['secretAccessKey']}})
        expect('secretAccessKey' not in call()['roleCredentials'], 'field missing')
        S.faults({'sso': {'expired': True}})
        expect(call()['roleCredentials']['expiration'] < time.time() * 1000, 'expired')
        S.faults({'sso': {'malformed': True}})
        # botocore's rest-json parser swallows an unparsable body: no roleCredentials.
        expect('roleCredentials' not in call(), 'malformed JSON yields no credentials')
        r = http('GET', S.urls['sso'] + '/federation/credentials?account_id=1&role_name=r',
                 {'x-amz-sso_bearer_token': 'fake-sso-access-token'})
        try:
            r.json()
            raise Fail('malformed body parsed')
        except ValueError:
            pass
        S.faults({'sso': {'fail_next': 1, 'fail_status': 500}})
        eq(client_error(call).response['ResponseMetadata']['HTTPStatusCode'], 500, 'first fails')
        expect(call()['roleCredentials']['accessKeyId'], 'second works')


# ======================================================================= proxy
def proxy_opener():
    ctx = ssl.create_default_context(cafile=S.info['ca_bundle'])
    return urllib.request.build_opener(urllib.request.ProxyHandler({'https': S.urls['proxy']}),
                                       urllib.request.HTTPSHandler(context=ctx))


@test
def proxy_tls_routing():
    S.reset()
    op = proxy_opener()
    r = http('GET', 'https://portal.sso.eu-central-1.amazonaws.com/federation/credentials'
             '?account_id=123456789012&role_name=ViaProxy',
             {'x-amz-sso_bearer_token': 'fake-sso-access-token'}, opener=op)
    eq(r.status, 200, 'SSO through the proxy')
    e = last('sso')
    expect(e['tls'] and e['headers']['host'] == 'portal.sso.eu-central-1.amazonaws.com', 'TLS')
    try:
        http('GET', 'https://example.com/', opener=op, timeout=3)
        raise Fail('unrouted host tunnelled')
    except (urllib.error.URLError, OSError) as exc:
        expect('403' in str(exc), 'CONNECT refused with 403: %r' % exc)
    eq((last('proxy')['path'], last('proxy')['status']), ('example.com:443', 403), 'proxy log')
    eq(http('GET', S.urls['proxy'] + '/').status, 405, 'plain GET on the proxy')
    # botocore with its real endpoint, through the proxy, CA bundle from the fake.
    # (Debian's botocore 1.29 defaults to the global sts.amazonaws.com; the CLI v2 to regional.)
    with clean_env(AWS_STS_REGIONAL_ENDPOINTS='regional'):
        c = sts_client(endpoint=False, region='eu-west-1', verify=S.info['ca_bundle'],
                       config=Config(proxies={'https': S.urls['proxy']}))
        out = c.assume_role(RoleArn='arn:aws:iam::123456789012:role/proxied', RoleSessionName='pp')
    expect(out['Credentials']['AccessKeyId'].startswith('ASIA'), 'AssumeRole through proxy')
    e = last('sts')
    eq((e['headers']['host'], e['tls'], e['sigv4']['region']),
       ('sts.eu-west-1.amazonaws.com', True, 'eu-west-1'), 'regional endpoint, TLS, scope')
    # The scope region must match a regional host name (as on the real service).
    params = {'Action': 'GetCallerIdentity', 'Version': '2011-06-15'}
    r = signed_sts(params, region='us-west-2', host='sts.eu-west-1.amazonaws.com')
    eq((r.status, sts_error(r)[2].strip()),
       (403, 'Credential should be scoped to a valid region.'), 'scope region vs host')
    eq(signed_sts(params, region='eu-west-1', host='sts.eu-west-1.amazonaws.com').status, 200,
       'matching scope region')
    eq(signed_sts(params, region='us-east-1', host='sts.amazonaws.com').status, 200,
       'global endpoint is us-east-1')


# ===================================================================== AWS CLI
def run_aws(args, env_extra, home):
    env = {'PATH': '/usr/bin:/bin', 'HOME': home, 'LANG': 'C.UTF-8',
           'AWS_CONFIG_FILE': os.path.join(home, 'config'),
           'AWS_SHARED_CREDENTIALS_FILE': os.path.join(home, 'credentials'),
           'AWS_EC2_METADATA_DISABLED': 'true', 'AWS_PAGER': ''}
    env.update(env_extra)
    p = subprocess.run([AWS] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if p.returncode != 0:
        raise Fail('aws %s failed (%d): %s' % (' '.join(args), p.returncode,
                                               p.stderr.decode(errors='replace')[-1500:]))
    return json.loads(p.stdout)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


SOURCE_PROFILE = '''[profile src]
aws_access_key_id = %s
aws_secret_access_key = %s
[profile chained]
role_arn = arn:aws:iam::123456789012:role/mantle-cli-role
source_profile = src
role_session_name = cli-session
external_id = cli-external
duration_seconds = 1800
region = eu-west-1
''' % (SRC_AK, SRC_SK)


@test
def aws_cli_assume_role_via_proxy():
    S.reset()
    with tempfile.TemporaryDirectory() as home:
        write(os.path.join(home, 'config'), SOURCE_PROFILE)
        out = run_aws(['configure', 'export-credentials', '--profile', 'chained',
                       '--format', 'process'], cli_support.proxy_env(S.info), home)
    arn = 'arn:aws:iam::123456789012:role/mantle-cli-role'
    eq(out['Version'], 1, 'Version')
    eq(out['AccessKeyId'], fake_util.derived_access_key('sts', arn), 'fake STS key id')
    tok = parse_qs(out['SessionToken'].split(':', 1)[1])
    eq((tok['RoleSessionName'], tok['ExternalId'], tok['DurationSeconds'], tok['Source']),
       (['cli-session'], ['cli-external'], ['1800'], [SRC_AK]), 'profile keys reached STS')
    e = last('sts')
    eq((e['headers']['host'], e['tls'], e['sigv4'].get('valid')),
       ('sts.eu-west-1.amazonaws.com', True, True), 'CLI request')
    expect(e['headers']['user-agent'].startswith('aws-cli/2.9.19'), 'Debian CLI')


@test
def aws_cli_assume_role_via_data_path():
    S.reset()
    with tempfile.TemporaryDirectory() as home:
        write(os.path.join(home, 'config'), SOURCE_PROFILE)
        data = cli_support.write_endpoint_overrides(os.path.join(home, 'data'),
                                                    {'sts': S.urls['sts']})
        out = run_aws(['configure', 'export-credentials', '--profile', 'chained',
                       '--format', 'process'], {'AWS_DATA_PATH': data}, home)
    eq(out['AccessKeyId'],
       fake_util.derived_access_key('sts', 'arn:aws:iam::123456789012:role/mantle-cli-role'),
       'fake STS key id')
    e = last('sts')
    eq((e['headers']['host'], e['tls'], e['sigv4']['region']),
       (S.urls['sts'][len('http://'):], False, 'eu-west-1'), 'direct to the fake')


@test
def aws_cli_imds():
    S.reset()
    S.config({'imds': {'require_token': True}})
    with tempfile.TemporaryDirectory() as home:
        write(os.path.join(home, 'config'), '[default]\nregion = us-east-1\n')
        # The CLI's bundled botocore appends 'latest/...' without a '/': keep the slash.
        out = run_aws(['configure', 'export-credentials', '--format', 'process'],
                      {'AWS_EC2_METADATA_DISABLED': 'false',
                       'AWS_EC2_METADATA_SERVICE_ENDPOINT': S.urls['imds'] + '/'}, home)
    eq((out['AccessKeyId'], out['SessionToken']),
       ('ASIAFAKEIMDS00000001', 'fake-imds-session-token-0001'), 'IMDS credentials')
    eq([e['method'] for e in S.requests('imds')], ['PUT', 'GET', 'GET'], 'IMDSv2 sequence')


@test
def aws_cli_sso_and_web_identity_via_proxy():
    S.reset()
    start_url = 'https://mantle-test.awsapps.com/start'
    with tempfile.TemporaryDirectory() as home:
        write(os.path.join(home, 'config'),
              '[profile sso]\nsso_start_url = %s\nsso_region = us-east-1\n'
              'sso_account_id = 123456789012\nsso_role_name = MantleSSORole\n'
              'region = us-east-1\n' % start_url)
        expires = (now_utc() + datetime.timedelta(hours=8)).strftime('%Y-%m-%dT%H:%M:%SZ')
        write(os.path.join(home, '.aws', 'sso', 'cache',
                           hashlib.sha1(start_url.encode()).hexdigest() + '.json'),
              json.dumps({'startUrl': start_url, 'region': 'us-east-1',
                          'accessToken': 'fake-sso-access-token', 'expiresAt': expires}))
        out = run_aws(['configure', 'export-credentials', '--profile', 'sso', '--format',
                       'process'], cli_support.proxy_env(S.info), home)
        eq(out['AccessKeyId'], fake_util.derived_access_key('sso', ACCOUNT, 'MantleSSORole'),
           'SSO credentials')
        eq(last('sso')['headers']['host'], 'portal.sso.us-east-1.amazonaws.com', 'SSO host')
        token_file = os.path.join(home, 'web-token')
        write(token_file, 'fake-web-identity-token')
        env = dict(cli_support.proxy_env(S.info), AWS_WEB_IDENTITY_TOKEN_FILE=token_file,
                   AWS_ROLE_ARN='arn:aws:iam::123456789012:role/web-cli',
                   AWS_ROLE_SESSION_NAME='web-cli-session', AWS_DEFAULT_REGION='us-east-2')
        write(os.path.join(home, 'config'), '')
        out = run_aws(['configure', 'export-credentials', '--format', 'process'], env, home)
    tok = parse_qs(out['SessionToken'].split(':', 1)[1])
    eq((tok['Action'], tok['RoleSessionName']),
       (['AssumeRoleWithWebIdentity'], ['web-cli-session']), 'web identity through the CLI')
    eq(last('sts')['headers']['host'], 'sts.us-east-2.amazonaws.com', 'STS host')


# =================================================================== lifecycle
@test
def in_process_module():
    import fake_aws
    with fake_aws.start(services='imds,sts', lifetime=30) as fake:
        url = fake.urls['imds'] + '/latest/meta-data/iam/security-credentials/'
        eq(http('GET', url).text, 'mantle-imds-role', 'in-process IMDS')
        fake.set_faults({'imds': {'status': 500}})
        eq(http('GET', url).status, 500, 'in-process fault')
        fake.configure({'imds': {'role_name': 'other'}})
        fake.set_faults({'imds': None})
        eq(http('GET', url).text, 'other', 'in-process config')
        eq(len(fake.requests('imds')), 3, 'in-process request log')
        port = fake.servers['imds'].server_address[1]
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        raise Fail('port still open after stop()')
    except ConnectionRefusedError:
        pass


@test
def lifetime_state_file_config_and_fault_flags():
    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, 'state.json')
        cfg = os.path.join(tmp, 'config.json')
        write(cfg, json.dumps({'imds': {'role_name': 'from-file'},
                               'faults': {'ecs': {'status': 500}}}))
        t0 = time.monotonic()
        srv = Server('--state-file', state, '--config', cfg, '--fault',
                     'imds={"path_prefix": "/latest/meta-data/placement", "status": 503}',
                     stdin_watch=False, services='imds,ecs', lifetime=2)
        try:
            with open(state) as f:
                eq(json.load(f), srv.info, 'state file = startup line')
            base = srv.urls['imds'] + '/latest/meta-data/'
            eq(http('GET', base + 'iam/security-credentials/').text, 'from-file', '--config')
            eq(http('GET', base + 'placement/region').status, 503, '--fault')
            eq(http('GET', srv.urls['ecs'] + '/x').status, 500, 'faults in --config')
            rc = srv.proc.wait(6)
        except subprocess.TimeoutExpired:
            srv.kill()
            raise Fail('did not exit at the end of its lifetime')
        elapsed = time.monotonic() - t0
        eq(rc, 0, 'exit code')
        expect(1.5 <= elapsed < 6, 'exited after its lifetime (%.1fs)' % elapsed)
        try:
            socket.create_connection(('127.0.0.1', int(srv.urls['imds'].rsplit(':', 1)[1])),
                                     timeout=1).close()
            raise Fail('port still open')
        except ConnectionRefusedError:
            pass


@test
def shutdown_and_sigterm():
    srv = Server(services='imds', lifetime=60)
    eq(srv.ctl('POST', '/shutdown', {})[0], 200, 'POST /shutdown')
    eq(srv.proc.wait(5), 0, 'exit after /shutdown')
    srv = Server(services='sts', lifetime=60)
    srv.proc.send_signal(signal.SIGTERM)
    eq(srv.proc.wait(5), 0, 'exit after SIGTERM')


@test
def stdin_eof_stops_the_main_server():
    # Last test: the shared server must exit when its stdin closes.
    ca = S.info['ca_bundle']
    eq(S.close_stdin_and_wait(5), 0, 'exit code after stdin EOF')
    expect(not os.path.exists(ca), 'temporary TLS directory removed')


# ======================================================================== main
def main():
    global S

    def on_alarm(signum, frame):
        raise Fail('self-test exceeded its %ss budget' % TOTAL_BUDGET)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TOTAL_BUDGET)
    t0 = time.monotonic()
    try:
        S = Server()
    except Exception as exc:
        print('FAIL startup: %s' % exc)
        print('0 passed, 1 failed')
        return 1
    try:
        for fn in TESTS:
            t1 = time.monotonic()
            try:
                fn()
                PASSED.append(fn.__name__)
                print('ok   %-45s %.2fs' % (fn.__name__, time.monotonic() - t1), flush=True)
            except Exception as exc:
                FAILED.append(fn.__name__)
                print('FAIL %-45s %s' % (fn.__name__, exc), flush=True)
                if not isinstance(exc, Fail):
                    traceback.print_exc()
                if 'budget' in str(exc):
                    break
    finally:
        signal.alarm(0)
        S.kill()
        if FAILED:
            sys.stdout.write('server stderr (tail):\n%s\n' % S.stderr_text())
    print('total %.1fs' % (time.monotonic() - t0))
    print('%d passed, %d failed' % (len(PASSED), len(FAILED)))
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
