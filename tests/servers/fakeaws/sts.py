"""Fake AWS STS (query protocol): AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity.

AssumeRole and GetCallerIdentity must be SigV4-signed with a known credential;
the signature is recomputed with botocore's SigV4Auth (only the header list the
client declared in SignedHeaders is used, as the real service does).
"""

import datetime
import hmac
import re
from urllib.parse import parse_qsl, urlencode

from . import util
from .common import BaseHandler

NS = 'https://sts.amazonaws.com/doc/2011-06-15/'
AUTH_RE = re.compile(
    r'^AWS4-HMAC-SHA256\s+Credential=(?P<ak>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/'
    r'(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*'
    r'Signature=(?P<sig>[0-9a-f]{64})\s*$')
HOST_RE = re.compile(r'^sts(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$')
SESSION_NAME_RE = re.compile(r'^[\w+=,.@-]*$')
EXTERNAL_ID_RE = re.compile(r'^[\w+=,.@:/-]*$')
ROLE_ARN_RE = re.compile(r'^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$')

DEFAULT_ERRORS = {
    400: ('ValidationError', 'Invalid request'),
    401: ('InvalidClientTokenId', 'The security token included in the request is invalid.'),
    403: ('AccessDenied', 'Access denied'),
    404: ('NotFound', 'Not found'),
    429: ('Throttling', 'Rate exceeded'),
    500: ('InternalFailure', 'An internal error occurred.'),
    502: ('InternalFailure', 'An internal error occurred.'),
    503: ('ServiceUnavailable', 'Service Unavailable'),
    504: ('InternalFailure', 'An internal error occurred.'),
}
SIGNATURE_MISMATCH = ('The request signature we calculated does not match the signature you '
                      'provided. Check your AWS Secret Access Key and signing method. Consult '
                      'the service documentation for details.')


def _el(name, value):
    return '<%s>%s</%s>' % (name, util.xml_escape(value), name)


