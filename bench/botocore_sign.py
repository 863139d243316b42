#!/usr/bin/python3
"""botocore's SigV4 signing rate on the requests bench_sign signs.

Run with Debian's /usr/bin/python3 (it sees python3-botocore):

    /usr/bin/python3 bench/botocore_sign.py [--seconds S] [--reps N] [--wall]

Prints "name value unit" lines with a botocore_ prefix, like bench_sign, and "# signature" lines
with the signatures, which run_sign_bench.sh compares with bench_sign's (same body, headers,
session token and timestamp, so the signatures must be identical).

botocore has no derived-key cache: every signature derives the key (four HMACs), so its one rate
per request shape is compared with both of mantle's (cached and uncached).
"""

import argparse
import datetime
import hashlib
import sys
import time

import botocore
import botocore.auth
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGNING_TIME = datetime.datetime(2025, 1, 1, 12, 0, 0)  # bench_sign's SIGNING_TIME
BODY_LEN = 2048
TOKEN_LEN = 1024
POST_URL = "https://bedrock-mantle.us-east-1.api.aws/v1/responses"
GET_URL = "https://bedrock-mantle.us-east-1.api.aws/v1/models"
REGION, SERVICE = "us-east-1", "bedrock-mantle"
PRESIGN_EXPIRES = 900


def make_body():
    head = '{"model":"openai.gpt-oss-120b","input":"'
    tail = '","max_output_tokens":256}'
    filler = "The quick brown fox jumps over the lazy dog. "
    fill = BODY_LEN - len(head) - len(tail)
    text = (filler * (fill // len(filler) + 1))[:fill]
    body = (head + text + tail).encode()
    assert len(body) == BODY_LEN
    return body


def make_token():
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    prefix = "IQoJb3JpZ2luX2VjE"
    return prefix + "".join(b64[(i * 37 + 11) % 64] for i in range(len(prefix), TOKEN_LEN))


class _FixedClock(datetime.datetime):
    """botocore reads datetime.datetime.utcnow(); pin it, as bench_sign pins its time."""

    @classmethod
    def utcnow(cls):
        return SIGNING_TIME


class _DatetimeModule:
    datetime = _FixedClock


def rate(fn, seconds, reps, wall=False):
    """Best of `reps` runs of `seconds` of wall time each, after a warm-up; calls per second of
    this thread's CPU time (as bench_sign and `openssl speed` count), or of wall time."""
    def timed(duration):
        n, batch = 0, 16
        start, cpu = time.perf_counter(), time.thread_time()
        end = start + duration
        while True:
            for _ in range(batch):
                fn()
            n += batch
            t = time.perf_counter()
            if t >= end:
                return n / ((t - start) if wall else (time.thread_time() - cpu))

    timed(seconds / 4)
    return max(timed(seconds) for _ in range(reps))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--wall", action="store_true",
                    help="rates per second of wall time, not of CPU time")
    args = ap.parse_args()

    botocore.auth.datetime = _DatetimeModule  # the fixed timestamp
    body, token = make_body(), make_token()
    # Temporary (STS) credentials with a session token; long-term (IAM user) ones without.
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    sts = Credentials("AKIDEXAMPLE", secret, token)
    iam = Credentials("AKIDEXAMPLE", secret)
    header_auth = SigV4Auth(sts, SERVICE, REGION)
    iam_auth = SigV4Auth(iam, SERVICE, REGION)
    query_auth = SigV4QueryAuth(sts, SERVICE, REGION, expires=PRESIGN_EXPIRES)

    # POST: mantle's MANTLE_SIGV4_SIGN_BODY signs an X-Amz-Content-Sha256 header with the body's
    # hash. botocore signs that header's value as the payload hash when it is present, so the body
    # is hashed here on every call, exactly once, as mantle does.
    post = AWSRequest(method="POST", url=POST_URL, data=body,
                      headers={"content-type": "application/json"})

    def sign_post():
        # HTTPHeaders appends on assignment: replace the previous call's value.
        del post.headers["X-Amz-Content-SHA256"]
        post.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        header_auth.add_auth(post)  # re-signing replaces the previous signature headers

    get = AWSRequest(method="GET", url=GET_URL)

    def sign_get():
        iam_auth.add_auth(get)

    get_token = AWSRequest(method="GET", url=GET_URL)

    def sign_get_token():
        header_auth.add_auth(get_token)

    presign = AWSRequest(method="GET", url=GET_URL)

    def sign_presign():
        presign.url = GET_URL  # presigning rewrites the URL: start from the plain one each time
        query_auth.add_auth(presign)

    # The signatures, for run_sign_bench.sh to compare with bench_sign's.
    sign_post()
    print("# signature post_2k", post.headers["Authorization"].rsplit("Signature=", 1)[1])
    sign_get()
    print("# signature get_empty", get.headers["Authorization"].rsplit("Signature=", 1)[1])
    sign_presign()
    print("# signature presign", presign.url.rsplit("X-Amz-Signature=", 1)[1])
    sign_get_token()
    print("# signature get_token", get_token.headers["Authorization"].rsplit("Signature=", 1)[1])
    print("# botocore", botocore.__version__, "python", sys.version.split()[0])
    sys.stdout.flush()

    for name, fn in (("botocore_sign_post_2k", sign_post),
                     ("botocore_sign_get_empty", sign_get),
                     ("botocore_sign_presign", sign_presign),
                     ("botocore_sign_get_token", sign_get_token)):
        print(f"{name} {rate(fn, args.seconds, args.reps, args.wall):.0f} sig/s", flush=True)

    big = bytes((ord("a") + i % 26) for i in range(1024 * 1024))  # bench_sign's 1 MiB body

    def hash_big():
        hashlib.sha256(big).digest()

    mbs = rate(hash_big, args.seconds, args.reps, args.wall) * len(big) / 1e6
    print(f"botocore_hashlib_sha256_1mib {mbs:.1f} MB/s", flush=True)


if __name__ == "__main__":
    main()
