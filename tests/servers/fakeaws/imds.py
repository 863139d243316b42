"""Fake EC2 instance metadata service (IMDSv1 and IMDSv2)."""

import json
import secrets

from . import util
from .common import BaseHandler

TOKEN_PATH = '/latest/api/token'
CREDS_PATH = '/latest/meta-data/iam/security-credentials/'
REASONS = {
    400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
    405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error',
    502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
}
# The HTML page the real IMDS sends with its errors.
ERROR_PAGE = '''<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>{status} - {reason}</title>
 </head>
 <body>
  <h1>{status} - {reason}</h1>
 </body>
</html>
'''


def imds_json(doc):
    # IMDS pretty-prints with " : " separators.
    return json.dumps(doc, indent=2, separators=(',', ' : '))


class ImdsHandler(BaseHandler):
    service = 'imds'
    server_version = 'EC2ws'

    def error(self, status, code=None, message=None):
        reason = REASONS.get(status, 'Error')
        self.reply(status, ERROR_PAGE.format(status=status, reason=reason), 'text/html',
                   reason=reason)

    def text(self, body):
        self.reply(200, body, 'text/plain')

    def handle_service(self):
        cfg = self.state.cfg('imds')
        path = self.url_path
        if path == TOKEN_PATH:
            return self.put_token(cfg)
        if self.command not in ('GET', 'HEAD'):
            return self.error(405)
        token = self.headers.get('x-aws-ec2-metadata-token')
        if token is not None:
            if not self.state.imds_token_valid(token):
                self.entry['imds_auth'] = 'invalid-token'
                return self.error(401)
            self.entry['imds_auth'] = 'v2'
        elif cfg['require_token']:
            self.entry['imds_auth'] = 'missing-token'
            return self.error(401)
        else:
            self.entry['imds_auth'] = 'v1'

        role = cfg['role_name']
        if path in (CREDS_PATH, CREDS_PATH.rstrip('/')):
            return self.text(role)
        if path.startswith(CREDS_PATH):
            if path[len(CREDS_PATH):] != role:
                return self.error(404)
            return self.credentials(cfg)
        if path in ('/latest/meta-data/iam/info', '/latest/meta-data/iam/info/'):
            return self.text(imds_json({
                'Code': 'Success',
                'LastUpdated': util.iso8601(util.utcnow()),
                'InstanceProfileArn': 'arn:aws:iam::%s:instance-profile/%s' % (cfg['account_id'], role),
                'InstanceProfileId': 'AIPA' + util.derive(17, 'profile', role),
            }))
        if path.rstrip('/') == '/latest/meta-data/placement/region':
            return self.text(cfg['region'])
        if path.rstrip('/') == '/latest/meta-data/placement/availability-zone':
            return self.text(cfg['region'] + 'a')
        if path.rstrip('/') == '/latest/dynamic/instance-identity/document':
            return self.text(imds_json({
                'accountId': cfg['account_id'],
                'architecture': 'x86_64',
                'availabilityZone': cfg['region'] + 'a',
                'imageId': 'ami-0fake0000000000001',
                'instanceId': 'i-0fake0000000000001',
                'instanceType': 't3.micro',
                'pendingTime': util.iso8601(util.utcnow()),
                'privateIp': '10.0.0.1',
                'region': cfg['region'],
                'version': '2017-09-30',
            }))
        return self.error(404)

    def put_token(self, cfg):
        if self.command != 'PUT':
            return self.error(405)
        if 'x-forwarded-for' in self.headers:
            # The real IMDS refuses token requests that went through a proxy.
            return self.error(403)
        raw = self.headers.get('x-aws-ec2-metadata-token-ttl-seconds')
        try:
            ttl = int(raw.strip())
        except (AttributeError, ValueError):
            return self.error(400)
        if not 1 <= ttl <= 21600:
            return self.error(400)
        effective = ttl if cfg['token_ttl_override'] is None else cfg['token_ttl_override']
        token = 'AQAEA' + secrets.token_urlsafe(42)
        self.state.imds_new_token(token, effective)
        self.entry['imds_token_ttl'] = effective
        self.reply(200, token, 'text/plain',
                   {'x-aws-ec2-metadata-token-ttl-seconds': str(max(0, int(effective)))})

    def credentials(self, cfg):
        now = util.utcnow()
        if self.rule.get('body_code'):
            # A 200 reply that carries an error, e.g. when EC2 is not a trusted entity.
            self.note_fault('body_code')
            return self.text(imds_json({
                'Code': self.rule['body_code'],
                'Message': self.rule.get('error_message', 'Fake IMDS credential error'),
                'LastUpdated': util.iso8601(now),
            }))
        doc = {
            'Code': 'Success',
            'LastUpdated': util.iso8601(now),
            'Type': 'AWS-HMAC',
            'AccessKeyId': cfg['access_key_id'],
            'SecretAccessKey': cfg['secret_access_key'],
            'Token': cfg['token'],
            'Expiration': util.iso8601(self.expiration(cfg['expires_in'])),
        }
        self.drop_fields(doc)
        body = imds_json(doc)
        if self.want_malformed():
            body = body[:len(body) // 2]
        self.text(body)
