#!/usr/bin/python3
"""Differential test: mantle's SigV4 signer against botocore's, on random requests.

Generates requests from a seed (MANTLE_DIFF_SEED, default below; MANTLE_DIFF_CASES overrides the
count), signs each with botocore and with tests/driver_sigv4 (one process, all requests piped
through it), and requires identical canonical requests, strings to sign and signatures, and the
same Authorization / X-Amz-* headers or presigned URL.

Run by ctest with Debian's /usr/bin/python3 (python3-botocore 1.29.27); MANTLE_BUILD_DIR locates
the driver.

What is generated, and why some inputs are not:
- URLs are written the way a correct client sends them: path segments and query keys and values
  percent-encoded with upper-case hex, every byte but A-Z a-z 0-9 - . _ ~ (botocore's own
  serializers do the same). botocore keeps a URL's raw query pieces (and, for S3, the raw path)
  while mantle decodes and re-encodes them; the two agree exactly on canonically encoded input.
  Normal (non-S3) mode encodes the path again, so there non-canonical paths (raw sub-delimiters,
  lower-case hex) are generated too.
- No `a&&b` empty query pieces (botocore signs them as `=`, mantle skips them), and no empty path
  in S3 mode (botocore signs an empty line, mantle `/`).
- Presigning: botocore re-parses the query with parse_qs (repeated keys collapse to the first,
  `+` would become a space, invalid UTF-8 is replaced), so presigned requests get distinct keys and
  valid UTF-8; its presigner also moves a body into the query string, which is hidden from it here
  (mantle keeps the body and signs its hash).
- No `Date` header: botocore rewrites it and drops X-Amz-Date, mantle always uses X-Amz-Date and
  signs Date as an ordinary header.
- Header values hold no Unicode whitespace other than space and tab: botocore collapses with
  str.split() (which also splits on U+00A0, U+2003, ...), mantle and the SigV4 specification
  collapse spaces (and mantle tabs).
- A caller's X-Amz-Content-Sha256 is only sent without sign-body and unsigned-payload (botocore
  replaces it then, mantle keeps the caller's), never repeated and without surrounding blanks
  (botocore signs the raw value as the payload hash).
"""

import base64
import datetime
import difflib
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import types
from urllib.parse import quote, unquote_to_bytes, urlsplit

import botocore.auth as auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

DEFAULT_SEED = 20150830
DEFAULT_CASES = 1200

# Headers mantle never signs (mantle_sigv4_header_is_unsigned, plus Authorization). Debian's
# botocore 1.29.27 excludes only expect, user-agent and x-amzn-trace-id; newer releases add the
# hop-by-hop headers, and mantle also excludes accept-encoding (which transports rewrite).
# Extend botocore's list to ours so both sign the same headers.
MANTLE_UNSIGNED = [
    'accept-encoding', 'authorization', 'connection', 'expect', 'keep-alive',
    'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
    'upgrade', 'user-agent', 'x-amzn-trace-id',
]
for _name in MANTLE_UNSIGNED:
    if _name not in auth.SIGNED_HEADERS_BLACKLIST:
        auth.SIGNED_HEADERS_BLACKLIST.append(_name)


class _FrozenDatetime(datetime.datetime):
    """botocore signs at datetime.datetime.utcnow(); tests need a fixed signing time."""
    frozen = None

    @classmethod
    def utcnow(cls):
        return cls.frozen


auth.datetime = types.SimpleNamespace(datetime=_FrozenDatetime)


# ---- botocore signers, one per mantle mode ----

class _Recorder:
    """Keeps botocore's intermediate results for the comparison."""

    def canonical_request(self, request):
        self.rec_creq = super().canonical_request(request)
        return self.rec_creq

    def string_to_sign(self, request, canonical_request):
        self.rec_sts = super().string_to_sign(request, canonical_request)
        return self.rec_sts

    def signature(self, string_to_sign, request):
        self.rec_sig = super().signature(string_to_sign, request)
        return self.rec_sig


