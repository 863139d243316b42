#!/usr/bin/python3
"""End-to-end tests of mantle-emulator ($MANTLE_BUILD_DIR/tools/mantle-emulator).

Requests are signed with botocore's SigV4Auth (the reference signer) and sent with http.client
so every byte on the wire is under control. Covers every endpoint (JSON and streaming), the SigV4
checks (each single-byte tamper of each signed part is rejected), API keys, every fault option,
the test endpoints and the process lifecycle. Prints "N passed, 0 failed"; exits 1 on failure.
"""
import base64
import datetime
import hashlib
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

BUILD = os.environ.get("MANTLE_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build")
EMULATOR = os.path.join(BUILD, "tools", "mantle-emulator")

SERVICE, REGION = "bedrock-mantle", "us-east-1"
STATIC = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
TEMP = Credentials("ASIATEMPEXAMPLE", "temp/secret+KEY", "FQoGZXIvYXdzEXAMPLE+token/=")
EXPIRED = Credentials("ASIAEXPIREDEXAMPLE", "expired-secret", "expired-token")
API_KEY = "bedrock-api-key-emulator-test"

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}"[:2000], flush=True)
    return cond


# ---- the emulator process ----

class Emulator:
    def __init__(self, *args, stdin_watch=True, env=None):
        argv = [EMULATOR, *args] + (["--stdin-watch"] if stdin_watch else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://"):
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r} "
                               f"{self.proc.stderr.read().decode()[-2000:]}")
        self.url = line
        parts = urllib.parse.urlsplit(line)
        self.host, self.port = parts.hostname, parts.port
        self.netloc = parts.netloc

    def stop(self):
        """Closes stdin (--stdin-watch) and returns (exit status, stderr)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self.proc.stderr.read().decode()


class Response:
    def __init__(self, status, headers, body, complete=True):
        self.status, self.headers, self.body, self.complete = status, headers, body, complete

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)


def raw(emu, method, path, body=b"", headers=None, timeout=20):
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=timeout)
    hdrs = dict(headers or {})
    hdrs.setdefault("Host", emu.netloc)
    conn.request(method, path, body=body if body else None, headers=hdrs)
    r = conn.getresponse()
    complete = True
    try:
        data = r.read()
    except http.client.IncompleteRead as e:
        data, complete = e.partial, False
    result = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data, complete)
    conn.close()
    return result


class TimedSigV4(SigV4Auth):
    """botocore's SigV4Auth.add_auth with a chosen signing time."""

    def __init__(self, creds, service, region, when):
        super().__init__(creds, service, region)
        self.when = when

    def add_auth(self, request):
        request.context["timestamp"] = self.when.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


class SignEverything(TimedSigV4):
    """A client that also signs the headers botocore leaves out (user-agent, expect...)."""

    def headers_to_sign(self, request):
        header_map = super().headers_to_sign(request)
        for name, value in request.headers.items():
            if name.lower() not in header_map:
                header_map[name.lower()] = value
        return header_map


def sign(emu, method, path, body=b"", creds=STATIC, service=SERVICE, region=REGION,
         headers=None, when=None, signer=TimedSigV4):
    """Returns the headers botocore signs for this request (Host included and signed)."""
    hdrs = {"Host": emu.netloc}
    if body:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    req = AWSRequest(method=method, url=emu.url + path, data=body, headers=hdrs)
    when = when or datetime.datetime.now(datetime.timezone.utc)
    signer(creds, service, region, when).add_auth(req)
    return dict(req.headers.items())


def signed(emu, method, path, body=b"", **kw):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    extra = kw.pop("send_headers", {})
    hdrs = sign(emu, method, path, body, **kw)
    hdrs.update(extra)
    return raw(emu, method, path, body, hdrs)


def events(body):
    """Parses an SSE body into [(event name or None, data string)]."""
    out = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        out.append((name, "\n".join(data)))
    return out


def flip(c):
    """A different character of the same kind, so the tampered value stays well-formed."""
    if c.isdigit():
        return str((int(c) + 1) % 10)
    if "a" <= c <= "z":
        return chr((ord(c) - 97 + 1) % 26 + 97)
    if "A" <= c <= "Z":
        return chr((ord(c) - 65 + 1) % 26 + 65)
    return "y" if c == "x" else "x"


def amz_now(offset=0):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)


# ---- happy paths: every endpoint, JSON and streaming ----

def test_common_headers(name, r):
    check(f"{name}: x-amzn-requestid", bool(r.header("x-amzn-requestid")), r.headers)
    check(f"{name}: x-request-id", bool(r.header("x-request-id")), r.headers)


