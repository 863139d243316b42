"""Helpers for pointing Debian's AWS CLI (/usr/bin/aws 2.9.19, whose bundled botocore
predates AWS_ENDPOINT_URL* and [services] endpoint_url) at the fakes.

Two ways work on this machine:
  1. proxy_env(): HTTPS_PROXY -> the fake TLS-terminating proxy, AWS_CA_BUNDLE -> its test CA.
     The CLI keeps its real host names (sts.<region>.amazonaws.com, portal.sso.<region>...).
  2. write_endpoint_overrides(): an AWS_DATA_PATH directory whose endpoint-rule-set-1.json
     for sts/sso resolves every request to the fake's http://127.0.0.1:PORT URL.
"""

import json
import os

API_VERSIONS = {'sts': '2011-06-15', 'sso': '2019-06-10'}


def proxy_env(info):
    """Environment for the proxy route; `info` is the startup JSON object."""
    return {
        'HTTPS_PROXY': info['proxy'],
        'https_proxy': info['proxy'],
        'NO_PROXY': '127.0.0.1,localhost',
        'no_proxy': '127.0.0.1,localhost',
        'AWS_CA_BUNDLE': info['ca_bundle'],
    }


def write_endpoint_overrides(directory, urls, signing_region=None):
    """Write AWS_DATA_PATH files so the CLI sends sts/sso calls to urls[service].
    Returns the directory (the value for AWS_DATA_PATH)."""
    for service, version in API_VERSIONS.items():
        if service not in urls:
            continue
        target = os.path.join(directory, service, version)
        os.makedirs(target, exist_ok=True)
        endpoint = {'url': urls[service], 'properties': {}, 'headers': {}}
        if service == 'sts':
            scheme = {'name': 'sigv4', 'signingName': 'sts'}
            if signing_region:
                scheme['signingRegion'] = signing_region
            endpoint['properties'] = {'authSchemes': [scheme]}
        ruleset = {
            'version': '1.0',
            'parameters': {
                'Region': {'builtIn': 'AWS::Region', 'required': False, 'type': 'String'},
            },
            'rules': [{'conditions': [], 'type': 'endpoint', 'endpoint': endpoint}],
        }
        with open(os.path.join(target, 'endpoint-rule-set-1.json'), 'w') as f:
            json.dump(ruleset, f, indent=1)
    return directory