class _S3Path:
    """S3 rules (MANTLE_SIGV4_NO_NORMALIZE_PATH) without S3SigV4Auth's payload-header policy."""

    def _normalize_url_path(self, path):
        return path


class _SignBody:
    """MANTLE_SIGV4_SIGN_BODY: the signed X-Amz-Content-SHA256 header, as S3SigV4Auth adds it."""

    def _modify_request_before_signing(self, request):
        super()._modify_request_before_signing(request)
        if 'X-Amz-Content-SHA256' in request.headers:
            del request.headers['X-Amz-Content-SHA256']
        request.headers['X-Amz-Content-SHA256'] = self.payload(request)


class _UnsignedQuery:
    """Presigning with UNSIGNED-PAYLOAD (what S3SigV4QueryAuth.payload returns)."""

    def payload(self, request):
        return auth.UNSIGNED_PAYLOAD


class _KeepBody:
    """botocore's presigner moves a body into the query string (parsing it as JSON); mantle
    keeps the body and signs its hash. Hide the body from that one step."""

    def _modify_request_before_signing(self, request):
        data, request.data = request.data, b''
        try:
            super()._modify_request_before_signing(request)
        finally:
            request.data = data


def _signer_class(s3, sign_body, unsigned, presign):
    """The botocore class for a mantle mode: botocore's own where one exists, else botocore's
    class with the one documented difference mixed in."""
    if presign:  # mantle ignores sign_body when presigning
        if s3 and unsigned:
            bases = (_Recorder, _KeepBody, auth.S3SigV4QueryAuth)
        elif unsigned:
            bases = (_Recorder, _KeepBody, _UnsignedQuery, auth.SigV4QueryAuth)
        elif s3:
            bases = (_Recorder, _KeepBody, _S3Path, auth.SigV4QueryAuth)
        else:
            bases = (_Recorder, _KeepBody, auth.SigV4QueryAuth)
    elif s3:
        if unsigned or sign_body:  # unsigned: S3SigV4Auth with payload signing disabled
            bases = (_Recorder, auth.S3SigV4Auth)
        else:
            bases = (_Recorder, _S3Path, auth.SigV4Auth)
    else:
        if unsigned:  # SigV4Auth with payload_signing_enabled False (set on the request)
            bases = (_Recorder, auth.SigV4Auth)
        elif sign_body:
            bases = (_Recorder, _SignBody, auth.SigV4Auth)
        else:
            bases = (_Recorder, auth.SigV4Auth)
    return type('Oracle', bases, {})


def sign_botocore(case):
    flags = case['flags']
    s3, sign_body, unsigned = flags['s3'], flags['sign_body'], flags['unsigned']
    presign = case['presign']
    creds = Credentials(case['access_key'], case['secret_key'], case['token'])
    cls = _signer_class(s3, sign_body, unsigned, presign)
    if presign:
        signer = cls(creds, case['service'], case['region'], expires=presign)
    else:
        signer = cls(creds, case['service'], case['region'])
    body = base64.b64decode(case['body_b64'])
    request = AWSRequest(method=case['method'], url=case['url'], data=body)
    for name, value in case['headers']:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    if unsigned:
        request.context['payload_signing_enabled'] = False
        request.context['client_config'] = types.SimpleNamespace(
            s3={'payload_signing_enabled': False})
    _FrozenDatetime.frozen = datetime.datetime.fromtimestamp(
        case['time'], datetime.timezone.utc).replace(tzinfo=None)
    signer.add_auth(request)
    return signer, request


# ---- the generator ----

UNRESERVED = '-_.~'
SUB_DELIMS = "!$&'()*+,;=:@"
WORDS = ['a', 'b', 'model', 'responses', 'v1', 'openai', 'Chat', 'x-y_z~w', 'A.B', '0', '42',
         'photo.user', 'my-object']
