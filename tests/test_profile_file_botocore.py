"""Differential test: our config/credentials parser against botocore.

Generates seeded pairs of config and credentials files full of the format's quirks (comments,
nested blocks, continuation lines, CRLF and lone CR, odd whitespace, [profile default] against
[default], [DEFAULT], repeated sections and keys, shlex-quoted names, malformed lines, invalid
UTF-8) and checks that tests/driver_profile_file prints the same merged view as botocore's
session.full_config, and that it fails whenever botocore fails.

Deliberate differences (see src/credentials/profile_file.c) are applied to botocore's view:
credentials-file sections named "profile NAME" are dropped, and a few generated cases that botocore
accepts but we reject on purpose (NUL bytes, over-long lines) must make us fail.

Environment: MANTLE_BUILD_DIR (required), PROFILE_DIFF_SEED, PROFILE_DIFF_CASES.
Must run with Debian's /usr/bin/python3 (python3-botocore).
"""
import json
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile

import botocore.exceptions
import botocore.session

MAX_LINE = 64 * 1024

NAMES = ["default", "dev", "prod", "a", "b-1", "x.y", "user@corp", "Dev", "ümlaut"]
KEYS = ["region", "output", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
        "role_arn", "source_profile", "sso_session", "credential_process", "x", "a-b", "key.1"]
SUB_KEYS = ["max_concurrent_requests", "addressing_style", "Signature_Version", "endpoint_url", "k"]
SPACES = [" ", "  ", "\t", " \t ", "\u00a0", "\u3000", "\x0c", "\u2003"]


class Gen:
    """Builds one file as a list of lines (str, or bytes for raw junk), tracking what is defined so
    that errors (duplicates and so on) are only produced on purpose."""

    def __init__(self, rng, credentials):
        self.rng = rng
        self.credentials = credentials
        self.lines = []
        self.values = []  # every value token written, to check messages never echo one
        self.sections = set()
        self.keys = set()
        self.stricter = False  # a case we reject on purpose while botocore accepts it

    def value(self):
        r = self.rng
        token = "v%08x" % r.getrandbits(32)
        self.values.append(token)
        kind = r.random()
        if kind < 0.08:
            return token + " # not a comment"
        if kind < 0.14:
            return token + ";x=y:z"
        if kind < 0.18:
            return "a=b:" + token
        if kind < 0.22:
            return token + r.choice(SPACES) + "mid"
        if kind < 0.25:
            return "[" + token + "]"
        if kind < 0.28:
            return "\u00e9\u65e5" + token
        return token

    def ws(self, p=0.3):
        return self.rng.choice(SPACES) if self.rng.random() < p else ""

    def header(self, name_override=None):
        r = self.rng
        name = name_override or r.choice(NAMES)
        if self.credentials:
            forms = ["[%s]" % name, "[%s]" % name, "[profile %s]" % name, "[ %s ]" % name,
                     "[%s] ; c" % name, "[%s]" % name.upper(), "[DEFAULT]"]
        else:
            forms = ["[profile %s]" % name, "[profile %s]" % name, "[default]",
                     "[profile default]", "[profile  %s]" % name, "[profile\t%s]" % name,
                     "[ profile %s ]" % name, "[profile %s ]" % name, "[profile \"%s\"]" % name,
                     "[profile '%s x']" % name, "[profile%s]" % name, "[profiles %s]" % name,
                     "[profile %s extra]" % name, "[profile \"%s]" % name, "[%s]" % name,
                     "[sso-session %s]" % name, "[sso-session  %s]" % name,
                     "[services %s]" % name, "[default] # c", "[default ]", "[DEFAULT]",
                     "[profile %s] ; trailing" % name, "[profile a\\ %s]" % name]
        text = r.choice(forms)
        if text == "[DEFAULT]" and r.random() < 0.5:
            text = "[%s]" % name  # keep [DEFAULT] rare
        return text

    def add_section(self, allow_dup=False):
        text = self.header()
        tries = 0
        while text in self.sections and text != "[DEFAULT]" and not allow_dup and tries < 20:
            text = self.header()
            tries += 1
        if text in self.sections and text != "[DEFAULT]" and not allow_dup:
            return False
        key = header_name(text)
        self.sections.add(text)
        self.cur = key
        self.lines.append(self.ws(0.1) + text)
        return True

    def add_key(self, allow_dup=False):
        r = self.rng
        key = r.choice(KEYS)
        if r.random() < 0.15:
            key = key.upper() if r.random() < 0.5 else key.capitalize()
        if (self.cur, key.lower()) in self.keys and not allow_dup:
            return
        self.keys.add((self.cur, key.lower()))
        delim = r.choice(["=", " = ", ":", " : ", "\t=\t", "=  ", " =", "\u00a0=\u00a0"])
        indent = self.ws(0.1)
        kind = r.random()
        if kind < 0.15:
            # a nested block
            self.lines.append(indent + key + delim.rstrip())
            sub_indent = indent + r.choice(["  ", "    ", "\t", " "])
            for _ in range(r.randint(1, 3)):
                roll = r.random()
                if roll < 0.1:
                    self.lines.append("")
                elif roll < 0.18:
                    self.lines.append(sub_indent + "# comment")
                elif roll < 0.24 and r.random() < 0.3:
                    self.lines.append(sub_indent + "no_equals_" + self.value())  # error
                elif roll < 0.28:
                    self.lines.append(sub_indent + "a = 1\x0bb = " + self.value())
                else:
                    self.lines.append(sub_indent + r.choice(SUB_KEYS) + r.choice(["=", " = ", " =  "]) + self.value())
        elif kind < 0.22:
            # continuation lines of a non-empty value
            self.lines.append(indent + key + delim + self.value())
            for _ in range(r.randint(1, 2)):
                if r.random() < 0.3:
                    self.lines.append(self.ws(0.5))
                self.lines.append(indent + r.choice(["  ", "\t", "   "]) + r.choice(
                    [self.value(), "[profile zzz]", "k = " + self.value()]))
        elif kind < 0.26:
            self.lines.append(indent + key + delim)  # empty value
        else:
            self.lines.append(indent + key + delim + self.value())

    def add_noise(self):
        r = self.rng
        self.lines.append(r.choice(["", "# comment", "; comment", "   # indented comment", " ",
                                    "\t", "#" + self.value(), "\u00a0", ";;"]))

    def add_error(self):
        r = self.rng
        kind = r.randrange(9)
        if kind == 0:
            self.lines.append(self.value())  # a line with no '=' (like a pasted secret)
        elif kind == 1:
            self.lines.insert(0, "region = " + self.value())  # before any section
        elif kind == 2 and self.sections:
            dup = r.choice(sorted(self.sections))
            if dup != "[DEFAULT]":
                self.lines.append(dup)
        elif kind == 3:
            self.lines.append(r.choice(KEYS) + " = " + self.value())
            self.lines.append(r.choice(KEYS).upper() + " = " + self.value())
        elif kind == 4:
            self.lines.append(b"region = \xff\xfe" + self.value().encode())
        elif kind == 5:
            self.lines.insert(0, "\ufeff[default]")
        elif kind == 6:
            self.lines.append("= " + self.value())
        elif kind == 7:
            self.lines.append(r.choice(["[]", "[profile dev", "[ ]x"]))
        else:
            self.lines.append(b"k = \xed\xa0\x80")  # a UTF-8-encoded surrogate

    def add_stricter(self):
        self.stricter = True
        if self.rng.random() < 0.5:
            self.lines.append("region = a\x00" + self.value())
        else:
            self.lines.append("k = " + "x" * (MAX_LINE + 10))

    def build(self):
        r = self.rng
        eol = r.choice(["\n", "\n", "\r\n", "\r", "mixed"])
        out = b""
        for i, line in enumerate(self.lines):
            data = line if isinstance(line, bytes) else line.encode("utf-8")
            end = r.choice(["\n", "\r\n", "\r"]) if eol == "mixed" else eol
            if i == len(self.lines) - 1 and r.random() < 0.3:
                end = ""
            out += data + end.encode()
        return out


