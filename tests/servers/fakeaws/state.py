"""Shared mutable state: identities (config), fault rules, request log, tokens."""

import copy
import json
import threading
import time

ACCOUNT_ID = '123456789012'

# Deterministic defaults. Every key here may be changed with POST /config
# (or --config FILE); unknown keys are rejected so that typos fail loudly.
DEFAULT_CONFIG = {
    'imds': {
        'role_name': 'mantle-imds-role',
        'access_key_id': 'ASIAFAKEIMDS00000001',
        'secret_access_key': 'fakeImdsSecretAccessKey000000000000000001',
        'token': 'fake-imds-session-token-0001',
        'expires_in': 21600,          # seconds from "now" for Expiration
        'require_token': False,       # True: IMDSv2 only (HttpTokens=required)
        'token_ttl_override': None,   # seconds; tokens get this TTL instead of the requested one
        'region': 'us-east-1',
        'account_id': ACCOUNT_ID,
    },
    'ecs': {
        'authorization': None,        # required Authorization header value; None: not checked
        'path': None,                 # only this path serves credentials; None: any path
        'access_key_id': 'ASIAFAKEECS000000001',
        'secret_access_key': 'fakeEcsSecretAccessKey0000000000000000001',
        'token': 'fake-ecs-session-token-0001',
        'expires_in': 3600,
        'account_id': ACCOUNT_ID,     # None: field omitted (ECS style); set: EKS Pod Identity style
        'role_arn': None,             # set: RoleArn field added (ECS task role style)
    },
    'sts': {
        # Credentials allowed to sign AssumeRole / GetCallerIdentity.
        'source_credentials': [{
            'access_key_id': 'AKIAFAKESOURCE000001',
            'secret_access_key': 'fakeSourceSecretAccessKey00000000000001',
            'session_token': None,
            'arn': 'arn:aws:iam::%s:user/mantle-test' % ACCOUNT_ID,
        }],
        'accept_issued_credentials': True,   # credentials issued by this fake may sign (role chaining)
        'roles': None,                       # list of allowed RoleArns; None: any
        'web_identity_token': 'fake-web-identity-token',
        'default_duration': 3600,
        'max_skew': 300,                     # seconds, like the real service (5 min)
        'check_region': True,                # scope region must match the Host (sts.<r>.amazonaws.com)
        'subject': 'system:serviceaccount:default:mantle',
        'audience': 'sts.amazonaws.com',
        'provider': 'arn:aws:iam::%s:oidc-provider/oidc.fake.example' % ACCOUNT_ID,
    },
    'sso': {
        'access_token': 'fake-sso-access-token',
        'access_token_expired': False,       # True: the token above is rejected (401)
        'account_id': None,                  # None: any account; else only this one
        'role_name': None,                   # None: any role; else only this one
        'access_key_id': None,               # None: derived from account+role
        'secret_access_key': None,
        'session_token': None,
        'expires_in': 3600,
    },
    'proxy': {
        'extra_routes': {},                  # {"host.name": "service"} added to the built-in routing
    },
}

SERVICES = ('imds', 'ecs', 'sts', 'sso')

FAULT_KEYS = {
    # filters
    'method': str, 'path_prefix': str, 'action': str,
    # behaviours
    'status': int, 'error_code': str, 'error_message': str, 'throttle': bool,
    'delay': (int, float), 'hang': bool, 'fail_next': int, 'fail_status': int,
    'malformed': bool, 'missing_fields': list, 'expired': bool, 'empty_body': bool,
    'body_code': str,
}


class ConfigError(ValueError):
    pass


def _merge_service(current, update, service):
    for key, value in update.items():
        if key not in DEFAULT_CONFIG[service]:
            raise ConfigError('unknown %s config key %r' % (service, key))
        current[key] = copy.deepcopy(value)


def validate_rule(service, rule):
    if not isinstance(rule, dict):
        raise ConfigError('fault rule for %s must be an object' % service)
    for key, value in rule.items():
        if key not in FAULT_KEYS:
            raise ConfigError('unknown fault key %r (service %s)' % (key, service))
        want = FAULT_KEYS[key]
        if want is int and isinstance(value, bool):
            raise ConfigError('fault key %r must be an integer' % key)
        if not isinstance(value, want):
            raise ConfigError('fault key %r has the wrong type' % key)
    out = dict(rule)
    out['_remaining'] = rule.get('fail_next', 0)
    return out