UNICODE = ['ሴ', 'é', 'ß', '日本語', 'Ünïcødé', '😀', 'Ω≈ç√', 'ﬁ', '\u200b']
SPECIAL = [' ', '%', '/', '?', '#', '[', ']', '"', '<', '>', '\\', '^', '`', '{', '|', '}', '+',
           '&', '=', ';', ',', ':', '@', '!', '$', "'", '(', ')', '*', '%20', '%2F', '%25', '..',
           '.']


def enc(s):
    """What a correct client sends: every byte but the unreserved ones, upper-case hex."""
    return quote(s, safe=UNRESERVED)


def rand_text(rng, allow_slash=True, max_parts=4):
    parts = []
    for _ in range(rng.randint(1, max_parts)):
        k = rng.random()
        if k < 0.45:
            parts.append(rng.choice(WORDS))
        elif k < 0.65:
            parts.append(rng.choice(UNICODE))
        else:
            c = rng.choice(SPECIAL)
            if c == '/' and not allow_slash:
                c = '_'
            parts.append(c)
    return ''.join(parts)


def rand_segment_wire(rng, s3):
    """One path segment as it goes on the wire."""
    k = rng.random()
    if k < 0.08:
        return ''  # repeated slash
    if k < 0.14:
        return rng.choice(['.', '..'])
    if k < 0.20:  # raw bytes that are not UTF-8
        return ''.join('%%%02X' % rng.randint(0x80, 0xff) for _ in range(rng.randint(1, 3)))
    text = rand_text(rng)
    if not s3 and rng.random() < 0.15:
        # Normal mode encodes the path again, so a non-canonical wire path is fine too: raw
        # sub-delimiters and lower-case hex are encoded once more by both signers.
        return ''.join(c if c in SUB_DELIMS or c.isalnum() else enc(c) for c in text) + \
            rng.choice(['', '%2f', '%e1%88%b4', "!$'()*,;=:@+"])
    return enc(text)


def rand_path(rng, s3):
    if not s3 and rng.random() < 0.04:
        return ''  # no path at all: "https://host?x=1"
    if rng.random() < 0.08:
        return '/'
    segs = [rand_segment_wire(rng, s3) for _ in range(rng.randint(1, 6))]
    path = '/' + '/'.join(segs)
    if rng.random() < 0.25:
        path += '/'
    return path


def rand_query(rng, presign):
    """A query as the client sends it; presigned requests get distinct keys and valid UTF-8."""
    r = rng.random()
    if r < 0.25:
        return None
    if r < 0.30:
        return ''  # "?" with nothing after it
    pieces, used = [], set()
    keys = ['Param1', 'param1', 'Param2', 'a', 'A', 'b', 'ሴ', 'key with space', 'k=v', 'k&v',
            'x+y', '%', '~tilde', '-._~', 'Ünï', '']
    for _ in range(rng.randint(1, 8)):
        if rng.random() < 0.5:
            key = rng.choice(keys)
        else:
            key = rand_text(rng, max_parts=2)
        if presign:
            if key in used or key.lower().startswith('x-amz-'):
                continue
            used.add(key)
        ekey = enc(key)
        form = rng.random()
        if form < 0.12 and ekey:
            pieces.append(ekey)  # a key without '=' (not empty: that would be an empty piece)
        elif form < 0.25:
            pieces.append(ekey + '=')  # an empty value
        else:
            if not presign and rng.random() < 0.08:
                value = ''.join('%%%02X' % rng.randint(0x80, 0xff) for _ in range(2))
            else:
                value = enc(rand_text(rng, max_parts=3))
            pieces.append(ekey + '=' + value)
        if not presign and rng.random() < 0.2:
            pieces.append(pieces[-1])  # the same key (and value) again
    rng.shuffle(pieces)  # unsorted
    return '&'.join(pieces)


HOSTS = [
    ('https', 'example.amazonaws.com'),
    ('https', 'bedrock-mantle.us-east-1.api.aws'),
    ('https', 'EXAMPLE.Amazonaws.COM'),
    ('https', 'example.amazonaws.com:443'),
    ('https', 'example.amazonaws.com:8443'),
    ('https', 'example.amazonaws.com:80'),
    ('http', 'localhost:80'),
    ('http', 'localhost:8080'),
    ('http', '127.0.0.1'),
    ('http', '127.0.0.1:443'),
    ('https', '[::1]:8443'),
    ('https', '[2001:DB8::1]'),
    ('https', '[2001:db8::a:1]:443'),
    ('https', 'my_bucket.s3.amazonaws.com'),
]

