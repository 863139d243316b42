"""Fake container credential endpoint (ECS task role / EKS Pod Identity agent)."""

import json

from . import util
from .common import BaseHandler

DEFAULT_ERRORS = {
    400: ('InvalidRequest', 'Invalid request'),
    401: ('AccessDenied', 'Authorization token is missing or invalid'),
    403: ('AccessDenied', 'Access denied'),
    404: ('NotFound', 'Credentials not found'),
    429: ('ThrottlingException', 'Rate exceeded'),
    500: ('InternalServerError', 'Internal server error'),
    503: ('ServiceUnavailable', 'Service unavailable'),
}


class EcsHandler(BaseHandler):
    service = 'ecs'

    def error(self, status, code=None, message=None):
        dcode, dmsg = DEFAULT_ERRORS.get(status, ('Error', 'Error'))
        body = json.dumps({'code': code or dcode, 'message': message or dmsg})
        self.reply(status, body, 'application/json')

    def handle_service(self):
        cfg = self.state.cfg('ecs')
        if self.command not in ('GET', 'HEAD'):
            return self.error(405, 'MethodNotAllowed', 'Method not allowed')
        if cfg['authorization'] is not None:
            got = self.headers.get('Authorization')
            if got is None:
                return self.error(401, message='Authorization header is missing')
            if got != cfg['authorization']:
                return self.error(401)
        if cfg['path'] is not None and self.path != cfg['path']:
            return self.error(404)
        doc = {}
        if cfg['role_arn']:
            doc['RoleArn'] = cfg['role_arn']
        doc.update({
            'AccessKeyId': cfg['access_key_id'],
            'SecretAccessKey': cfg['secret_access_key'],
            'Token': cfg['token'],
            'Expiration': util.iso8601(self.expiration(cfg['expires_in'])),
        })
        if cfg['account_id']:
            doc['AccountId'] = cfg['account_id']
        self.drop_fields(doc)
        body = json.dumps(doc)
        if self.want_malformed():
            body = body[:len(body) // 2]
        self.reply(200, body, 'application/json')
