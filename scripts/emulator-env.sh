# Sourced (not run) by scripts/run.sh and tests/test_cli_client.sh: starts the local Mantle
# emulator on 127.0.0.1 with freshly generated throw-away credentials.
#
#   . scripts/emulator-env.sh
#   trap emulator_stop EXIT
#   emulator_start BUILD_DIR [more mantle-emulator options...]
#
# emulator_start exports AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (the
# identity the emulator accepts, so the default credential chain finds them) and unsets
# AWS_BEARER_TOKEN_BEDROCK (it would select Bearer auth over SigV4). It sets
#   MANTLE_EMULATOR_URL      the emulator's base URL, e.g. http://127.0.0.1:41234
#   MANTLE_EMULATOR_API_KEY  a Bedrock API key the emulator also accepts (Bearer)
#   MANTLE_EMULATOR_PID      its process id
# MANTLE_EMULATOR_LIFETIME (default 120) caps how long it may live, in seconds.
#
# The emulator reads its stdin from a FIFO whose only writer is this shell (--stdin-watch), so it
# stops when the shell exits, even if killed; emulator_stop stops it at once. One emulator at a
# time: call emulator_stop before starting another.

# N random characters from SET (tr syntax). tr dies of SIGPIPE when head is done: not an error.
_emu_random() {
  { LC_ALL=C tr -dc "$2" </dev/urandom | head -c "$1"; } || true
}

emulator_start() {
  local build=${1:?usage: emulator_start BUILD_DIR [emulator options...]}
  shift
  local bin=$build/tools/mantle-emulator
  if [ ! -x "$bin" ]; then
    echo "emulator-env: $bin not found: build the mantle_emulator target first" >&2
    return 1
  fi
  # Like real temporary credentials: ASIA key id, 40-character secret, a long session token.
  AWS_ACCESS_KEY_ID="ASIA$(_emu_random 16 'A-Z2-7')"
  AWS_SECRET_ACCESS_KEY=$(_emu_random 40 'A-Za-z0-9/+')
  AWS_SESSION_TOKEN=$(_emu_random 200 'A-Za-z0-9/+')
  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  unset AWS_CREDENTIAL_EXPIRATION AWS_BEARER_TOKEN_BEDROCK
  MANTLE_EMULATOR_API_KEY="bedrock-api-key-$(_emu_random 48 'A-Za-z0-9')"

  _emu_dir=$(mktemp -d "${TMPDIR:-/tmp}/mantle-emulator.XXXXXX")
  mkfifo "$_emu_dir/stdin"
  : >"$_emu_dir/stdout" # exists before the emulator opens it: the loop below reads it at once
  # The API key goes through the environment, never the command line (visible in ps).
  AWS_BEARER_TOKEN_BEDROCK=$MANTLE_EMULATOR_API_KEY "$bin" --listen 127.0.0.1:0 \
    --credentials env --api-key env --lifetime "${MANTLE_EMULATOR_LIFETIME:-120}" --stdin-watch \
    "$@" <"$_emu_dir/stdin" >"$_emu_dir/stdout" 2>"$_emu_dir/stderr" &
  MANTLE_EMULATOR_PID=$!
  exec {_emu_fd}>"$_emu_dir/stdin" # opens once the emulator opened its end

  MANTLE_EMULATOR_URL=
  local i line
  for ((i = 0; i < 200; i++)); do # up to 10 s
    # read succeeds only on a whole line: the URL is printed with its newline in one write.
    if IFS= read -r line <"$_emu_dir/stdout"; then
      MANTLE_EMULATOR_URL=$line
      break
    fi
    kill -0 "$MANTLE_EMULATOR_PID" 2>/dev/null || break
    sleep 0.05
  done
  case $MANTLE_EMULATOR_URL in
  http://127.0.0.1:[0-9]*) return 0 ;;
  esac
  echo "emulator-env: mantle-emulator did not start:" >&2
  cat "$_emu_dir/stderr" >&2
  emulator_stop
  return 1
}

# Stops the emulator (closing its stdin; SIGTERM only if it lingers) and removes its files.
# Safe to call twice, or without a running emulator.
emulator_stop() {
  if [ -n "${_emu_fd:-}" ]; then
    exec {_emu_fd}>&-
    _emu_fd=
  fi
  if [ -n "${MANTLE_EMULATOR_PID:-}" ]; then
    local i
    for ((i = 0; i < 100; i++)); do # up to 5 s
      kill -0 "$MANTLE_EMULATOR_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$MANTLE_EMULATOR_PID" 2>/dev/null || true
    wait "$MANTLE_EMULATOR_PID" 2>/dev/null || true
    MANTLE_EMULATOR_PID=
  fi
  if [ -n "${_emu_dir:-}" ]; then
    rm -rf "$_emu_dir"
    _emu_dir=
  fi
  MANTLE_EMULATOR_URL=
}

# GET or POST one of the emulator's test endpoints (/__emulator/requests, /__emulator/reset)
# and print the body. Uses Python's standard library: curl's command-line tool may be absent.
emulator_call() {
  /usr/bin/python3 - "$1" "$MANTLE_EMULATOR_URL$2" <<'EOF'
import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
data = b"" if method == "POST" else None
with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=10) as r:
    sys.stdout.write(r.read().decode())
EOF
}