def header_name(text):
    return text[1:text.rindex("]")]


def generate(rng, credentials, error_rate):
    g = Gen(rng, credentials)
    g.cur = None
    if rng.random() < 0.1:
        g.add_noise()
    for _ in range(rng.randint(0, 5)):
        if not g.add_section(allow_dup=False):
            continue
        for _ in range(rng.randint(0, 5)):
            if rng.random() < 0.2:
                g.add_noise()
            g.add_key()
    if rng.random() < error_rate:
        g.add_error()
    if rng.random() < 0.03:
        g.add_stricter()
    return g


def botocore_view(cfg_path, cred_path):
    os.environ["AWS_CONFIG_FILE"] = cfg_path
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = cred_path
    try:
        full = botocore.session.Session().full_config
    except botocore.exceptions.ConfigParseError as e:
        return None, e
    services = {}
    for key, values in full.items():
        if key.startswith("services"):  # what the AWS CLI v2's build_profile_map does
            try:
                parts = shlex.split(key)
            except ValueError:
                continue
            if len(parts) == 2:
                services[parts[1]] = values
    profiles = {k: v for k, v in full["profiles"].items() if not re.match(r"profile[ \t]", k)}
    return {"profiles": profiles, "sso_sessions": full.get("sso_sessions", {}), "services": services}, None


def our_view(driver, cfg_path, cred_path):
    r = subprocess.run([driver, cfg_path, cred_path], capture_output=True, timeout=60)
    if r.returncode not in (0, 1) or r.stderr:
        return None, "driver crashed (rc=%d): %s" % (r.returncode, r.stderr.decode(errors="replace")[-2000:])
    out = json.loads(r.stdout)
    if "error" in out:
        return None, out["error"]
    return out, None


