#!/usr/bin/python3
"""Local fake AWS credential endpoints (IMDS, ECS/EKS container, STS, SSO portal,
and an optional TLS-terminating proxy) for mantle's tests.

Run:  /usr/bin/python3 tests/servers/fake_aws.py [--services imds,ecs,sts,sso[,proxy]]
          [--lifetime S] [--stdin-watch] [--state-file PATH] [--config FILE]
          [--fault SERVICE=JSON ...] [--tls-dir DIR] [--verbose]

The first line on stdout is one JSON object with the base URLs, e.g.
  {"imds": "http://127.0.0.1:41234", ..., "control": "http://127.0.0.1:41240", "pid": 123}
Everything binds to 127.0.0.1 only. The process exits by itself after --lifetime
seconds (default 300), when stdin reaches EOF (--stdin-watch), on SIGTERM/SIGINT,
or on POST /shutdown to the control server. See tests/servers/README.md.

Importable too:  import fake_aws; fake = fake_aws.start(services=..., lifetime=...)
"""

import argparse
import json
import os
import signal
import sys
import threading

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakeaws import (ALL_SERVICES, DEFAULT_SERVICES, FakeAws, start)  # noqa: E402,F401


def _parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--services', default=','.join(DEFAULT_SERVICES),
                   help='comma-separated subset of %s' % ','.join(ALL_SERVICES))
    p.add_argument('--lifetime', type=float, default=300.0,
                   help='exit after this many seconds (default 300)')
    p.add_argument('--stdin-watch', action='store_true', help='exit when stdin reaches EOF')
    p.add_argument('--state-file', help='also write the startup JSON line to this file')
    p.add_argument('--config', help='JSON file with initial config (same shape as POST /config);'
                   ' it may also hold a "faults" member (same shape as POST /faults)')
    p.add_argument('--fault', action='append', default=[], metavar='SERVICE=JSON',
                   help='initial fault rule(s) for a service, e.g. imds=\'{"status":500}\'')
    p.add_argument('--tls-dir', help='directory for the proxy CA/certificate (default: temporary)')
    p.add_argument('--verbose', action='store_true', help='log requests on stderr')
    return p.parse_args(argv)


def main(argv=None):
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        config, faults = {}, {}
        if args.config:
            with open(args.config) as f:
                config = json.load(f)
            faults.update(config.pop('faults', {}) or {})
        for spec in args.fault:
            service, sep, rule = spec.partition('=')
            if not sep:
                raise ValueError('--fault wants SERVICE=JSON, got %r' % spec)
            faults[service.strip()] = json.loads(rule)
        fake = FakeAws(services=args.services, lifetime=args.lifetime, config=config,
                       faults=faults, verbose=args.verbose, tls_dir=args.tls_dir)
    except Exception as exc:  # tell the parent on the line it is waiting for
        sys.stdout.write(json.dumps({'error': str(exc)}) + '\n')
        sys.stdout.flush()
        return 2

    def on_signal(signum, frame):
        threading.Thread(target=fake.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.stdin_watch:
        def watch_stdin():
            try:
                while os.read(sys.stdin.fileno(), 65536):
                    pass
            except OSError:
                pass
            fake.stop()
        threading.Thread(target=watch_stdin, name='fake_aws-stdin', daemon=True).start()

    line = json.dumps(fake.info())
    if args.state_file:
        tmp = args.state_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(line + '\n')
        os.replace(tmp, args.state_file)
    sys.stdout.write(line + '\n')
    sys.stdout.flush()

    while not fake.wait(0.5):
        pass
    sys.stderr.flush()
    os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