PLAIN_NAMES = ['Content-Type', 'content-length', 'Accept', 'X-Stainless-Lang',
               'X-Stainless-Package-Version', 'x-stainless-retry-count', 'My-Header1',
               'X-MiXeD-CaSe', 'x-mixed-case', 'X-Custom', "x!#$%&'*+-.^_`|~y", 'ETag',
               'Cache-Control', 'X-Amz-Meta-Note', 'x-amz-target', 'OpenAI-Beta']
UNSIGNED_NAMES = ['User-Agent', 'Accept-Encoding', 'Connection', 'Expect', 'Keep-Alive', 'TE',
                  'Trailer', 'Transfer-Encoding', 'Upgrade', 'Proxy-Authorization',
                  'Proxy-Authenticate', 'X-Amzn-Trace-Id', 'Authorization']
VALUE_WORDS = ['application/json', 'value1', 'VALUE1', '"a   b   c"', 'gzip, deflate', 'python',
               '3.12.1', 'text/event-stream', 'é', '日本', 'k=v; q=0.9', '*/*', '0', '!#$%&*']


def rand_blanks(rng):
    return ''.join(rng.choice(' \t') for _ in range(rng.randint(1, 4)))


def rand_value(rng):
    k = rng.random()
    if k < 0.06:
        return ''
    if k < 0.10:
        return rand_blanks(rng)  # only whitespace
    parts = [rng.choice(VALUE_WORDS) for _ in range(rng.randint(1, 3))]
    v = ''
    for i, p in enumerate(parts):
        v += (rand_blanks(rng) if rng.random() < 0.5 else ' ') if i else ''
        v += p
    if rng.random() < 0.3:
        v = rand_blanks(rng) + v
    if rng.random() < 0.3:
        v = v + rand_blanks(rng)
    return v


def rand_headers(rng, host, presign, token, user_sha_ok, body):
    headers = []
    if rng.random() < 0.4:  # a Host header of the caller's (used in preference to the URL's)
        headers.append([rng.choice(['Host', 'host', 'HOST']),
                        rng.choice(['', ' ', '\t']) + host + rng.choice(['', ' '])])
    for _ in range(rng.randint(0, 7)):
        r = rng.random()
        if r < 0.55:
            name = rng.choice(PLAIN_NAMES)
            if rng.random() < 0.3:
                name = ''.join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
            value = str(len(body)) if name.lower() == 'content-length' else rand_value(rng)
        elif r < 0.75:
            name, value = rng.choice(UNSIGNED_NAMES), rand_value(rng)
        else:  # a repeated name, possibly in another case
            if not headers:
                continue
            name = headers[rng.randrange(len(headers))][0]
            if name.lower() in ('host', 'x-amz-content-sha256'):
                continue
            name = name.swapcase() if rng.random() < 0.5 else name
            value = rand_value(rng)
        headers.append([name, value])
    if not presign:
        # Replaced by both signers: the caller's X-Amz-Date, and the token header with a token.
        if rng.random() < 0.1:
            headers.append(['X-Amz-Date', '19990101T000000Z'])
        if token and rng.random() < 0.1:
            headers.append(['x-amz-security-token', 'stale-token'])
    if user_sha_ok and rng.random() < 0.12:
        headers.append(['X-Amz-Content-Sha256', rng.choice([
            hashlib.sha256(body).hexdigest(), 'UNSIGNED-PAYLOAD',
            'STREAMING-UNSIGNED-PAYLOAD-TRAILER', hashlib.sha256(b'other').hexdigest()])])
    rng.shuffle(headers)
    return headers


