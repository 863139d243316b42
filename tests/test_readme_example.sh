#!/usr/bin/env bash
# README's C example must compile (with -Werror) and run against the library, so the
# documentation cannot drift from the API.
set -euo pipefail
: "${MANTLE_BUILD_DIR:?}" "${MANTLE_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{f=1; n++; next} /^```$/{f=0} f && n==1' "$MANTLE_SOURCE_DIR/README.md" >"$tmp/example.c"
[ -s "$tmp/example.c" ] || { echo "FAIL no C example found in README.md"; exit 1; }
san=()
[ "${MANTLE_SANITIZE:-0}" = "1" ] && san=(-fsanitize=address,undefined)
"${MANTLE_C_COMPILER:-cc}" -std=c11 -Wall -Wextra -Werror "${san[@]}" \
  -I"$MANTLE_SOURCE_DIR/include" "$tmp/example.c" -L"$MANTLE_BUILD_DIR" -lmantle -o "$tmp/example"
out=$(AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=example-secret \
  LD_LIBRARY_PATH="$MANTLE_BUILD_DIR" "$tmp/example")
grep -q '^Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/[0-9]\{8\}/us-east-1/bedrock-mantle/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]\{64\}$' <<<"$out" || { echo "FAIL unexpected output:"; echo "$out"; exit 1; }
echo "1 passed, 0 failed"