class State:
    def __init__(self, config=None, faults=None):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._initial_config = config or {}
        self._initial_faults = faults or {}
        self.reset()

    # ---------------------------------------------------------------- reset
    def reset(self):
        with self.lock:
            self.config = copy.deepcopy(DEFAULT_CONFIG)
            self.faults = {s: [] for s in SERVICES}
            self.requests = []
            self.imds_tokens = {}         # token -> monotonic expiry
            self.issued = {}              # access key id -> list of (secret, token, info)
            self.serials = {}
            self.apply_config(self._initial_config)
            self.set_faults(self._initial_faults)
            self.changed.notify_all()

    # --------------------------------------------------------------- config
    def apply_config(self, update):
        if not isinstance(update, dict):
            raise ConfigError('config must be a JSON object')
        with self.lock:
            for service, values in update.items():
                if service not in DEFAULT_CONFIG:
                    raise ConfigError('unknown service %r in config' % service)
                if not isinstance(values, dict):
                    raise ConfigError('config for %s must be an object' % service)
                staged = copy.deepcopy(self.config[service])
                _merge_service(staged, values, service)
                self.config[service] = staged

    def cfg(self, service):
        with self.lock:
            return copy.deepcopy(self.config[service])

    # --------------------------------------------------------------- faults
    def set_faults(self, update):
        """{"svc": rule | [rules] | null}; replaces the rules of each named service."""
        if not isinstance(update, dict):
            raise ConfigError('faults must be a JSON object')
        staged = {}
        for service, rules in update.items():
            if service not in self.faults and service not in SERVICES:
                raise ConfigError('unknown service %r in faults' % service)
            if rules is None:
                rules = []
            elif isinstance(rules, dict):
                rules = [rules] if rules else []
            elif not isinstance(rules, list):
                raise ConfigError('faults for %s must be an object, a list or null' % service)
            staged[service] = [validate_rule(service, r) for r in rules]
        with self.lock:
            self.faults.update(staged)
            self.changed.notify_all()

    def public_faults(self):
        with self.lock:
            return {s: [{k: v for k, v in r.items() if not k.startswith('_')}
                        | ({'remaining': r['_remaining']} if 'fail_next' in r else {})
                        for r in rules]
                    for s, rules in self.faults.items()}

    def match_fault(self, service, method, path, action):
        with self.lock:
            for rule in self.faults.get(service, []):
                if 'method' in rule and rule['method'].upper() != method.upper():
                    continue
                if 'path_prefix' in rule and not path.startswith(rule['path_prefix']):
                    continue
                if 'action' in rule and rule['action'] != action:
                    continue
                return rule
            return None

    def rule_active(self, service, rule):
        with self.lock:
            return any(r is rule for r in self.faults.get(service, []))

    def take_failure(self, rule):
        """True if this request is one of the 'fail_next' ones (and counts it)."""
        with self.lock:
            if rule.get('_remaining', 0) > 0:
                rule['_remaining'] -= 1
                return True
            return False

    # ------------------------------------------------------------- requests
    def log_request(self, entry):
        with self.lock:
            entry['seq'] = len(self.requests) + 1
            self.requests.append(entry)
            if len(self.requests) > 20000:
                del self.requests[:10000]
            return entry

    def request_log(self, service=None):
        with self.lock:
            items = [e for e in self.requests if service is None or e['service'] == service]
            return json.loads(json.dumps(items))

    # ----------------------------------------------------------- IMDS tokens
    def imds_new_token(self, token, ttl):
        with self.lock:
            self.imds_tokens[token] = time.monotonic() + ttl

    def imds_token_valid(self, token):
        with self.lock:
            expiry = self.imds_tokens.get(token)
            return expiry is not None and time.monotonic() < expiry

    def imds_expire_tokens(self):
        with self.lock:
            n = len(self.imds_tokens)
            for token in self.imds_tokens:
                self.imds_tokens[token] = 0.0
            return n

    # ------------------------------------------------ STS issued credentials
    def next_serial(self, key):
        with self.lock:
            self.serials[key] = self.serials.get(key, 0) + 1
            return self.serials[key]

    def remember_issued(self, access_key, secret, token, info):
        with self.lock:
            self.issued.setdefault(access_key, []).append((secret, token, info))

    def find_issued(self, access_key, token):
        with self.lock:
            for secret, tok, info in self.issued.get(access_key, []):
                if tok == token:
                    return secret, info
            return None

    def issued_count(self):
        with self.lock:
            return sum(len(v) for v in self.issued.values())
