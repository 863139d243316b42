"""Base request handler: body reading, request log, the fault pipeline, replies."""

import http.server
import select
import socket
import ssl
import sys
import threading
import time
from urllib.parse import urlsplit

from . import util


class FakeServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer bound to 127.0.0.1 that knows its FakeAws owner."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler, fake, service):
        self.fake = fake
        self.service = service
        self._conns = set()
        self._conns_lock = threading.Lock()
        super().__init__(('127.0.0.1', 0), handler)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.server_address[1]

    def track(self, sock, add=True):
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(sock)

    def close_connections(self):
        with self._conns_lock:
            conns = list(self._conns)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class BaseHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-aws'
    sys_version = ''
    service = None

    # --------------------------------------------------------- plumbing
    @property
    def fake(self):
        return self.server.fake

    @property
    def state(self):
        return self.server.fake.state

    def setup(self):
        super().setup()
        self.server.track(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, fmt, *args):
        if self.fake.verbose:
            sys.stderr.write('fake_aws %s: %s\n' % (self.service, fmt % args))

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b';', 1)[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b''.join(chunks)
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length > 0 else b''

    @property
    def via_tls(self):
        return isinstance(self.connection, ssl.SSLSocket)

    # ---------------------------------------------------------- dispatch
    def _dispatch(self):
        self.body = self.read_body()
        split = urlsplit(self.path)
        self.url_path = split.path
        self.url_query = split.query
        self.entry = self.state.log_request({
            'service': self.service,
            'time': time.time(),
            'method': self.command,
            'path': self.path,
            'headers': {k.lower(): v for k, v in self.headers.items()},
            'header_list': [[k, v] for k, v in self.headers.items()],
            'body': self.body.decode('utf-8', 'replace'),
            'tls': self.via_tls,
            'status': None,
            'fault': None,
        })
        self.replied = False
        try:
            self.prepare()
            rule = self.state.match_fault(self.service, self.command, self.url_path, self.action())
            self.rule = rule or {}
            if rule and not self.apply_pre_faults(rule):
                return
            self.handle_service()
        except BrokenPipeError:
            self.close_connection = True
        except ConnectionError:
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: answer 500, say why on stderr
            sys.stderr.write('fake_aws %s: internal error: %r\n' % (self.service, exc))
            import traceback
            traceback.print_exc()
            if not self.replied:
                self.reply(500, b'fake_aws internal error\n', 'text/plain')

    # Hooks for the services
    def prepare(self):
        pass

    def action(self):
        return None

    def handle_service(self):
        raise NotImplementedError

    def error(self, status, code=None, message=None):
        """Answer with the service's real error shape for this status."""
        raise NotImplementedError

    def throttle(self):
        self.error(429)

    def malformed_body(self):
        raise NotImplementedError

    # ------------------------------------------------------------ faults
    def note_fault(self, name):
        prev = self.entry.get('fault')
        self.entry['fault'] = name if not prev else prev + ',' + name

    def apply_pre_faults(self, rule):
        """Faults that act before the normal answer. False: already answered."""
        delay = rule.get('delay')
        if delay:
            self.note_fault('delay')
            if self.fake.stop_event.wait(delay):
                self.abort()
                return False
        if rule.get('hang'):
            self.note_fault('hang')
            if not self.hang(rule):
                return False
            self.rule = {}          # released because the rule was cleared
            return True
        if self.state.take_failure(rule):
            self.note_fault('fail_next')
            self.error(rule.get('fail_status', 500), rule.get('error_code'),
                       rule.get('error_message'))
            return False
        if rule.get('throttle'):
            self.note_fault('throttle')
            self.throttle()
            return False
        if 'status' in rule:
            self.note_fault('status')
            self.error(rule['status'], rule.get('error_code'), rule.get('error_message'))
            return False
        if rule.get('empty_body'):
            self.note_fault('empty_body')
            self.reply(200, b'', 'text/plain')
            return False
        return True

    def hang(self, rule):
        """Wait without answering. True: the rule was cleared, answer normally."""
        while True:
            if self.fake.stop_event.wait(0.05):
                self.abort()
                return False
            if self.client_gone():
                self.entry['client_gone'] = True
                self.abort()
                return False
            if not self.state.rule_active(self.service, rule):
                return True

    def client_gone(self):
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            # Peek at the raw socket (works under TLS too): EOF means the
            # client closed; bytes under TLS are most likely close_notify.
            data = socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            return data == b'' or self.via_tls
        except BlockingIOError:
            return False
        except (OSError, ValueError):
            return True

    def abort(self):
        """Close the connection without an answer."""
        self.close_connection = True
        self.replied = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def expired(self):
        return bool(self.rule.get('expired'))

    def expiration(self, expires_in):
        if self.expired():
            self.note_fault('expired')
            return util.in_seconds(-3600)
        return util.in_seconds(expires_in)

    def drop_fields(self, doc):
        missing = self.rule.get('missing_fields') or []
        if missing:
            self.note_fault('missing_fields')
        for name in missing:
            doc.pop(name, None)
        return doc

    def want_malformed(self):
        if self.rule.get('malformed'):
            self.note_fault('malformed')
            return True
        return False

    # ------------------------------------------------------------- reply
    def reply(self, status, body, content_type, headers=None, reason=None):
        if isinstance(body, str):
            body = body.encode('utf-8')
        self.send_response(status, reason)
        if content_type:
            self.send_header('Content-Type', content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        self.wfile.flush()
        self.replied = True
        self.entry['status'] = status
