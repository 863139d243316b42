#!/usr/bin/env bash
# mantle's API commands (responses, chat, messages, models) against the local emulator, started
# by scripts/emulator-env.sh (the helper scripts/run.sh uses): text and JSON output, --stream,
# SigV4 and Bearer, --dry-run (redacted, sends nothing), usage errors (exit 2), HTTP errors
# (exit 1, category in the message), retries, timeouts, cut streams, and that no secret ever
# reaches stdout or stderr, --debug included.
set -uo pipefail
: "${MANTLE_CLI:?}" "${MANTLE_BUILD_DIR:?}" "${MANTLE_SOURCE_DIR:?}"
pass=0 failn=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { failn=$((failn + 1)); echo "FAIL $1"; }
tmp=$(mktemp -d)
: >"$tmp/all"
# run NAME EXPECTED_STATUS CMD... (stdin: /dev/null, or $stdin_text when set); leaves $out, $err.
# Every output is also kept in $tmp/all for the secrets check at the end.
run() {
  local name=$1 want=$2
  shift 2
  if [ -n "${stdin_text+x}" ]; then
    out=$(printf '%s' "$stdin_text" | "$@" 2>"$tmp/err")
  else
    out=$("$@" </dev/null 2>"$tmp/err")
  fi
  status=$?
  err=$(cat "$tmp/err")
  printf '%s\n%s\n' "$out" "$err" >>"$tmp/all"
  if [ "$status" = "$want" ]; then ok "$name (exit $status)"; else bad "$name: exit $status, wanted $want; stderr: $err"; fi
}
expect() { # NAME HAYSTACK NEEDLE
  case "$2" in *"$3"*) ok "$1" ;; *) bad "$1: '$3' not in: $2" ;; esac
}
reject() {
  case "$2" in *"$3"*) bad "$1: '$3' must not appear" ;; *) ok "$1" ;; esac
}
same() { # NAME GOT WANTED
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', wanted '$3'"; fi
}
py() { /usr/bin/python3 -c "$@"; }
requests() { emulator_call GET /__emulator/requests | py 'import json,sys; print(len(json.load(sys.stdin)))'; }
last_request() { # the last logged request's FIELD
  emulator_call GET /__emulator/requests |
    py 'import json,sys; v=json.load(sys.stdin)[-1][sys.argv[1]]; print(";".join(v) if isinstance(v,list) else v)' "$1"
}

. "$MANTLE_SOURCE_DIR/scripts/emulator-env.sh"
cleanup() {
  emulator_stop
  rm -rf "$tmp"
}
trap cleanup EXIT
unset AWS_REGION AWS_DEFAULT_REGION AWS_PROFILE AWS_BEDROCK_BASE_URL MANTLE_LOG
# No stray shared config may change what the default chain finds.
export AWS_CONFIG_FILE=$tmp/none AWS_SHARED_CREDENTIALS_FILE=$tmp/none
M=$MANTLE_CLI
MODEL=openai.gpt-oss-120b

# ---- help and usage errors: no emulator needed ----
run help 0 "$M" --help
help=$out
for c in responses chat messages models; do
  expect "help lists $c" "$help" "  $c "
  run "help $c" 0 "$M" help "$c"
  expect "help $c usage" "$out" "usage: mantle $c"
  run "$c --help" 0 "$M" "$c" --help
  expect "$c --help shows global options" "$out" "--dry-run"
done
run "responses: no subcommand" 2 "$M" responses --model m hi
expect "says create" "$err" "create"
run "responses: unknown subcommand" 2 "$M" responses frobnicate --model m hi
expect "names it" "$err" "frobnicate"
run "responses: --model missing" 2 "$M" responses create hi
expect "names --model" "$err" "--model"
run "chat: --model missing" 2 "$M" chat hi
run "messages: --model missing" 2 "$M" messages hi
run "unknown option" 2 "$M" chat --model m --bogus hi
expect "names the option" "$err" "--bogus"
run "missing value" 2 "$M" chat --model
expect "needs a value" "$err" "needs a value"
run "bad --output" 2 "$M" chat --model m --output xml hi
run "bad --endpoint" 2 "$M" chat --model m --endpoint moon hi
run "bad --max-retries" 2 "$M" chat --model m --max-retries -1 hi
run "bad --timeout" 2 "$M" chat --model m --timeout soon hi
run "bad --max-tokens" 2 "$M" messages --model m --max-tokens 0 hi
run "extra argument" 2 "$M" chat --model m hello world
run "--api-key with --profile" 2 "$M" chat --model m --api-key k --profile p hi
run "empty stdin" 2 "$M" chat --model m
expect "says empty" "$err" "empty"
run "models: no subcommand" 2 "$M" models
run "models get: no id" 2 "$M" models get
run "models list: extra" 2 "$M" models list extra

