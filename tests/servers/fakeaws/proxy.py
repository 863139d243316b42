"""HTTP proxy that only accepts CONNECT to AWS host names it knows and terminates
TLS itself (with the test CA's certificate), handing the decrypted requests to
the matching fake service. It never opens a connection anywhere else."""

import http.server
import re
import ssl
import sys
import time

ROUTES = [
    (re.compile(r'^sts(?:-fips)?(?:\.[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$'), 'sts'),
    (re.compile(r'^portal\.sso\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$'), 'sso'),
]


def route(host, extra_routes):
    host = host.lower().rstrip('.')
    if host in extra_routes:
        return extra_routes[host]
    for pattern, service in ROUTES:
        if pattern.match(host):
            return service
    return None


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-aws-proxy'
    sys_version = ''

    def log_message(self, fmt, *args):
        if self.server.fake.verbose:
            sys.stderr.write('fake_aws proxy: %s\n' % (fmt % args))

    def refuse(self, status, text, entry):
        body = (text + '\n').encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
        entry['status'] = status

    def _entry(self):
        return self.server.fake.state.log_request({
            'service': 'proxy', 'time': time.time(), 'method': self.command,
            'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()},
            'body': '', 'tls': False, 'status': None, 'fault': None})

    def do_CONNECT(self):
        fake = self.server.fake
        entry = self._entry()
        host, _, port = self.path.rpartition(':')
        host = host.strip('[]')
        extra = fake.state.cfg('proxy')['extra_routes']
        service = route(host, extra)
        entry['target'] = service
        if service is None or service not in fake.servers:
            return self.refuse(403, 'fake_aws proxy: refusing to tunnel to %s (not a routed fake '
                               'AWS host; nothing leaves 127.0.0.1)' % self.path, entry)
        self.send_response(200, 'Connection established')
        self.end_headers()
        entry['status'] = 200
        self.close_connection = True
        raw = self.connection
        raw.settimeout(10)
        try:
            tls = fake.tls_context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            entry['tls_error'] = str(exc)
            return
        tls.settimeout(None)
        entry['tls'] = True
        target = fake.servers[service]
        try:
            target.RequestHandlerClass(tls, self.client_address, target)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def _not_connect(self):
        entry = self._entry()
        self.refuse(405, 'fake_aws proxy: only CONNECT is supported', entry)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _not_connect
