"""Control API: configuration, faults, the request log, reset, shutdown."""

import http.server
import json
import sys
import threading
from urllib.parse import parse_qs, urlsplit

from .state import ConfigError


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-aws-control'
    sys_version = ''

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write('fake_aws control: %s\n' % (fmt % args))

    def send_json(self, status, doc):
        body = (json.dumps(doc, indent=1, sort_keys=True) + '\n').encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_json(self):
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        if not raw.strip():
            return {}
        return json.loads(raw)

    def do_GET(self):
        fake = self.server.fake
        state = fake.state
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == '/health':
            return self.send_json(200, {'ok': True})
        if url.path == '/urls':
            return self.send_json(200, fake.info())
        if url.path == '/requests':
            service = (query.get('service') or [None])[0]
            since = int((query.get('since') or ['0'])[0])
            items = [e for e in state.request_log(service) if e['seq'] > since]
            return self.send_json(200, {'requests': items})
        if url.path == '/config':
            with state.lock:
                return self.send_json(200, state.config)
        if url.path == '/faults':
            return self.send_json(200, state.public_faults())
        self.send_json(404, {'ok': False, 'error': 'unknown control path %s' % url.path})

    def do_POST(self):
        fake = self.server.fake
        state = fake.state
        path = urlsplit(self.path).path
        try:
            doc = self.read_json()
            if path == '/config':
                state.apply_config(doc)
                with state.lock:
                    return self.send_json(200, {'ok': True, 'config': state.config})
            if path == '/faults':
                state.set_faults(doc)
                return self.send_json(200, {'ok': True, 'faults': state.public_faults()})
            if path == '/reset':
                state.reset()
                return self.send_json(200, {'ok': True})
            if path == '/imds/expire-tokens':
                return self.send_json(200, {'ok': True, 'expired': state.imds_expire_tokens()})
            if path == '/shutdown':
                self.send_json(200, {'ok': True})
                threading.Thread(target=fake.stop, daemon=True).start()
                return None
        except (ValueError, ConfigError) as exc:
            return self.send_json(400, {'ok': False, 'error': str(exc)})
        self.send_json(404, {'ok': False, 'error': 'unknown control path %s' % path})

    def do_DELETE(self):
        if urlsplit(self.path).path == '/requests':
            with self.server.fake.state.lock:
                self.server.fake.state.requests.clear()
            return self.send_json(200, {'ok': True})
        self.send_json(404, {'ok': False, 'error': 'unknown control path'})
