"""Test CA and server certificate for the TLS-terminating proxy, made with `openssl`."""

import json
import os
import secrets
import subprocess

BOTOCORE_ENDPOINTS = '/usr/lib/python3/dist-packages/botocore/data/endpoints.json'
FALLBACK_REGIONS = [
    'af-south-1', 'ap-east-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
    'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3',
    'ap-southeast-4', 'ca-central-1', 'eu-central-1', 'eu-central-2', 'eu-north-1',
    'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'me-central-1',
    'me-south-1', 'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
]


def regions():
    names = set(FALLBACK_REGIONS)
    try:
        with open(BOTOCORE_ENDPOINTS) as f:
            data = json.load(f)
        for part in data.get('partitions', []):
            if part.get('partition') == 'aws':
                names.update(part.get('regions', {}).keys())
    except (OSError, ValueError):
        pass
    return sorted(names)


def default_hostnames(extra=()):
    names = ['sts.amazonaws.com', 'localhost']
    for region in regions():
        names += ['sts.%s.amazonaws.com' % region,
                  'portal.sso.%s.amazonaws.com' % region,
                  'oidc.%s.amazonaws.com' % region]
    names += [n for n in extra if n not in names]
    return names


def _run(args, cwd):
    proc = subprocess.run(['openssl'] + args, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError('openssl %s failed: %s' % (args[0], proc.stderr.decode(errors='replace')))


def make_certificates(directory, hostnames):
    """Writes ca.pem (the bundle to trust), server.pem and server.key. Returns their paths."""
    os.makedirs(directory, exist_ok=True)
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    _run(['req', '-x509'] + ec + [
        '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '7',
        '-subj', '/O=mantle tests/CN=mantle fake_aws test CA',
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-addext', 'subjectKeyIdentifier=hash'], directory)
    _run(['req'] + ec + ['-keyout', 'server.key', '-out', 'server.csr',
                         '-subj', '/O=mantle tests/CN=fake-aws'], directory)
    san = ','.join(['DNS:%s' % n for n in hostnames] + ['IP:127.0.0.1'])
    with open(os.path.join(directory, 'server.ext'), 'w') as f:
        f.write('basicConstraints=critical,CA:FALSE\n'
                'keyUsage=critical,digitalSignature\n'
                'extendedKeyUsage=serverAuth\n'
                'subjectKeyIdentifier=hash\n'
                'authorityKeyIdentifier=keyid:always\n'
                'subjectAltName=%s\n' % san)
    _run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
          '-set_serial', '0x' + secrets.token_hex(8), '-days', '7',
          '-extfile', 'server.ext', '-out', 'server.pem'], directory)
    return tuple(os.path.join(directory, n) for n in ('ca.pem', 'server.pem', 'server.key'))