# ---- the emulator, through the helper run.sh uses ----
if ! emulator_start "$MANTLE_BUILD_DIR"; then
  bad "emulator-env.sh: emulator_start"
  echo "$pass passed, $failn failed"
  exit 1
fi
ok "emulator_start"
expect "loopback URL" "$MANTLE_EMULATOR_URL" "http://127.0.0.1:"
expect "temporary key id" "$AWS_ACCESS_KEY_ID" "ASIA"
if [ ${#AWS_SECRET_ACCESS_KEY} -eq 40 ] && [ -n "$AWS_SESSION_TOKEN" ]; then
  ok "credentials exported"
else
  bad "credentials exported"
fi
secrets=("$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$MANTLE_EMULATOR_API_KEY")
U=$MANTLE_EMULATOR_URL/openai/v1
S=(--base-url "$U" --region us-east-1) # SigV4 with the exported credentials
B=(--base-url "$U" --api-key "$MANTLE_EMULATOR_API_KEY")

# Responses, SigV4: text, stream, JSON, JSON stream.
run "responses text" 0 "$M" responses create "${S[@]}" --model $MODEL "Hello there"
same "responses answer" "$out" "Echo: Hello there"
same "signed with SigV4" "$(last_request auth)" sigv4
same "by the exported key" "$(last_request access_key_id)" "$AWS_ACCESS_KEY_ID"
expect "body hash signed" "$(last_request signed_headers)" "x-amz-content-sha256"
expect "token signed" "$(last_request signed_headers)" "x-amz-security-token"
run "responses options after the input" 0 "$M" responses create "Hello there" --model $MODEL \
  --instructions "Be brief" "${S[@]}"
same "same answer" "$out" "Echo: Hello there"
run "global options before the subcommand" 0 "$M" responses "${S[@]}" create --model $MODEL hi
same "answer" "$out" "Echo: hi"
run "responses --stream" 0 "$M" responses create "${S[@]}" --model $MODEL --stream "one two three"
same "streamed answer + newline" "$out" "Echo: one two three"
same "request streamed" "$(last_request streamed)" True
run "responses json" 0 "$M" responses create "${S[@]}" --model $MODEL --output json "Hello"
same "response object" "$(printf '%s' "$out" | py 'import json,sys; d=json.load(sys.stdin); print(d["object"], d["status"])')" "response completed"
run "responses --stream json" 0 "$M" responses create "${S[@]}" --model $MODEL --stream --output json "a b"
types=$(printf '%s\n' "$out" | py 'import json,sys; print(" ".join(json.loads(l)["type"] for l in sys.stdin))')
expect "one event per line: deltas" "$types" "response.output_text.delta"
expect "one event per line: completed" "$types" "response.completed"

# Chat Completions, SigV4 and stdin input.
run "chat text" 0 "$M" chat "${S[@]}" --model $MODEL --system "Be nice" "Hi chat"
same "chat answer" "$out" "Echo: Hi chat"
stdin_text=$'from stdin\n' run "chat from stdin (no argument)" 0 "$M" chat "${S[@]}" --model $MODEL
same "stdin answer" "$out" "Echo: from stdin"
stdin_text='dash' run "chat from stdin (-)" 0 "$M" chat "${S[@]}" --model $MODEL -
same "dash answer" "$out" "Echo: dash"
run "chat --stream" 0 "$M" chat "${S[@]}" --model $MODEL --stream "one two"
same "chat streamed" "$out" "Echo: one two"
run "chat json" 0 "$M" chat "${S[@]}" --model $MODEL --output json "x"
same "chat.completion" "$(printf '%s' "$out" | py 'import json,sys; print(json.load(sys.stdin)["object"])')" "chat.completion"
run "chat --stream json" 0 "$M" chat "${S[@]}" --model $MODEL --stream --output json "x y"
same "every line JSON, no [DONE]" "$(printf '%s\n' "$out" | py 'import json,sys; print(set(json.loads(l)["object"] for l in sys.stdin))')" "{'chat.completion.chunk'}"

# Anthropic Messages.
run "messages text" 0 "$M" messages "${S[@]}" --model anthropic.claude-sonnet-4-5 "Hi claude"
same "messages answer" "$out" "Echo: Hi claude"
same "at the host root" "$(last_request path)" "/anthropic/v1/messages"
run "messages --max-tokens" 0 "$M" messages "${S[@]}" --model m --max-tokens 2 "one two three"
same "cut to 2 tokens" "$out" "Echo: one"
run "messages --stream" 0 "$M" messages "${S[@]}" --model m --stream "one two"
same "messages streamed" "$out" "Echo: one two"
run "messages json" 0 "$M" messages "${S[@]}" --model m --output json "x"
same "message object" "$(printf '%s' "$out" | py 'import json,sys; d=json.load(sys.stdin); print(d["type"], d["usage"]["output_tokens"] > 0)')" "message True"

# Models.
run "models list" 0 "$M" models list "${S[@]}"
expect "lists the model" "$out" "$MODEL"
run "models list json" 0 "$M" models list "${S[@]}" --output json
same "list object" "$(printf '%s' "$out" | py 'import json,sys; print(json.load(sys.stdin)["object"])')" list
run "models get" 0 "$M" models get "$MODEL" "${S[@]}"
expect "id line" "$out" "id: $MODEL"
run "models get unknown" 1 "$M" models get does-not-exist "${S[@]}"
expect "not_found category" "$err" "mantle models: not_found: "
expect "status in parentheses" "$err" "(HTTP 404, request id "

# Bearer: --api-key and AWS_BEARER_TOKEN_BEDROCK.
run "bearer --api-key" 0 "$M" chat "${B[@]}" --model $MODEL "bearer"
same "bearer answer" "$out" "Echo: bearer"
same "sent as an API key" "$(last_request auth)" api-key
AWS_BEARER_TOKEN_BEDROCK=$MANTLE_EMULATOR_API_KEY run "bearer from the environment" 0 \
  "$M" responses create --base-url "$U" --model $MODEL --stream "env bearer"
same "env bearer answer" "$out" "Echo: env bearer"
same "env bearer auth" "$(last_request auth)" api-key

# HTTP errors: exit 1, the category, the status and the request id.
run "wrong API key" 1 "$M" chat --base-url "$U" --api-key bedrock-api-key-wrong --model $MODEL "x"
expect "403 category" "$err" "mantle chat: permission_denied: "
expect "403 status" "$err" "(HTTP 403, request id "
AWS_SECRET_ACCESS_KEY=wrong-secret-0123456789 run "wrong secret" 1 "$M" responses create "${S[@]}" \
  --model $MODEL "x"
expect "signature rejected" "$err" "mantle responses: permission_denied: "
run "no region for SigV4" 1 "$M" models list --base-url "$U"
expect "config category" "$err" "mantle models: config: "
expect "names AWS_REGION" "$err" "AWS_REGION"
AWS_REGION=us-east-1 run "region from AWS_REGION" 0 "$M" models list --base-url "$U"
run "plain http to a remote host" 1 "$M" models list --base-url http://mantle.example/v1 --region us-east-1
expect "says http" "$err" "http"

# --dry-run: the request with secrets redacted, nothing sent.
before=$(requests)
run "dry-run SigV4" 0 "$M" responses create "${S[@]}" --model $MODEL --stream --dry-run "dry"
expect "request line" "$out" "POST $U/responses"
expect "Authorization: key id redacted" "$out" "Authorization: AWS4-HMAC-SHA256 Credential=<redacted>/"
expect "Authorization: scope and signed headers shown" "$out" \
  "/us-east-1/bedrock-mantle/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=<redacted>"
reject "no key id" "$out" "$AWS_ACCESS_KEY_ID"
expect "token redacted" "$out" "X-Amz-Security-Token: <redacted>"
expect "body hash shown" "$out" "X-Amz-Content-Sha256: "
expect "streaming body" "$out" '"stream":true'
run "dry-run json" 0 "$M" messages "${S[@]}" --model m --dry-run --output json "dry"
same "dry-run JSON" "$(printf '%s' "$out" | py 'import json,sys; d=json.load(sys.stdin); print(d["url"].endswith("/anthropic/v1/messages"), d["headers"]["anthropic-version"], d["body"]["max_tokens"])')" "True 2023-06-01 1024"
run "dry-run --service" 0 "$M" models list "${S[@]}" --service bedrock --endpoint runtime --dry-run
expect "signs for the service" "$out" "/us-east-1/bedrock/aws4_request"
run "dry-run bearer" 0 "$M" models get "$MODEL" "${B[@]}" --dry-run
expect "Bearer redacted" "$out" "Authorization: Bearer <redacted>"
expect "model path" "$out" "GET $U/models/$MODEL"
run "dry-run to a remote host with --allow-insecure-http" 0 "$M" models list --dry-run \
  --base-url http://mantle.example/v1 --region us-east-1 --allow-insecure-http
same "dry-run sent nothing" "$(requests)" "$before"
run "--service the emulator does not accept" 1 "$M" models list "${S[@]}" --service bedrock
expect "rejected" "$err" "mantle models: permission_denied: "

# --debug: the wire log on stderr, redacted.
run "debug" 0 "$M" chat "${S[@]}" --model $MODEL --debug "debug me"
same "debug keeps stdout clean" "$out" "Echo: debug me"
expect "request logged" "$err" "> POST $U/chat/completions"
expect "Authorization redacted in the log" "$err" "Authorization: <redacted>"
run "debug bearer" 0 "$M" models list "${B[@]}" --debug
# --dry-run shows what the client sends: the same headers, and the same body bytes (hash).
run "dry-run of a chat stream" 0 "$M" chat "${S[@]}" --model $MODEL --system s --stream --dry-run "same"
dry_names=$(printf '%s\n' "$out" | sed -n 's/^\([A-Za-z-]*\): .*/\1/p' | grep -v '^Host$' | tr '\n' ' ')
dry_hash=$(printf '%s\n' "$out" | sed -n 's/^X-Amz-Content-Sha256: //p')
run "the same, sent with --debug" 0 "$M" chat "${S[@]}" --model $MODEL --system s --stream --debug "same"
same "same header names" "$(printf '%s\n' "$err" | sed -n 's/.*debug: > \([A-Za-z-]*\): .*/\1/p' | tr '\n' ' ')" "$dry_names"
same "same body hash" "$(printf '%s\n' "$err" | sed -n 's/.*> X-Amz-Content-Sha256: //p')" "$dry_hash"

# ---- faults: retries, cut streams, timeouts ----
emulator_stop
emulator_start "$MANTLE_BUILD_DIR" --fail-status 503:1 --drop-mid-stream 3 || bad "second emulator"
secrets+=("$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$MANTLE_EMULATOR_API_KEY")
U=$MANTLE_EMULATOR_URL/openai/v1
S=(--base-url "$U" --region us-east-1)
run "503 without retries" 1 "$M" models list "${S[@]}" --max-retries 0
expect "server category" "$err" "mantle models: server: "
expect "503 status" "$err" "HTTP 503"
emulator_call POST /__emulator/reset >/dev/null
run "503 then retried" 0 "$M" models list "${S[@]}"
same "two attempts" "$(requests)" 2
run "stream cut" 1 "$M" chat "${S[@]}" --model $MODEL --stream "one two three four five"
same "partial answer, newline" "$out" "Echo: one"
expect "stream category" "$err" "mantle chat: stream: "
emulator_stop
emulator_start "$MANTLE_BUILD_DIR" --delay 3000 || bad "third emulator"
secrets+=("$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "$MANTLE_EMULATOR_API_KEY")
run "timeout" 1 "$M" models list --base-url "$MANTLE_EMULATOR_URL/openai/v1" --region us-east-1 \
  --timeout 0.3 --max-retries 0
expect "timeout category" "$err" "mantle models: timeout: "

# emulator_stop stops it; a shell that goes away without it stops it too (--stdin-watch).
pid=$MANTLE_EMULATOR_PID
emulator_stop
if kill -0 "$pid" 2>/dev/null; then bad "emulator_stop: still running"; else ok "emulator_stop"; fi
read -r pid dir < <(
  emulator_start "$MANTLE_BUILD_DIR" >/dev/null 2>&1 && echo "$MANTLE_EMULATOR_PID $_emu_dir"
) # the subshell exits without emulator_stop: the emulator sees EOF on its stdin
gone=no
for ((i = 0; i < 100; i++)); do
  kill -0 "$pid" 2>/dev/null || {
    gone=yes
    break
  }
  sleep 0.05
done
same "emulator stops with its shell" "$gone" yes
[ "$gone" = no ] && kill "$pid" 2>/dev/null
case $dir in "${TMPDIR:-/tmp}"/mantle-emulator.*) rm -rf "$dir" ;; esac

# ---- no secret, ever ----
leaks=0
for s in "${secrets[@]}"; do
  grep -qF -- "$s" "$tmp/all" && leaks=$((leaks + 1))
  grep -qF -- "${s:0:16}" "$tmp/all" && leaks=$((leaks + 1)) # not even a prefix
done
same "no secret in any stdout or stderr" "$leaks" 0

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