def test_responses(emu, root):
    body = {"model": "openai.gpt-oss-120b", "input": "hello big world"}
    r = signed(emu, "POST", root + "/responses", body)
    check(f"{root} responses create 200", r.status == 200, (r.status, r.body))
    test_common_headers(f"{root} responses", r)
    resp = r.json()
    check("responses id", resp["id"].startswith("resp_") and len(resp["id"]) == 37, resp["id"])
    check("responses object", resp["object"] == "response" and resp["status"] == "completed")
    check("responses model echoed", resp["model"] == "openai.gpt-oss-120b")
    text = resp["output"][0]["content"][0]["text"]
    check("responses echo text", text == "Echo: hello big world", text)
    check("responses usage = word counts",
          resp["usage"]["input_tokens"] == 3 and resp["usage"]["output_tokens"] == 4
          and resp["usage"]["total_tokens"] == 7, resp["usage"])
    r2 = signed(emu, "POST", root + "/responses", body)
    check("responses id deterministic", r2.json()["id"] == resp["id"])

    rid = resp["id"]
    g = signed(emu, "GET", f"{root}/responses/{rid}")
    check("responses retrieve", g.status == 200 and g.json()["id"] == rid, (g.status, g.body))
    items = signed(emu, "GET", f"{root}/responses/{rid}/input_items")
    check("responses input_items", items.status == 200 and items.json()["object"] == "list"
          and items.json()["data"][0]["content"][0]["text"] == "hello big world", items.body)

    # An array input: the last user message is echoed; input_items keep order and ids.
    conv = {"model": "m", "input": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second one"}], "max_output_tokens": 2}
    c = signed(emu, "POST", root + "/responses", conv)
    cj = c.json()
    check("responses array input + max_output_tokens",
          c.status == 200 and cj["status"] == "incomplete"
          and cj["output"][0]["content"][0]["text"] == "Echo: second"
          and cj["incomplete_details"] == {"reason": "max_output_tokens"}
          and cj["usage"]["input_tokens"] == 6, c.body)
    asc = signed(emu, "GET", f"{root}/responses/{cj['id']}/input_items?limit=2&order=asc").json()
    desc = signed(emu, "GET", f"{root}/responses/{cj['id']}/input_items").json()
    check("input_items asc + limit", len(asc["data"]) == 2 and asc["has_more"] is True
          and asc["data"][0]["role"] == "system", asc)
    check("input_items desc default", len(desc["data"]) == 4
          and desc["data"][0]["content"][0]["text"] == "second one"
          and all(i["id"].startswith("msg_") for i in desc["data"]), desc)

    d = signed(emu, "DELETE", f"{root}/responses/{rid}")
    check("responses delete", d.status == 200 and d.json() == {
        "id": rid, "object": "response", "deleted": True}, d.body)
    g = signed(emu, "GET", f"{root}/responses/{rid}")
    check("responses retrieve after delete 404", g.status == 404
          and g.json()["error"]["type"] == "invalid_request_error", g.body)

    # Background: queued, cancellable; a foreground response is not.
    bg = signed(emu, "POST", root + "/responses", {"model": "m", "input": "bg", "background": True})
    check("background create queued", bg.status == 200 and bg.json()["status"] == "queued", bg.body)
    cancel = signed(emu, "POST", f"{root}/responses/{bg.json()['id']}/cancel")
    check("cancel background", cancel.status == 200 and cancel.json()["status"] == "cancelled",
          cancel.body)
    fg = signed(emu, "POST", root + "/responses", {"model": "m", "input": "fg"})
    cancel = signed(emu, "POST", f"{root}/responses/{fg.json()['id']}/cancel")
    check("cancel foreground 400", cancel.status == 400 and "error" in cancel.json(), cancel.body)

    # Streaming: the real event sequence, word deltas that add up to the text.
    s = signed(emu, "POST", root + "/responses", {"model": "m", "input": "stream me", "stream": True})
    check("responses stream content-type", s.status == 200 and
          s.header("content-type") == "text/event-stream", s.headers)
    evs = events(s.body)
    names = [n for n, _ in evs]
    expected = ["response.created", "response.in_progress", "response.output_item.added",
                "response.content_part.added"] + ["response.output_text.delta"] * 3 + [
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"]
    check("responses stream event sequence", names == expected, names)
    datas = [json.loads(d) for _, d in evs]
    check("responses stream sequence numbers",
          [d["sequence_number"] for d in datas] == list(range(len(datas))))
    deltas = [d["delta"] for d in datas if d["type"] == "response.output_text.delta"]
    check("responses stream deltas", deltas == ["Echo:", " stream", " me"], deltas)
    check("responses stream completed", datas[-1]["response"]["status"] == "completed"
          and datas[-1]["response"]["output"][0]["content"][0]["text"] == "Echo: stream me")


def test_chat(emu, root):
    body = {"model": "openai.gpt-oss-20b", "messages": [
        {"role": "system", "content": "sys"}, {"role": "user", "content": "say hi"}]}
    r = signed(emu, "POST", root + "/chat/completions", body)
    check(f"{root} chat 200", r.status == 200, (r.status, r.body))
    test_common_headers(f"{root} chat", r)
    j = r.json()
    check("chat shape", j["object"] == "chat.completion" and j["id"].startswith("chatcmpl-")
          and j["model"] == "openai.gpt-oss-20b"
          and j["choices"][0]["message"] == {"role": "assistant", "content": "Echo: say hi",
                                             "refusal": None, "annotations": []}
          and j["choices"][0]["finish_reason"] == "stop", j)
    check("chat usage", j["usage"]["prompt_tokens"] == 3 and j["usage"]["completion_tokens"] == 3,
          j["usage"])
    body["stream"], body["stream_options"] = True, {"include_usage": True}
    s = signed(emu, "POST", root + "/chat/completions", body)
    evs = events(s.body)
    check("chat stream ends with [DONE]", s.status == 200 and evs[-1] == (None, "[DONE]"), evs[-2:])
    chunks = [json.loads(d) for _, d in evs[:-1]]
    check("chat stream chunks", all(c["object"] == "chat.completion.chunk" for c in chunks)
          and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
          and "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
          == "Echo: say hi" and chunks[-2]["choices"][0]["finish_reason"] == "stop"
          and chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3,
          chunks)


def test_models(emu, root):
    r = signed(emu, "GET", root + "/models")
    j = r.json()
    check(f"{root} models list", r.status == 200 and j["object"] == "list" and len(j["data"]) > 0
          and all(m["object"] == "model" for m in j["data"]), r.body)
    r = signed(emu, "GET", root + "/models/openai.gpt-oss-120b")
    check(f"{root} models get", r.status == 200 and r.json()["id"] == "openai.gpt-oss-120b", r.body)
    r = signed(emu, "GET", root + "/models/does-not-exist")
    e = r.json().get("error", {})
    check(f"{root} models does-not-exist 404", r.status == 404 and
          set(e) == {"message", "type", "param", "code"}, r.body)


def test_anthropic(emu):
    body = {"model": "anthropic.claude-sonnet-4-5", "max_tokens": 100,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi claude"}]}]}
    av = {"anthropic-version": "2023-06-01"}
    r = signed(emu, "POST", "/anthropic/v1/messages", body, headers=av)
    check("anthropic 200", r.status == 200, (r.status, r.body))
    test_common_headers("anthropic", r)
    j = r.json()
    check("anthropic shape", j["type"] == "message" and j["id"].startswith("msg_")
          and j["content"] == [{"type": "text", "text": "Echo: hi claude"}]
          and j["stop_reason"] == "end_turn" and j["usage"]["input_tokens"] == 2
          and j["usage"]["output_tokens"] == 3, j)
    body["stream"] = True
    s = signed(emu, "POST", "/anthropic/v1/messages", body, headers=av)
    evs = events(s.body)
    names = [n for n, _ in evs]
    check("anthropic stream sequence", names == [
        "message_start", "content_block_start", "ping", "content_block_delta",
        "content_block_delta", "content_block_delta", "content_block_stop", "message_delta",
        "message_stop"], names)
    text = "".join(json.loads(d)["delta"]["text"] for n, d in evs if n == "content_block_delta")
    check("anthropic stream text", text == "Echo: hi claude", text)
    r = signed(emu, "POST", "/anthropic/v1/messages", body)
    check("anthropic without anthropic-version 400", r.status == 400 and
          r.json()["type"] == "error" and r.json()["error"]["type"] == "invalid_request_error",
          r.body)
    r = signed(emu, "POST", "/anthropic/v1/messages",
               dict(body, model="does-not-exist", stream=False), headers=av)
    check("anthropic does-not-exist 404", r.status == 404 and
          r.json()["error"]["type"] == "not_found_error", r.body)


def test_errors(emu):
    r = signed(emu, "POST", "/v1/chat/completions", b'{"model": "m", "messages": [')
    check("bad JSON 400 shape", r.status == 400 and set(r.json()) == {"error"} and
          r.json()["error"]["type"] == "invalid_request_error" and
          r.json()["error"]["param"] is None and r.json()["error"]["code"] is None and
          isinstance(r.json()["error"]["message"], str), r.body)
    r = signed(emu, "POST", "/v1/responses", {"model": "does-not-exist", "input": "x"})
    check("responses does-not-exist 404", r.status == 404 and
          r.json()["error"]["code"] == "model_not_found", r.body)
    r = signed(emu, "POST", "/v1/chat/completions", {"model": "does-not-exist", "messages": []})
    check("chat does-not-exist 404", r.status == 404, r.body)
    r = signed(emu, "GET", "/v1/nothing-here")
    check("unknown path 404", r.status == 404 and "error" in r.json(), r.body)
    r = signed(emu, "PUT", "/v1/chat/completions", {"model": "m", "messages": []})
    check("wrong method 405", r.status == 405 and "error" in r.json(), r.body)
    r = raw(emu, "POST", "/v1/responses", b"x" * (16 * 1024 * 1024 + 1),
            {"Authorization": "Bearer " + API_KEY})
    check("body over 16 MiB: 413", r.status == 413 and r.header("x-amzn-requestid"), r.headers)


# ---- SigV4 ----

def expect_auth_error(name, r, status, errtype, message_start=None):
    ok = r.status == status and (r.header("x-amzn-errortype") or "").split(":")[0] == errtype
    try:
        msg = r.json().get("message", "")
    except ValueError:
        msg = None
    ok = ok and isinstance(msg, str) and set(r.json()) == {"message"}
    if message_start is not None:
        ok = ok and msg.startswith(message_start)
    return check(name, ok, (r.status, r.header("x-amzn-errortype"), r.body[:300]))


MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.")


def tamper_cases(emu):
    """Yields (name, method, path, body, headers) for each single-byte tamper of each part."""
    path, body = "/v1/responses", json.dumps({"model": "m", "input": "tamper test"}).encode()
    base = sign(emu, "POST", path, body, creds=TEMP, headers={"X-Test-Header": "abc123"})
    sig_at = base["Authorization"].index("Signature=") + 10
    auth = base["Authorization"]
    for i in range(sig_at, len(auth)):
        yield "signature", "POST", path, body, dict(base, Authorization=auth[:i] + flip(auth[i]) + auth[i + 1:])
    for name in ("Content-Type", "X-Test-Header", "Host"):
        v = base[name]
        for i in range(len(v)):
            yield f"header {name}", "POST", path, body, dict(base, **{name: v[:i] + flip(v[i]) + v[i + 1:]})
    for i in range(len(body)):
        yield "body", "POST", path, body[:i] + flip(chr(body[i])).encode() + body[i + 1:], base
    for i in range(1, len(path)):
        yield "path", "POST", path[:i] + flip(path[i]) + path[i + 1:], body, base
    # The date: a different digit that keeps a valid timestamp (a malformed one is tested apart).
    d = base["X-Amz-Date"]
    for i, c in enumerate(d):
        if not c.isdigit():
            continue
        for n in "0123456789":
            cand = d[:i] + n + d[i + 1:]
            try:
                datetime.datetime.strptime(cand, "%Y%m%dT%H%M%SZ")
            except ValueError:
                continue
            if n != c:
                yield "x-amz-date", "POST", path, body, dict(base, **{"X-Amz-Date": cand})
                break
    cred_at = auth.index("Credential=") + 11
    akid_end = auth.index("/", cred_at)
    for i in range(cred_at, akid_end):
        yield "access key", "POST", path, body, dict(base, Authorization=auth[:i] + flip(auth[i]) + auth[i + 1:])
    for i in range(akid_end + 1, akid_end + 9):
        yield "scope date", "POST", path, body, dict(base, Authorization=auth[:i] + flip(auth[i]) + auth[i + 1:])
    tok = base["X-Amz-Security-Token"]
    for i in range(len(tok)):
        yield "session token", "POST", path, body, dict(base, **{"X-Amz-Security-Token": tok[:i] + flip(tok[i]) + tok[i + 1:]})
    # The query of a GET.
    qpath = "/v1/models?limit=5&order=asc"
    qbase = sign(emu, "GET", qpath, creds=TEMP)
    for i in range(qpath.index("?") + 1, len(qpath)):
        yield "query", "GET", qpath[:i] + flip(qpath[i]) + qpath[i + 1:], b"", qbase
    # A signed X-Amz-Content-Sha256 (as the openai-python provider sends it).
    sha = hashlib.sha256(body).hexdigest()
    sbase = sign(emu, "POST", path, body, creds=TEMP, headers={"X-Amz-Content-Sha256": sha})
    for i in range(len(sha)):
        yield "x-amz-content-sha256", "POST", path, body, dict(sbase, **{"X-Amz-Content-Sha256": sha[:i] + flip(sha[i]) + sha[i + 1:]})
    yield "body under x-amz-content-sha256", "POST", path, body[:-2] + b"x}", sbase


def test_sigv4(emu):
    body = {"model": "m", "input": "hi"}
    r = signed(emu, "POST", "/v1/responses", body, creds=TEMP)
    check("temporary credentials accepted", r.status == 200, r.body)
    raw_body = json.dumps(body).encode()
    sha = {"X-Amz-Content-Sha256": hashlib.sha256(raw_body).hexdigest()}
    r = signed(emu, "POST", "/openai/v1/responses", raw_body, creds=TEMP, headers=sha)
    check("signed x-amz-content-sha256 accepted", r.status == 200, r.body)
    r = signed(emu, "GET", "/v1/models/a%20b%2Fc?q=a%2Fb&x=1&x=0&empty=")
    check("encoded path and repeated query keys accepted", r.status == 200, r.body)
    r = signed(emu, "POST", "/v1/responses", body, headers={"X-Multi": "a   b"},
               send_headers={})
    check("header value with inner blanks accepted", r.status == 200, r.body)

    # Each single-byte tamper is rejected with 403.
    counts, bad = {}, {}
    for name, method, path, tbody, hdrs in tamper_cases(emu):
        r = raw(emu, method, path, tbody, hdrs)
        counts[name] = counts.get(name, 0) + 1
        et = (r.header("x-amzn-errortype") or "").split(":")[0]
        if r.status != 403 or et not in ("InvalidSignatureException",
                                         "UnrecognizedClientException"):
            bad.setdefault(name, []).append((path, r.status, et, r.body[:200]))
    for name, n in counts.items():
        check(f"tamper {name}: all {n} single-byte changes rejected with 403", name not in bad,
              bad.get(name, [])[:3])

    expect_auth_error("wrong service", signed(emu, "GET", "/v1/models", service="bedrock-runtime"),
                      403, "InvalidSignatureException",
                      "Credential should be scoped to correct service: 'bedrock-mantle'.")
    expect_auth_error("wrong region", signed(emu, "GET", "/v1/models", region="us-west-2"), 403,
                      "InvalidSignatureException", "Credential should be scoped to a valid region")
    r = signed(emu, "GET", "/v1/models", when=amz_now(-600))
    expect_auth_error("stale date", r, 403, "InvalidSignatureException", "Signature expired: ")
    check("stale date message format", " is now earlier than " in r.json()["message"]
          and r.json()["message"].endswith(" - 5 min.)"), r.body)
    r = signed(emu, "GET", "/v1/models", when=amz_now(600))
    expect_auth_error("future date", r, 403, "InvalidSignatureException",
                      "Signature not yet current: ")
    check("date 4 minutes old accepted", signed(emu, "GET", "/v1/models",
                                                when=amz_now(-240)).status == 200)
    expect_auth_error("unknown key", signed(emu, "GET", "/v1/models",
                                            creds=Credentials("AKIDUNKNOWN", "x")),
                      403, "UnrecognizedClientException",
                      "The security token included in the request is invalid.")
    expect_auth_error("wrong secret", signed(emu, "GET", "/v1/models",
                                             creds=Credentials(STATIC.access_key, "wrong")),
                      403, "InvalidSignatureException", MISMATCH)
    expect_auth_error("missing session token", signed(
        emu, "GET", "/v1/models", creds=Credentials(TEMP.access_key, TEMP.secret_key)),
        403, "UnrecognizedClientException")
    hdrs = sign(emu, "GET", "/v1/models", creds=Credentials(TEMP.access_key, TEMP.secret_key))
    hdrs["X-Amz-Security-Token"] = TEMP.token
    expect_auth_error("unsigned session token", raw(emu, "GET", "/v1/models", b"", hdrs), 400,
                      "IncompleteSignatureException")
    expect_auth_error("token sent for a static identity", signed(
        emu, "GET", "/v1/models", creds=Credentials(STATIC.access_key, STATIC.secret_key, "t")),
        403, "UnrecognizedClientException")
    expect_auth_error("expired token", signed(emu, "GET", "/v1/models", creds=EXPIRED), 403,
                      "ExpiredTokenException",
                      "The security token included in the request is expired")
    expect_auth_error("no Authorization", raw(emu, "GET", "/v1/models"), 403,
                      "MissingAuthenticationTokenException", "Missing Authentication Token")
    hdrs = sign(emu, "GET", "/v1/models")
    hdrs["Authorization"] = hdrs["Authorization"].split(", Signature=")[0]
    expect_auth_error("no Signature component", raw(emu, "GET", "/v1/models", b"", hdrs), 400,
                      "IncompleteSignatureException",
                      "Authorization header requires 'Signature' parameter.")
    hdrs = sign(emu, "GET", "/v1/models")
    hdrs["Authorization"] = hdrs["Authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    expect_auth_error("host not signed", raw(emu, "GET", "/v1/models", b"", hdrs), 400,
                      "IncompleteSignatureException")
    hdrs = sign(emu, "GET", "/v1/models")
    hdrs["X-Amz-Date"] = hdrs["X-Amz-Date"].replace("T", "X")
    expect_auth_error("malformed X-Amz-Date", raw(emu, "GET", "/v1/models", b"", hdrs), 400,
                      "IncompleteSignatureException", "Date must be in ISO-8601 'basic format'")
    hdrs = sign(emu, "POST", "/v1/responses", raw_body, headers={"X-Amz-Content-Sha256": "0" * 64})
    expect_auth_error("x-amz-content-sha256 not the body's", raw(
        emu, "POST", "/v1/responses", raw_body, hdrs), 403, "InvalidSignatureException", MISMATCH)
    # A client that signs user-agent (which botocore leaves out) is accepted, as by AWS, and the
    # signed value is then checked like any other.
    r = signed(emu, "GET", "/v1/models", headers={"User-Agent": "signed-ua"},
               signer=SignEverything)
    check("signed user-agent: accepted", r.status == 200, r.body)
    hdrs = sign(emu, "GET", "/v1/models", headers={"User-Agent": "signed-ua"},
                signer=SignEverything)
    hdrs["User-Agent"] = "signed-ub"
    expect_auth_error("signed user-agent tampered", raw(emu, "GET", "/v1/models", b"", hdrs),
                      403, "InvalidSignatureException", MISMATCH)

    # API keys on an emulator that has SigV4 identities too.
    r = raw(emu, "GET", "/v1/models", headers={"Authorization": "Bearer " + API_KEY})
    check("API key accepted", r.status == 200, r.body)
    r = raw(emu, "GET", "/v1/models", headers={"Authorization": "Bearer nope"})
    check("bad API key 403", r.status == 403 and "Message" in r.json()
          and API_KEY not in r.body.decode(), r.body)
    r = raw(emu, "POST", "/anthropic/v1/messages", json.dumps(
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}).encode(),
        {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"})
    check("x-api-key on the Anthropic path", r.status == 200, r.body)


def test_api_key_only():
    emu = Emulator("--api-key", "k-one", "--api-key", "k-two", "--lifetime", "60")
    try:
        for key in ("k-one", "k-two"):
            r = raw(emu, "POST", "/v1/chat/completions", json.dumps(
                {"model": "m", "messages": [{"role": "user", "content": "k"}]}).encode(),
                {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
            check(f"api-key mode: {key} accepted", r.status == 200, r.body)
        r = raw(emu, "GET", "/v1/models", headers={"Authorization": "Bearer k-three"})
        check("api-key mode: unknown key 403", r.status == 403, r.body)
        r = signed(emu, "GET", "/v1/models")
        expect_auth_error("api-key mode: SigV4 with no identity", r, 403,
                          "UnrecognizedClientException")
    finally:
        rc, err = emu.stop()
        check("api-key emulator exits 0 (clean under ASan)", rc == 0, err[-2000:])


# ---- faults ----

def fault(emu, spec, method="POST", path="/v1/responses", body=None, **kw):
    if body is None and method == "POST":
        body = {"model": "m", "input": "fault test words"}
    return signed(emu, method, path, body or b"", send_headers={"x-mantle-emulator-fault": spec},
                  **kw)


def test_fault_header(emu):
    spec = "fail-status=429:2, retry-after=2, retry-after-ms=1500, id=t1"
    rs = [fault(emu, spec) for _ in range(3)]
    check("header fail-status: first two 429", [r.status for r in rs] == [429, 429, 200],
          [r.status for r in rs])
    check("header fail-status: retry-after headers", rs[0].header("retry-after") == "2"
          and rs[0].header("retry-after-ms") == "1500" and rs[2].header("retry-after") is None,
          rs[0].headers)
    e = rs[0].json()["error"]
    check("header fail-status: OpenAI error body", set(e) == {"message", "type", "param", "code"}
          and rs[0].header("x-amzn-errortype") == "ThrottlingException", rs[0].body)
    r = fault(emu, "fail-status=529:1, id=t2", path="/anthropic/v1/messages",
              body={"model": "m", "max_tokens": 5, "messages": []},
              headers={"anthropic-version": "2023-06-01"})
    check("header fail-status on the Anthropic path: Anthropic shape", r.status == 529
          and r.json()["type"] == "error" and r.json()["error"]["type"] == "overloaded_error",
          r.body)
    r = fault(emu, "fail-status=503, error-shape=aws")
    check("error-shape=aws", r.status == 503 and set(r.json()) == {"message"}
          and r.header("x-amzn-errortype") == "ServiceUnavailableException", r.body)
    r = fault(emu, "x-should-retry=false")
    check("x-should-retry header", r.status == 200 and r.header("x-should-retry") == "false",
          r.headers)
    t0 = time.monotonic()
    r = fault(emu, "delay=300")
    check("delay", r.status == 200 and time.monotonic() - t0 >= 0.3, time.monotonic() - t0)
    r = fault(emu, "malformed-json")
    try:
        json.loads(r.body)
        parsed = True
    except ValueError:
        parsed = False
    check("malformed-json: truncated body", r.status == 200 and not parsed and len(r.body) > 10,
          r.body)
    stream = {"model": "m", "input": "one two three four", "stream": True}
    r = fault(emu, "drop-mid-stream=3", body=stream)
    evs = events(r.body)
    check("drop-mid-stream: 3 events then the connection closes",
          r.status == 200 and not r.complete and len(evs) == 3, (r.complete, evs))
    r = fault(emu, "malformed-json", body=stream)
    evs = events(r.body)
    try:
        json.loads(evs[0][1])
        first_ok = True
    except ValueError:
        first_ok = False
    check("malformed-json in a stream: first event cut", not first_ok and
          json.loads(evs[1][1])["type"] == "response.in_progress", evs[:2])
    t0 = time.monotonic()
    r = fault(emu, "event-delay=50", body=stream)
    check("event-delay", r.status == 200 and time.monotonic() - t0 >= 0.05 * 11,
          time.monotonic() - t0)
    r = fault(emu, "clock-skew=900", method="GET", path="/v1/models")
    expect_auth_error("clock-skew: a request signed now is expired for the server", r, 403,
                      "InvalidSignatureException", "Signature expired")
    date = datetime.datetime.strptime(r.header("date"), "%a, %d %b %Y %H:%M:%S GMT")
    skew = (date.replace(tzinfo=datetime.timezone.utc) - amz_now()).total_seconds()
    check("clock-skew: the Date header shows the skewed clock", 880 < skew < 920, skew)
    r = fault(emu, "clock-skew=900", method="GET", path="/v1/models", when=amz_now(900))
    check("clock-skew: a client that corrected its clock is accepted", r.status == 200, r.body)
    r = fault(emu, "bogus=1", method="GET", path="/v1/models")
    check("unknown fault item 400", r.status == 400 and "bogus" in r.body.decode(), r.body)


def test_fault_cli():
    emu = Emulator("--credentials", "env", "--fail-status", "503:2", "--retry-after", "1",
                   "--retry-after-ms", "250", "--x-should-retry", "true", "--clock-skew", "-600",
                   "--lifetime", "60", env=dict(os.environ, AWS_ACCESS_KEY_ID=STATIC.access_key,
                                                AWS_SECRET_ACCESS_KEY=STATIC.secret_key))
    try:
        when = amz_now(-600)
        rs = [signed(emu, "GET", "/v1/models", when=when) for _ in range(3)]
        check("--fail-status 503:2", [r.status for r in rs] == [503, 503, 200],
              [(r.status, r.body) for r in rs])
        check("--retry-after / --retry-after-ms", rs[0].header("retry-after") == "1"
              and rs[0].header("retry-after-ms") == "250", rs[0].headers)
        check("--x-should-retry", all(r.header("x-should-retry") == "true" for r in rs))
        r = signed(emu, "GET", "/v1/models")
        expect_auth_error("--clock-skew -600: now is in the future", r, 403,
                          "InvalidSignatureException", "Signature not yet current")
    finally:
        rc, err = emu.stop()
        check("fault emulator exits 0", rc == 0, err[-2000:])
    emu = Emulator("--api-key", "k", "--delay", "200", "--drop-mid-stream", "2",
                   "--malformed-json", "--event-delay", "10", "--lifetime", "60")
    try:
        t0 = time.monotonic()
        r = raw(emu, "POST", "/v1/chat/completions", json.dumps(
            {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c"}]}
        ).encode(), {"Authorization": "Bearer k"})
        check("--delay --drop-mid-stream --malformed-json", time.monotonic() - t0 >= 0.2
              and not r.complete and len(events(r.body)) == 2, (r.complete, r.body))
    finally:
        rc, err = emu.stop()
        check("second fault emulator exits 0", rc == 0, err[-2000:])


# ---- the openai-python conformance vectors, replayed byte for byte ----

def conformance_cases():
    shared = os.environ.get("MANTLE_SHARED_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")
    folder = os.path.join(shared, "testdata", "openai-bedrock-conformance")
    if not os.path.isdir(folder):
        return []
    out = []
    with open(os.path.join(folder, "cases.json")) as f:
        for c in json.load(f)["cases"]:
            if c["kind"] != "sigv4":
                continue
            g = c["given"]
            hdrs = dict(g["request"]["headers"])
            hdrs.update(c["expected"]["headers"])
            out.append((c["id"], g["credentials"].get("session_token"),
                        g["signing"]["timestamp"], g["request"]["method"], g["request"]["url"],
                        base64.b64decode(g["request"]["body_base64"]), hdrs))
    with open(os.path.join(folder, "sigv4.json")) as f:
        v = json.load(f)
        rq, ex = v["request"], v["expected"]
        body = rq["body"].encode()
        hdrs = {"content-type": rq["contentType"],
                "host": urllib.parse.urlsplit(rq["url"]).netloc,
                "x-amz-content-sha256": ex["payloadHash"], "x-amz-date": ex["date"],
                "x-amz-security-token": v["credentials"]["sessionToken"],
                "authorization": ex["authorization"]}
        out.append(("sigv4.json", v["credentials"]["sessionToken"], v["signingDate"],
                    rq["method"], rq["url"], body, hdrs))
    return out


def test_conformance(main_emu, tmp):
    cases = conformance_cases()
    check("conformance vectors found", len(cases) >= 3, cases)
    tokens = {tok for _, tok, *_ in cases if tok}
    check("conformance vectors share one session token", len(tokens) == 1, tokens)
    creds = os.path.join(tmp, "conformance")
    with open(creds, "w") as f:
        f.write(f"{STATIC.access_key} {STATIC.secret_key} {tokens.pop()}\n")
    temp_emu = Emulator("--credentials", creds, "--lifetime", "60")
    try:
        for name, token, when, method, url, body, hdrs in cases:
            emu = temp_emu if token else main_emu
            ts = datetime.datetime.strptime(when[:19], "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=datetime.timezone.utc)
            skew = int((ts - amz_now()).total_seconds())
            hdrs = dict(hdrs, **{"x-mantle-emulator-fault": f"clock-skew={skew}"})
            path = urllib.parse.urlsplit(url).path
            r = raw(emu, method, path, body, {k.title(): v for k, v in hdrs.items()})
            check(f"conformance {name}: the recorded request is accepted", r.status == 200
                  and r.json()["output"][0]["content"][0]["text"] == "Echo: hello", r.body)
            bad = dict(hdrs, authorization=hdrs["authorization"][:-1] +
                       flip(hdrs["authorization"][-1]))
            r = raw(emu, method, path, body, {k.title(): v for k, v in bad.items()})
            check(f"conformance {name}: one byte off is refused", r.status == 403, r.body)
    finally:
        rc, err = temp_emu.stop()
        check("conformance emulator exits 0", rc == 0, err[-2000:])


# ---- test endpoints, lifecycle ----

def test_request_log(emu):
    r = raw(emu, "POST", "/__emulator/reset")
    check("reset", r.status == 200, r.body)
    signed(emu, "POST", "/v1/responses", {"model": "m", "input": "x"}, creds=TEMP)
    r2 = raw(emu, "GET", "/v1/models")
    check("request counter restarts after reset",
          r2.header("x-amzn-requestid").endswith("000000000002"), r2.headers)
    log = raw(emu, "GET", "/__emulator/requests").json()
    check("request log", len(log) == 2 and log[0]["method"] == "POST"
          and log[0]["path"] == "/v1/responses" and log[0]["status"] == 200
          and log[0]["signed_headers"] == ["content-type", "host", "x-amz-date",
                                           "x-amz-security-token"]
          and log[1]["status"] == 403 and log[1]["signed_headers"] == [], log)


def test_lifecycle():
    env = dict(os.environ, AWS_ACCESS_KEY_ID="A", AWS_SECRET_ACCESS_KEY="B")
    for addr in ("0.0.0.0:0", "192.168.1.1:0", "[::]:0"):
        p = subprocess.run([EMULATOR, "--credentials", "env", "--listen", addr],
                           capture_output=True, env=env, timeout=10)
        check(f"refuses non-loopback {addr}", p.returncode == 2 and not p.stdout, p)
    p = subprocess.run([EMULATOR], capture_output=True, timeout=10)
    check("no credentials and no API key: usage error", p.returncode == 2, p)
    p = subprocess.run([EMULATOR, "--api-key", "k", "--fail-status", "abc"], capture_output=True,
                       timeout=10)
    check("bad fault option: usage error", p.returncode == 2, p)
    t0 = time.monotonic()
    emu = Emulator("--api-key", "k", "--lifetime", "1", stdin_watch=False)
    try:
        emu.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emu.proc.kill()
        emu.proc.wait()
    took = time.monotonic() - t0
    check("stops by itself at the end of its lifetime", emu.proc.returncode == 0 and took < 5,
          (emu.proc.returncode, took, emu.proc.stderr.read().decode()[-2000:]))
    emu = Emulator("--api-key", "k", "--lifetime", "60", stdin_watch=False)
    emu.proc.send_signal(signal.SIGTERM)
    try:
        rc = emu.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emu.proc.kill()
        rc = emu.proc.wait()
    check("stops on SIGTERM", rc == 0, emu.proc.stderr.read().decode()[-2000:])
    emu = Emulator("--api-key", "k", "--lifetime", "60", "--listen", "localhost:0")
    check("localhost listens on 127.0.0.1", emu.url.startswith("http://127.0.0.1:"), emu.url)
    # A stream in progress when stdin closes must not keep it alive.
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=10)
    conn.request("POST", "/v1/responses", json.dumps({"model": "m", "input": "a b c d",
                                                      "stream": True}).encode(),
                 {"Authorization": "Bearer k", "x-mantle-emulator-fault": "event-delay=2000"})
    conn.getresponse()
    rc, err = emu.stop()
    conn.close()
    check("stops on stdin EOF during a slow stream", rc == 0, err[-2000:])


def main():
    if not os.access(EMULATOR, os.X_OK):
        print(f"FAIL {EMULATOR} is not built")
        return 1
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        creds = os.path.join(tmp, "credentials")
        with open(creds, "w") as f:
            f.write("# access-key-id secret [session-token|- [expiration]]\n\n")
            f.write(f"{STATIC.access_key} {STATIC.secret_key}\n")
            f.write(f"{TEMP.access_key} {TEMP.secret_key} {TEMP.token}\n")
            f.write(f"{EXPIRED.access_key} {EXPIRED.secret_key} {EXPIRED.token} "
                    "2020-01-01T00:00:00Z\n")
        emu = Emulator("--credentials", creds, "--api-key", API_KEY, "--lifetime", "300")
        try:
            for root in ("/v1", "/openai/v1"):
                test_responses(emu, root)
                test_chat(emu, root)
                test_models(emu, root)
            test_anthropic(emu)
            test_errors(emu)
            test_sigv4(emu)
            test_fault_header(emu)
            test_request_log(emu)
            test_conformance(emu, tmp)
        finally:
            rc, err = emu.stop()
        check("main emulator exits 0 on stdin EOF (clean under ASan)", rc == 0, err[-3000:])
        check("no secret in the emulator's stderr", STATIC.secret_key not in err
              and TEMP.token not in err, err[-500:])
    test_api_key_only()
    test_fault_cli()
    test_lifecycle()
    print(f"{passed} passed, {failed} failed ({time.monotonic() - t0:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