class StsHandler(BaseHandler):
    service = 'sts'

    # ------------------------------------------------------------ errors
    def error(self, status, code=None, message=None):
        dcode, dmsg = DEFAULT_ERRORS.get(status, ('InternalFailure', 'An internal error occurred.'))
        code = code or dcode
        kind = 'Receiver' if status >= 500 else 'Sender'
        rid = util.request_id()
        body = ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
                '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
                '  <RequestId>%s</RequestId>\n</ErrorResponse>\n') % (
                    NS, kind, util.xml_escape(code), util.xml_escape(message or dmsg), rid)
        self.entry['error_code'] = code
        self.reply(status, body, 'text/xml', {'x-amzn-RequestId': rid})

    def throttle(self):
        # What STS really sends when throttling: HTTP 400, code Throttling.
        self.error(400, 'Throttling', 'Rate exceeded')

    def validation(self, message):
        self.error(400, 'ValidationError', '1 validation error detected: ' + message)

    # ----------------------------------------------------------- request
    def prepare(self):
        pairs = parse_qsl(self.url_query, keep_blank_values=True)
        ctype = self.headers.get('Content-Type', '')
        if self.command == 'POST' and ctype.split(';')[0].strip().lower() == \
                'application/x-www-form-urlencoded':
            pairs += parse_qsl(self.body.decode('utf-8', 'replace'), keep_blank_values=True)
        self.params = dict(pairs)
        self.entry['params'] = self.params

    def action(self):
        return self.params.get('Action')

    def handle_service(self):
        if self.command not in ('GET', 'POST'):
            return self.error(405, 'InvalidAction', 'Unsupported HTTP method')
        action = self.action()
        if action is None:
            return self.error(400, 'MissingAction', 'Missing Action')
        if action == 'AssumeRole':
            caller = self.verify_sigv4()
            if caller is not None:
                self.assume_role(caller)
        elif action == 'AssumeRoleWithWebIdentity':
            self.assume_role_with_web_identity()
        elif action == 'GetCallerIdentity':
            caller = self.verify_sigv4()
            if caller is not None:
                self.get_caller_identity(caller)
        else:
            self.error(400, 'InvalidAction',
                       'Could not find operation %s for version 2011-06-15' % action)

    # -------------------------------------------------------------- SigV4
    def scope_region_for_host(self, host):
        host = host.split(':')[0].lower()
        if host == 'sts.amazonaws.com':
            return 'us-east-1'
        m = HOST_RE.match(host)
        return m.group('region') if m else None

    def verify_sigv4(self):
        """Returns a dict describing the caller, or None after answering an error."""
        cfg = self.state.cfg('sts')
        auth = self.headers.get('Authorization')
        if not auth:
            if 'X-Amz-Signature' in self.params or 'X-Amz-Algorithm' in self.params:
                self.error(400, 'IncompleteSignature',
                           'Presigned requests are not supported by this fake')
            else:
                self.error(403, 'MissingAuthenticationToken',
                           'Request is missing Authentication Token')
            return None
        m = AUTH_RE.match(auth)
        if not m:
            self.error(400, 'IncompleteSignature',
                       "Authorization header requires 'Credential', 'Signature' and "
                       "'SignedHeaders' parameters. Authorization=%s" % auth)
            return None
        ak, region, service = m.group('ak'), m.group('region'), m.group('service')
        signed = m.group('signed').split(';')
        self.entry['sigv4'] = {'access_key_id': ak, 'region': region, 'service': service,
                               'signed_headers': signed}
        token = self.headers.get('X-Amz-Security-Token')
        caller = None
        for cred in cfg['source_credentials']:
            if cred['access_key_id'] == ak and (cred.get('session_token') or None) == token:
                caller = {'access_key_id': ak, 'secret': cred['secret_access_key'],
                          'arn': cred.get('arn') or 'arn:aws:iam::%s:user/fake' % util_account(),
                          'user_id': ak, 'account': _account_of(cred.get('arn'))}
                break
        if caller is None and cfg['accept_issued_credentials'] and token:
            found = self.state.find_issued(ak, token)
            if found:
                secret, info = found
                caller = {'access_key_id': ak, 'secret': secret, 'arn': info['assumed_arn'],
                          'user_id': info['assumed_id'], 'account': info['account']}
        if caller is None:
            self.error(403, 'InvalidClientTokenId',
                       'The security token included in the request is invalid.')
            return None
        if service != 'sts':
            self.error(403, 'SignatureDoesNotMatch',
                       "Credential should be scoped to correct service: 'sts'. ")
            return None
        host = self.headers.get('Host', '')
        want_region = self.scope_region_for_host(host)
        if cfg['check_region'] and want_region and region != want_region:
            self.error(403, 'SignatureDoesNotMatch',
                       'Credential should be scoped to a valid region. ')
            return None
        amz_date = self.headers.get('X-Amz-Date')
        if not amz_date:
            self.error(400, 'IncompleteSignature',
                       "Authorization header requires existence of either a 'X-Amz-Date' or a "
                       "'Date' header. Authorization=%s" % auth)
            return None
        try:
            when = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ').replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            self.error(400, 'IncompleteSignature', 'Invalid X-Amz-Date: %s' % amz_date)
            return None
        if m.group('date') != amz_date[:8]:
            self.error(403, 'SignatureDoesNotMatch',
                       'Date in Credential scope does not match YYYYMMDD from ISO-8601 '
                       'version of date from HTTP: %r != %r, from %r.'
                       % (m.group('date'), amz_date[:8], amz_date))
            return None
        now = util.utcnow()
        skew = datetime.timedelta(seconds=cfg['max_skew'])
        fmt = lambda d: d.strftime('%Y%m%dT%H%M%SZ')
        if when < now - skew:
            self.error(403, 'SignatureDoesNotMatch',
                       'Signature expired: %s is now earlier than %s (%s - 5 min.)'
                       % (amz_date, fmt(now - skew), fmt(now)))
            return None
        if when > now + skew:
            self.error(403, 'SignatureDoesNotMatch',
                       'Signature not yet current: %s is still later than %s (%s + 5 min.)'
                       % (amz_date, fmt(now + skew), fmt(now)))
            return None
        if 'host' not in signed:
            self.error(403, 'SignatureDoesNotMatch',
                       "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
            return None
        expected, canonical, to_sign = self.compute_signature(
            caller['secret'], ak, region, service, signed, amz_date)
        self.entry['sigv4'].update({'canonical_request': canonical, 'string_to_sign': to_sign,
                                    'expected': expected, 'got': m.group('sig')})
        if not hmac.compare_digest(expected, m.group('sig')):
            self.error(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH)
            return None
        self.entry['sigv4']['valid'] = True
        return caller

    def compute_signature(self, secret, ak, region, service, signed, amz_date):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest, HTTPHeaders
        from botocore.credentials import Credentials

        received = self.headers

        class _Verifier(SigV4Auth):
            # Canonicalize exactly the headers the client declared as signed.
            def headers_to_sign(self, request):
                out = HTTPHeaders()
                for name in signed:
                    for value in received.get_all(name) or []:
                        out[name] = value
                return out

        host = self.headers.get('Host', '127.0.0.1')
        request = AWSRequest(method=self.command, url='http://%s%s' % (host, self.path),
                             data=self.body)
        sha = self.headers.get('X-Amz-Content-SHA256')
        if sha and 'x-amz-content-sha256' in signed:
            request.headers['X-Amz-Content-SHA256'] = sha
        request.context['timestamp'] = amz_date
        verifier = _Verifier(Credentials(ak, secret), service, region)
        canonical = verifier.canonical_request(request)
        to_sign = verifier.string_to_sign(request, canonical)
        return verifier.signature(to_sign, request), canonical, to_sign

    # ------------------------------------------------------------ actions
    def check_common(self, cfg, names):
        p = self.params
        for field, member in names:
            if not p.get(field):
                self.validation("Value null at '%s' failed to satisfy constraint: "
                                "Member must not be null" % member)
                return False
        arn = p['RoleArn']
        if len(arn) < 20:
            self.validation("Value '%s' at 'roleArn' failed to satisfy constraint: Member must "
                            "have length greater than or equal to 20" % arn)
            return False
        name = p['RoleSessionName']
        if not 2 <= len(name) <= 64:
            self.validation("Value '%s' at 'roleSessionName' failed to satisfy constraint: "
                            "Member must have length %s" % (
                                name, 'greater than or equal to 2' if len(name) < 2
                                else 'less than or equal to 64'))
            return False
        if not SESSION_NAME_RE.match(name):
            self.validation("Value '%s' at 'roleSessionName' failed to satisfy constraint: "
                            "Member must satisfy regular expression pattern: [\\w+=,.@-]*" % name)
            return False
        if 'DurationSeconds' in p:
            try:
                duration = int(p['DurationSeconds'])
            except ValueError:
                self.validation("Value '%s' at 'durationSeconds' failed to satisfy constraint: "
                                "Member must be a number" % p['DurationSeconds'])
                return False
            if duration < 900:
                self.validation("Value '%d' at 'durationSeconds' failed to satisfy constraint: "
                                "Member must have value greater than or equal to 900" % duration)
                return False
            if duration > 43200:
                self.validation("Value '%d' at 'durationSeconds' failed to satisfy constraint: "
                                "Member must have value less than or equal to 43200" % duration)
                return False
        ext = p.get('ExternalId')
        if ext is not None and (not 2 <= len(ext) <= 1224 or not EXTERNAL_ID_RE.match(ext)):
            self.validation("Value '%s' at 'externalId' failed to satisfy constraint: Member "
                            "must satisfy regular expression pattern: [\\w+=,.@:\\/-]*" % ext)
            return False
        if cfg['roles'] is not None and arn not in cfg['roles']:
            return None
        return True

    def issue(self, cfg, action, caller_arn, source_ak):
        p = self.params
        arn = p['RoleArn']
        session = p['RoleSessionName']
        duration = int(p.get('DurationSeconds') or cfg['default_duration'])
        external = p.get('ExternalId', '')
        m = ROLE_ARN_RE.match(arn)
        account = m.group('account') if m else util_account()
        role_name = m.group('name') if m else arn.rsplit('/', 1)[-1]
        serial = self.state.next_serial(('sts', arn))
        ak = util.derived_access_key('sts', arn)
        secret = util.derived_secret('sts', arn, session, duration, external, serial)
        token = 'fakests:' + urlencode([
            ('Action', action), ('RoleArn', arn), ('RoleSessionName', session),
            ('DurationSeconds', str(duration)), ('ExternalId', external),
            ('Source', source_ak), ('Serial', str(serial))])
        expires = self.expiration(duration)
        role_id = 'AROA' + util.derive(17, 'roleid', arn)
        info = {
            'assumed_arn': 'arn:aws:sts::%s:assumed-role/%s/%s' % (account, role_name, session),
            'assumed_id': '%s:%s' % (role_id, session),
            'account': account,
            'role_arn': arn,
            'caller': caller_arn,
        }
        self.state.remember_issued(ak, secret, token, info)
        creds = {'AccessKeyId': ak, 'SecretAccessKey': secret, 'SessionToken': token,
                 'Expiration': util.iso8601(expires)}
        self.entry['issued'] = dict(creds, **info)
        return creds, info

    def respond(self, action, result_items):
        rid = util.request_id()
        if self.want_malformed():
            body = ('<%sResponse xmlns="%s">\n  <%sResult>\n    <Credentials>\n'
                    '      <AccessKeyId>ASIA') % (action, NS, action)
            return self.reply(200, body, 'text/xml', {'x-amzn-RequestId': rid})
        body = '<%sResponse xmlns="%s">\n  <%sResult>\n%s  </%sResult>\n' \
               '  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n' \
               '</%sResponse>\n' % (action, NS, action, ''.join(result_items), action, rid,
                                    action)
        self.reply(200, body, 'text/xml', {'x-amzn-RequestId': rid})

    def result_items(self, creds, info):
        missing = set(self.rule.get('missing_fields') or [])
        if missing:
            self.note_fault('missing_fields')
        items = []
        if 'Credentials' not in missing:
            inner = ''.join('      %s\n' % _el(k, v) for k, v in creds.items() if k not in missing)
            items.append('    <Credentials>\n%s    </Credentials>\n' % inner)
        if 'AssumedRoleUser' not in missing:
            items.append('    <AssumedRoleUser>\n      %s\n      %s\n    </AssumedRoleUser>\n'
                         % (_el('AssumedRoleId', info['assumed_id']), _el('Arn', info['assumed_arn'])))
        return items, missing

    def assume_role(self, caller):
        cfg = self.state.cfg('sts')
        ok = self.check_common(cfg, [('RoleArn', 'roleArn'), ('RoleSessionName', 'roleSessionName')])
        if ok is False:
            return
        if ok is None:
            return self.error(403, 'AccessDenied',
                              'User: %s is not authorized to perform: sts:AssumeRole on '
                              'resource: %s' % (caller['arn'], self.params['RoleArn']))
        creds, info = self.issue(cfg, 'AssumeRole', caller['arn'], caller['access_key_id'])
        items, missing = self.result_items(creds, info)
        if 'PackedPolicySize' not in missing and self.params.get('Policy'):
            items.append('    %s\n' % _el('PackedPolicySize', 6))
        if self.params.get('SourceIdentity') and 'SourceIdentity' not in missing:
            items.append('    %s\n' % _el('SourceIdentity', self.params['SourceIdentity']))
        self.respond('AssumeRole', items)

    def assume_role_with_web_identity(self):
        cfg = self.state.cfg('sts')
        ok = self.check_common(cfg, [('RoleArn', 'roleArn'), ('RoleSessionName', 'roleSessionName'),
                                     ('WebIdentityToken', 'webIdentityToken')])
        if ok is False:
            return
        if self.params['WebIdentityToken'] != cfg['web_identity_token']:
            return self.error(400, 'InvalidIdentityToken',
                              'The ID Token provided is not a valid JWT. (You may see this error '
                              'if you sent an Access Token)')
        if ok is None:
            return self.error(403, 'AccessDenied',
                              'Not authorized to perform sts:AssumeRoleWithWebIdentity')
        creds, info = self.issue(cfg, 'AssumeRoleWithWebIdentity', 'web-identity', 'web-identity')
        missing = set(self.rule.get('missing_fields') or [])
        items = []
        if 'SubjectFromWebIdentityToken' not in missing:
            items.append('    %s\n' % _el('SubjectFromWebIdentityToken', cfg['subject']))
        if 'Audience' not in missing:
            items.append('    %s\n' % _el('Audience', cfg['audience']))
        more, _ = self.result_items(creds, info)
        items[len(items):] = more
        if 'Provider' not in missing:
            items.append('    %s\n' % _el('Provider', cfg['provider']))
        self.respond('AssumeRoleWithWebIdentity', items)

    def get_caller_identity(self, caller):
        items = ['    %s\n' % _el('Arn', caller['arn']),
                 '    %s\n' % _el('UserId', caller['user_id']),
                 '    %s\n' % _el('Account', caller['account'])]
        self.respond('GetCallerIdentity', items)


def util_account():
    from .state import ACCOUNT_ID
    return ACCOUNT_ID


def _account_of(arn):
    if arn:
        parts = arn.split(':')
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    return util_account()