def rand_body(rng, index, large_at):
    if index in large_at:
        return bytes(rng.getrandbits(8) for _ in range(64)) * (1 << 14) + b'tail'  # > 1 MiB
    k = rng.random()
    if k < 0.35:
        return b''
    if k < 0.6:
        return json.dumps({'model': 'openai.gpt-oss-120b', 'input': rand_text(rng)},
                          ensure_ascii=False).encode()
    if k < 0.8:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2048)))  # binary
    return b'Param1=value1'


def rand_token(rng):
    alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    return ''.join(rng.choice(alphabet) for _ in range(rng.randint(16, 700))) + \
        rng.choice(['', '=', '=='])


def rand_secret(rng):
    alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    s = ''.join(rng.choice(alphabet) for _ in range(40))
    if rng.random() < 0.05:
        s += rng.choice(['é', ' ', '%', '日'])  # the key is the secret's UTF-8 bytes
    return s


REGIONS = ['us-east-1', 'us-west-2', 'eu-central-1', 'ap-southeast-2', 'us-gov-west-1', 'local',
           'cn-north-1']
SERVICES = ['bedrock-mantle', 'bedrock', 's3', 'execute-api', 'service', 'sts', 'a-1']
METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'get', 'Post', 'PROPFIND',
           'M-SEARCH']
# Signing times: random over 1970..2099 plus edges (leap days, new year, the epoch's first second).
EDGE_TIMES = [1, 951782400, 1440938160, 1709164800, 1735689599, 1735689600, 2147483647,
              2147483648, 4102444799]


def gen_case(rng, index, large_at):
    s3 = rng.random() < 0.3
    presign = rng.choice([1, 60, 3600, 86400, 604800]) if rng.random() < 0.3 else 0
    unsigned = rng.random() < 0.15
    sign_body = rng.random() < 0.35
    scheme, authority = rng.choice(HOSTS)
    host_for_header = authority.lower()
    path = rand_path(rng, s3)
    query = rand_query(rng, presign)
    url = f'{scheme}://{authority}{path}' + ('' if query is None else '?' + query)
    token = rand_token(rng) if rng.random() < 0.4 else None
    body = rand_body(rng, index, large_at)
    headers = rand_headers(rng, host_for_header, presign, token,
                           not sign_body and not unsigned, body)
    if rng.random() < 0.1:
        t = rng.choice(EDGE_TIMES)
    else:
        t = rng.randint(1, 4102444799)
    return {
        'method': rng.choice(METHODS),
        'url': url,
        'headers': headers,
        'body_b64': base64.b64encode(body).decode(),
        'access_key': rng.choice(['AKIDEXAMPLE', 'AKIA' + ''.join(
            rng.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(16))]),
        'secret_key': rng.choice(['wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', rand_secret(rng)]),
        'token': token,
        'region': rng.choice(REGIONS),
        'service': rng.choice(SERVICES),
        'time': t,
        'flags': {'s3': s3, 'sign_body': sign_body, 'unsigned': unsigned},
        'presign': presign,
    }


# ---- the comparison ----

def params_of(query):
    """Decoded (key, value) pairs, sorted: parameter order in a URL does not matter."""
    out = []
    for piece in query.split('&'):
        if not piece:
            continue
        k, _, v = piece.partition('=')
        out.append((unquote_to_bytes(k), unquote_to_bytes(v)))
    return sorted(out)


