#!/usr/bin/env bash
# mantle's command line: help, version, exit statuses, `mantle sign` output in both formats,
# and that no secret reaches stdout or stderr.
set -uo pipefail
: "${MANTLE_CLI:?}"
pass=0 failn=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { failn=$((failn + 1)); echo "FAIL $1"; }
# run NAME EXPECTED_STATUS CMD... ; leaves $out and $err
run() {
  local name=$1 want=$2; shift 2
  out=$("$@" 2>"$tmp/err"); status=$?; err=$(cat "$tmp/err")
  if [ "$status" = "$want" ]; then ok "$name (exit $status)"; else bad "$name: exit $status, wanted $want; stderr: $err"; fi
}
expect() { # NAME HAYSTACK NEEDLE
  case "$2" in *"$3"*) ok "$1" ;; *) bad "$1: '$3' not in: $2" ;; esac
}
reject() {
  case "$2" in *"$3"*) bad "$1: '$3' must not appear" ;; *) ok "$1" ;; esac
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
secret='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$secret
unset AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
M=$MANTLE_CLI

run version 0 "$M" --version;            expect "version text" "$out" "mantle 0.1.0"
run help 0 "$M" --help;                  expect "help lists sign" "$out" "sign"
run "help sign" 0 "$M" help sign;        expect "help sign usage" "$out" "usage: mantle sign"
run "sign --help" 0 "$M" sign --help;    expect "sign --help usage" "$out" "--presign SECONDS"
run "no command" 2 "$M"
run "unknown command" 2 "$M" frobnicate; expect "names the command" "$err" "frobnicate"
run "help unknown" 2 "$M" help frobnicate
run "missing --url" 2 "$M" sign --region us-east-1 --service s; expect "names --url" "$err" "--url"
run "unknown option" 2 "$M" sign --bogus; expect "names the option" "$err" "--bogus"
run "missing value" 2 "$M" sign --url; expect "says it needs a value" "$err" "needs a value"
run "bad --date" 2 "$M" sign --url https://h/ --region r --service s --date 2015-08-30
run "bad --presign" 2 "$M" sign --url https://h/ --region r --service s --presign 604801
run "bad --output" 2 "$M" sign --url https://h/ --region r --service s --output xml
run "no region" 2 "$M" sign --url https://h/ --service s; expect "names the variables" "$err" "AWS_REGION"
run "bad -H" 2 "$M" sign --url https://h/ --region r --service s -H novalue

# The AWS suite's get-vanilla vector, through the CLI.
run get-vanilla 0 "$M" sign --url https://example.amazonaws.com/ --region us-east-1 \
  --service service --date 20150830T123600Z
expect "get-vanilla signature" "$out" "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
expect "x-amz-date header" "$out" "X-Amz-Date: 20150830T123600Z"
reject "no secret in output" "$out$err" "$secret"

# Region from the environment.
AWS_REGION=us-east-1 run "region from AWS_REGION" 0 "$M" sign --url https://example.amazonaws.com/ \
  --service service --date 20150830T123600Z
expect "same signature" "$out" "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"

# Repeated -H joined in order (get-header-key-duplicate).
run "repeated -H" 0 "$M" sign --url https://example.amazonaws.com/ --region us-east-1 \
  --service service --date 20150830T123600Z -H 'My-Header1: value2' -H 'My-Header1: value2' \
  -H 'My-Header1: value1' --output json
expect "joined values" "$out" 'my-header1:value2,value2,value1'
expect "suite signature" "$out" "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"

# JSON output is valid JSON with the documented keys; presign gives a URL.
run "json output" 0 "$M" sign --method POST --url https://bedrock-mantle.us-east-1.api.aws/v1/responses \
  --region us-east-1 --service bedrock-mantle --data '{"a":1}' --sign-body --output json
keys=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(",".join(sorted(d)), ",".join(sorted(d["headers"])))')
expect "json keys" "$keys" "canonical_request,headers,signature,string_to_sign Authorization,X-Amz-Content-Sha256,X-Amz-Date"
run presign 0 "$M" sign --url https://example.amazonaws.com/ --region us-east-1 --service service \
  --date 20150830T123600Z --presign 3600
expect "presigned URL" "$out" "X-Amz-Signature="
expect "presign expiry" "$out" "X-Amz-Expires=3600"

# Body from a file equals --data; a missing file names the path.
printf '{"a":1}' >"$tmp/body.json"
run "data-file" 0 "$M" sign --method POST --url https://h.example/ --region r --service s \
  --data-file "$tmp/body.json" --sign-body --date 20150830T123600Z
a=$out
run "data" 0 "$M" sign --method POST --url https://h.example/ --region r --service s \
  --data '{"a":1}' --sign-body --date 20150830T123600Z
[ "$a" = "$out" ] && ok "data-file equals data" || bad "data-file differs from data"
run "missing data-file" 1 "$M" sign --url https://h/ --region r --service s --data-file "$tmp/nope"
expect "names the file" "$err" "$tmp/nope"

# Bad input: a clear error naming the item, exit 1, no secret or header value echoed.
run "CR in header" 1 "$M" sign --url https://h.example/ --region r --service s -H $'X-Bad: a\rb'
expect "names the header" "$err" "X-Bad"
run "bad url" 1 "$M" sign --url ftp://h.example/ --region r --service s; expect "says URL" "$err" "URL"
run "bad region" 1 "$M" sign --url https://h.example/ --region US_EAST --service s; expect "says region" "$err" "region"
AWS_SESSION_TOKEN=$'SeKr1tT0k\nen' run "bad token" 1 "$M" sign --url https://h.example/ --region r --service s
reject "token not echoed" "$err" "SeKr1tT0k"
AWS_SECRET_ACCESS_KEY= run "no credentials" 1 "$M" sign --url https://h.example/ --region r --service s
expect "names the variables" "$err" "AWS_SECRET_ACCESS_KEY"

# A session token is added and signed.
AWS_SESSION_TOKEN=fixture-session-token run "session token" 0 "$M" sign --url https://h.example/ \
  --region r --service s
expect "token header" "$out" "X-Amz-Security-Token: fixture-session-token"
expect "token signed" "$out" "x-amz-security-token"

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
