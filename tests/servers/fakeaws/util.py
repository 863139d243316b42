"""Small helpers shared by the fake AWS services (standard library only)."""

import base64
import datetime
import hashlib
import itertools
import uuid
from xml.sax.saxutils import escape as _xml_escape

_request_counter = itertools.count(1)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso8601(dt):
    """2024-01-02T03:04:05Z: the format IMDS, ECS and STS use."""
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def in_seconds(seconds):
    return utcnow() + datetime.timedelta(seconds=seconds)


def epoch_millis(dt):
    return int(dt.timestamp()) * 1000


def request_id():
    return str(uuid.uuid4())


def next_serial():
    return next(_request_counter)


def derive(n, *parts, alphabet='b32'):
    """Deterministic string of n characters derived from parts."""
    digest = hashlib.sha256('\0'.join(str(p) for p in parts).encode()).digest()
    digest += hashlib.sha256(digest).digest()
    if alphabet == 'b32':
        text = base64.b32encode(digest).decode().rstrip('=')
    else:
        text = base64.b64encode(digest).decode().rstrip('=')
    return text[:n]


def derived_access_key(*parts):
    """ASIA + 16 upper-case characters, like a real temporary access key id."""
    return 'ASIA' + derive(16, 'akid', *parts)


def derived_secret(*parts):
    """40 characters of the base64 alphabet, like a real secret access key."""
    return derive(40, 'secret', *parts, alphabet='b64')


def xml_escape(text):
    return _xml_escape(str(text), {'"': '&quot;'})