def compare(case, signer, request, got):
    """Returns a list of differences (empty when the two agree)."""
    diffs = []
    if 'error' in got:
        return [f'mantle refused the request: {got["error"]}']
    for what, ours, theirs in (('canonical request', got['canonical_request'], signer.rec_creq),
                               ('string to sign', got['string_to_sign'], signer.rec_sts),
                               ('signature', got['signature'], signer.rec_sig)):
        if ours != theirs:
            diffs.append(what)
    added = {}
    for name, value in got['headers']:
        added.setdefault(name.lower(), []).append(value)
    if case['presign']:
        if added:
            diffs.append(f'presigning added headers: {got["headers"]}')
        ours, theirs = urlsplit(got['url'] or ''), urlsplit(request.url)
        if (ours.scheme, ours.netloc, ours.path or '/') != \
                (theirs.scheme, theirs.netloc, theirs.path or '/'):
            diffs.append(f'presigned URL: {got["url"]!r} vs botocore {request.url!r}')
        elif params_of(ours.query) != params_of(theirs.query):
            diffs.append(f'presigned URL parameters: {got["url"]!r} vs botocore {request.url!r}')
    else:
        if got['url'] is not None:
            diffs.append('header signing produced a URL')
        for name in ('authorization', 'x-amz-date', 'x-amz-security-token'):
            theirs = request.headers.get_all(name) or []
            if added.get(name, []) != theirs:
                diffs.append(f'{name}: {added.get(name)} vs botocore {theirs}')
        # X-Amz-Content-SHA256: ours when we add one, else the caller's is left as it was.
        theirs = request.headers.get_all('x-amz-content-sha256') or []
        if 'x-amz-content-sha256' in added:
            if added['x-amz-content-sha256'] != theirs:
                diffs.append(f'x-amz-content-sha256: {added["x-amz-content-sha256"]} vs '
                             f'botocore {theirs}')
        else:
            caller = [v for n, v in case['headers'] if n.lower() == 'x-amz-content-sha256']
            if caller != theirs:
                diffs.append(f'x-amz-content-sha256: caller {caller} vs botocore {theirs}')
    return diffs


def describe(case):
    shown = dict(case)
    if len(shown['body_b64']) > 200:
        shown['body_b64'] = shown['body_b64'][:60] + f'... ({len(case["body_b64"])} chars)'
    return json.dumps(shown, ensure_ascii=False)


def main():
    seed = int(os.environ.get('MANTLE_DIFF_SEED', DEFAULT_SEED))
    count = int(os.environ.get('MANTLE_DIFF_CASES', DEFAULT_CASES))
    print(f'seed: {seed}', flush=True)
    started = time.monotonic()
    build = os.environ.get('MANTLE_BUILD_DIR')
    if not build:
        print('MANTLE_BUILD_DIR is not set')
        return 1
    driver = os.path.join(build, 'tests', 'driver_sigv4')
    if not os.access(driver, os.X_OK):
        print(f'driver not found: {driver}')
        return 1

    rng = random.Random(seed)
    large_at = set(rng.sample(range(count), min(4, count)))  # a few bodies over 1 MiB
    cases = [gen_case(rng, i, large_at) for i in range(count)]
    assert count >= 1000 or 'MANTLE_DIFF_CASES' in os.environ

    stdin = ''.join(json.dumps(c) + '\n' for c in cases).encode()
    proc = subprocess.run([driver], input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        print(f'driver exited with {proc.returncode}:\n{proc.stderr.decode(errors="replace")}')
        return 1
    lines = proc.stdout.decode().splitlines()
    if len(lines) != count:
        print(f'driver wrote {len(lines)} lines for {count} requests')
        return 1

    passed = failed = 0
    for index, (case, line) in enumerate(zip(cases, lines)):
        got = json.loads(line)
        signer, request = sign_botocore(case)
        diffs = compare(case, signer, request, got)
        if not diffs:
            passed += 1
            continue
        failed += 1
        if failed > 10:
            continue  # enough detail; keep counting
        print(f'MISMATCH seed={seed} case={index}: {"; ".join(diffs)}')
        print(f'request: {describe(case)}')
        ours = got.get('canonical_request') or ''
        print('--- mantle canonical request\n' + ours)
        print('--- botocore canonical request\n' + signer.rec_creq)
        print('--- diff')
        sys.stdout.writelines(difflib.unified_diff(
            signer.rec_creq.splitlines(True), ours.splitlines(True), 'botocore', 'mantle'))
        print()
    kinds = sum(1 for c in cases if c['presign'])
    print(f'{count} requests ({kinds} presigned, '
          f'{sum(1 for c in cases if c["flags"]["s3"])} S3), '
          f'{time.monotonic() - started:.1f} s')
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