def check(driver, tmp, cfg, cred, values, stricter):
    """Returns None when the views agree, else a description of the mismatch."""
    cfg_path = os.path.join(tmp, "config")
    cred_path = os.path.join(tmp, "credentials")
    for path, data in ((cfg_path, cfg), (cred_path, cred)):
        if data is None:  # a missing file is no error for either side
            if os.path.exists(path):
                os.unlink(path)
            continue
        with open(path, "wb") as f:
            f.write(data)
    theirs, their_err = botocore_view(cfg_path, cred_path)
    ours, our_err = our_view(driver, cfg_path, cred_path)
    if isinstance(our_err, str):
        return our_err
    if our_err:
        msg = our_err["message"]
        m = re.match(r"(.*):(\d+): ", msg)
        if our_err["code"] != "config" or not m or m.group(1) not in (cfg_path, cred_path):
            return "error message without file:line: %r" % msg
        data = cfg if m.group(1) == cfg_path else cred
        if data is None or int(m.group(2)) > len(data.splitlines()):
            return "error line %s beyond the file: %r" % (m.group(2), msg)
        for v in values:
            if v in msg:
                return "error message leaks a value: %r" % msg
        if their_err is None and not stricter:
            return "we fail (%s) where botocore accepts: %r" % (msg, theirs)
        if their_err is not None and not stricter:
            inner = their_err.kwargs.get("error")
            if their_err.kwargs.get("path") != m.group(1):
                return "we fail in %s, botocore in %s" % (m.group(1), their_err.kwargs.get("path"))
            line = getattr(inner, "lineno", None)
            if line is None and getattr(inner, "errors", None):
                line = inner.errors[0][0]
            if line is not None and int(m.group(2)) > line:
                return "we report line %s, botocore fails at line %d: %r" % (m.group(2), line, msg)
        return None
    if their_err is not None:
        return "botocore fails (%r) but we accept: %r" % (their_err.kwargs.get("error"), ours)
    if stricter:
        return "expected a deliberate error (NUL byte or long line), got %r" % (ours,)
    if ours != theirs:
        return "views differ:\n  ours:     %r\n  botocore: %r" % (ours, theirs)
    return None


def minimize(driver, tmp, cfg, cred, values, stricter):
    """Greedily drops lines while the case still fails, for a readable report."""
    if cfg is None or cred is None:
        return cfg, cred
    files = [cfg.splitlines(keepends=True), cred.splitlines(keepends=True)]
    changed = True
    while changed:
        changed = False
        for which in (0, 1):
            i = 0
            while i < len(files[which]):
                trial = [list(files[0]), list(files[1])]
                del trial[which][i]
                if check(driver, tmp, b"".join(trial[0]), b"".join(trial[1]), values, stricter):
                    files = trial
                    changed = True
                else:
                    i += 1
    return b"".join(files[0]), b"".join(files[1])


def main():
    build = os.environ.get("MANTLE_BUILD_DIR")
    if not build:
        print("MANTLE_BUILD_DIR is not set")
        return 2
    driver = os.path.join(build, "tests", "driver_profile_file")
    seed = int(os.environ.get("PROFILE_DIFF_SEED", "20250611"))
    cases = int(os.environ.get("PROFILE_DIFF_CASES", "400"))
    print("seed %d, %d cases (set PROFILE_DIFF_SEED / PROFILE_DIFF_CASES to change)" % (seed, cases))
    passed = failed = errors_both = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(cases):
            rng = random.Random(seed * 1000003 + i)
            error_rate = rng.choice([0.0, 0.15, 0.4])
            gc = generate(rng, False, error_rate)
            gk = generate(rng, True, error_rate) if rng.random() < 0.8 else Gen(rng, True)
            cfg, cred = gc.build(), gk.build()
            if rng.random() < 0.05:
                cfg = None
            elif rng.random() < 0.05:
                cred = None
            values = gc.values + gk.values
            stricter = (cfg is not None and gc.stricter) or (cred is not None and gk.stricter)
            problem = check(driver, tmp, cfg, cred, values, stricter)
            if problem is None:
                passed += 1
                if botocore_view(os.path.join(tmp, "config"), os.path.join(tmp, "credentials"))[1]:
                    errors_both += 1
                continue
            failed += 1
            small_cfg, small_cred = minimize(driver, tmp, cfg, cred, values, stricter)
            print("FAIL case %d (seed %d): %s" % (i, seed, problem))
            print("  minimal config:      %r" % small_cfg)
            print("  minimal credentials: %r" % small_cred)
            print("  still: %s" % check(driver, tmp, small_cfg, small_cred, values, stricter))
            if failed >= 5:
                print("stopping after 5 failures")
                break
    print("(%d of the passing cases were files botocore rejects)" % errors_both)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
