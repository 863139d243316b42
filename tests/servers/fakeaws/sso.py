"""Fake IAM Identity Center (SSO) portal: GetRoleCredentials (rest-json)."""

import json
from urllib.parse import parse_qs, urlencode

from . import util
from .common import BaseHandler

ERROR_TYPE_SUFFIX = ':http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/'
DEFAULT_ERRORS = {
    400: ('InvalidRequestException', 'Invalid request'),
    401: ('UnauthorizedException', 'Session token not found or invalid'),
    403: ('ForbiddenException', 'No access'),
    404: ('ResourceNotFoundException', 'Not Found'),
    429: ('TooManyRequestsException', 'Too many requests'),
    500: ('InternalServerException', 'Internal server error'),
    503: ('ServiceUnavailableException', 'Service unavailable'),
}


class SsoHandler(BaseHandler):
    service = 'sso'

    def error(self, status, code=None, message=None):
        dcode, dmsg = DEFAULT_ERRORS.get(status, ('InternalServerException', 'Error'))
        code = code or dcode
        rid = util.request_id()
        self.entry['error_code'] = code
        self.reply(status, json.dumps({'message': message or dmsg}), 'application/json',
                   {'x-amzn-RequestId': rid, 'x-amzn-ErrorType': code + ERROR_TYPE_SUFFIX})

    def handle_service(self):
        cfg = self.state.cfg('sso')
        if self.url_path != '/federation/credentials':
            return self.error(404, 'ResourceNotFoundException', 'Not Found')
        if self.command != 'GET':
            return self.error(405, 'InvalidRequestException', 'Method not allowed')
        token = self.headers.get('x-amz-sso_bearer_token')
        if not token or token != cfg['access_token'] or cfg['access_token_expired']:
            return self.error(401)
        query = parse_qs(self.url_query, keep_blank_values=True)
        account = (query.get('account_id') or [''])[0]
        role = (query.get('role_name') or [''])[0]
        if not account or not role:
            return self.error(400, 'InvalidRequestException',
                              'account_id and role_name are required')
        if (cfg['account_id'] is not None and account != cfg['account_id']) or \
                (cfg['role_name'] is not None and role != cfg['role_name']):
            return self.error(403, 'ForbiddenException', 'No access')
        serial = self.state.next_serial(('sso', account, role))
        creds = {
            'accessKeyId': cfg['access_key_id'] or util.derived_access_key('sso', account, role),
            'secretAccessKey': cfg['secret_access_key'] or util.derived_secret(
                'sso', account, role, serial),
            'sessionToken': cfg['session_token'] or 'fakesso:' + urlencode(
                [('AccountId', account), ('RoleName', role), ('Serial', str(serial))]),
            'expiration': util.epoch_millis(self.expiration(cfg['expires_in'])),
        }
        self.drop_fields(creds)
        doc = {'roleCredentials': creds}
        if 'roleCredentials' in (self.rule.get('missing_fields') or []):
            doc = {}
        self.entry['issued'] = creds
        body = json.dumps(doc)
        if self.want_malformed():
            body = body[:len(body) // 2]
        self.reply(200, body, 'application/json', {'x-amzn-RequestId': util.request_id()})
