"""Local fake AWS credential endpoints for mantle's tests.

    import fakeaws
    fake = fakeaws.start(services=('imds', 'sts'), lifetime=60)
    fake.urls['imds']          # http://127.0.0.1:PORT
    fake.set_faults({'imds': {'status': 500}})
    fake.requests('imds')
    fake.stop()

Everything binds to 127.0.0.1 on ports chosen by the kernel, and stops by
itself after `lifetime` seconds.
"""

import os
import shutil
import ssl
import tempfile
import threading

from .common import FakeServer
from .control import ControlHandler
from .ecs import EcsHandler
from .imds import ImdsHandler
from .proxy import ProxyHandler
from .sso import SsoHandler
from .state import ConfigError, State  # noqa: F401  (re-exported)
from .sts import StsHandler
from . import tls as _tls

DEFAULT_SERVICES = ('imds', 'ecs', 'sts', 'sso')
ALL_SERVICES = DEFAULT_SERVICES + ('proxy',)
HANDLERS = {'imds': ImdsHandler, 'ecs': EcsHandler, 'sts': StsHandler, 'sso': SsoHandler,
            'proxy': ProxyHandler}


class FakeAws:
    def __init__(self, services=DEFAULT_SERVICES, lifetime=300, config=None, faults=None,
                 verbose=False, tls_dir=None):
        if isinstance(services, str):
            services = [s for s in services.split(',') if s]
        services = list(dict.fromkeys(services))
        for svc in services:
            if svc not in HANDLERS:
                raise ValueError('unknown service %r (known: %s)' % (svc, ', '.join(ALL_SERVICES)))
        self.verbose = verbose
        self.lifetime = lifetime
        self.state = State(config, faults)
        self.stop_event = threading.Event()
        self.stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self.servers = {}
        self.ca_bundle = None
        self.tls_context = None
        self._own_tls_dir = None
        try:
            if 'proxy' in services:
                self._setup_tls(tls_dir)
            for svc in services:
                self.servers[svc] = FakeServer(HANDLERS[svc], self, svc)
            self.servers['control'] = FakeServer(ControlHandler, self, 'control')
        except BaseException:
            self._close_servers()
            self._cleanup_tls()
            raise
        self._threads = []
        for name, server in self.servers.items():
            t = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.1},
                                 name='fake_aws-' + name, daemon=True)
            t.start()
            self._threads.append(t)
        if lifetime is not None:
            threading.Thread(target=self._lifetime_watch, name='fake_aws-lifetime',
                             daemon=True).start()

    # ------------------------------------------------------------ setup
    def _setup_tls(self, tls_dir):
        if tls_dir is None:
            tls_dir = self._own_tls_dir = tempfile.mkdtemp(prefix='fake_aws_tls_')
        extra = list(self.state.cfg('proxy')['extra_routes'].keys())
        ca, cert, key = _tls.make_certificates(tls_dir, _tls.default_hostnames(extra))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.tls_context = ctx
        self.ca_bundle = ca

    def _lifetime_watch(self):
        if not self.stop_event.wait(self.lifetime):
            self.stop()

    # ------------------------------------------------------------- info
    @property
    def urls(self):
        return {name: server.url for name, server in self.servers.items()}

    def url(self, service):
        return self.servers[service].url

    def info(self):
        doc = dict(self.urls)
        if self.ca_bundle:
            doc['ca_bundle'] = self.ca_bundle
        doc['pid'] = os.getpid()
        return doc

    # --------------------------------------------------- in-process API
    def configure(self, config):
        self.state.apply_config(config)

    def set_faults(self, faults):
        self.state.set_faults(faults)

    def requests(self, service=None):
        return self.state.request_log(service)

    def reset(self):
        self.state.reset()

    def expire_imds_tokens(self):
        return self.state.imds_expire_tokens()

    # ------------------------------------------------------------- stop
    def _close_servers(self):
        for server in self.servers.values():
            try:
                server.server_close()
            except OSError:
                pass

    def _cleanup_tls(self):
        if self._own_tls_dir:
            shutil.rmtree(self._own_tls_dir, ignore_errors=True)
            self._own_tls_dir = None

    def stop(self):
        with self._stop_lock:
            if self.stopped.is_set():
                return
            self.stop_event.set()
            for server in self.servers.values():
                server.shutdown()
                server.close_connections()
            self._close_servers()
            self._cleanup_tls()
            self.stopped.set()

    def wait(self, timeout=None):
        return self.stopped.wait(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(services=DEFAULT_SERVICES, lifetime=300, config=None, faults=None, verbose=False,
          tls_dir=None):
    """Start the fakes in this process (background threads). Returns a FakeAws."""
    return FakeAws(services=services, lifetime=lifetime, config=config, faults=faults,
                   verbose=verbose, tls_dir=tls_dir)
