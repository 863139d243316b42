#!/usr/bin/env bash
# README's C examples must compile (with -Werror) and run against the library, so the
# documentation cannot drift from the API: the first one asks the local emulator (through
# AWS_BEDROCK_BASE_URL, SigV4 with throw-away credentials), the second signs a request.
set -euo pipefail
: "${MANTLE_BUILD_DIR:?}" "${MANTLE_SOURCE_DIR:?}"
tmp=$(mktemp -d)
# shellcheck source=../scripts/emulator-env.sh
. "$MANTLE_SOURCE_DIR/scripts/emulator-env.sh"
trap 'emulator_stop; rm -rf "$tmp"' EXIT
san=()
[ "${MANTLE_SANITIZE:-0}" = "1" ] && san=(-fsanitize=address,undefined)
build_example() { # N OUT
  awk -v want="$1" '/^```c$/{f=1; n++; next} /^```$/{f=0} f && n==want' \
    "$MANTLE_SOURCE_DIR/README.md" >"$tmp/$2.c"
  [ -s "$tmp/$2.c" ] || { echo "FAIL README.md has no C example #$1"; exit 1; }
  "${MANTLE_C_COMPILER:-cc}" -std=c11 -Wall -Wextra -Werror "${san[@]}" \
    -I"$MANTLE_SOURCE_DIR/include" "$tmp/$2.c" -L"$MANTLE_BUILD_DIR" -lmantle -ljansson \
    -o "$tmp/$2"
}

build_example 1 ask
emulator_start "$MANTLE_BUILD_DIR"
out=$(AWS_BEDROCK_BASE_URL="$MANTLE_EMULATOR_URL/openai/v1" LD_LIBRARY_PATH="$MANTLE_BUILD_DIR" \
  "$tmp/ask")
[ "$out" = "Echo: Say hello" ] || { echo "FAIL ask: unexpected output: $out"; exit 1; }
echo "ok README example 1 (asked the emulator with SigV4): $out"
emulator_stop

build_example 2 sign
out=$(env -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=example-secret \
  LD_LIBRARY_PATH="$MANTLE_BUILD_DIR" "$tmp/sign")
grep -q '^Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/[0-9]\{8\}/us-east-1/bedrock-mantle/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]\{64\}$' <<<"$out" || { echo "FAIL sign: unexpected output:"; echo "$out"; exit 1; }
echo "ok README example 2 (signed a request)"
echo "2 passed, 0 failed"
