#!/usr/bin/env bash
# The main job: installs what is missing, builds mantle (Release), starts the local Mantle
# emulator with throw-away credentials, and streams an answer of the Responses API from it with
# `mantle responses create --stream`, signed with SigV4 (the emulator verifies the signature as
# AWS does). Nothing leaves the machine; the emulator is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${MANTLE_BUILD_DIR:-build}
generator=()
# An existing build directory keeps its generator (cmake refuses to switch).
[ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
log=$(mktemp)
# -Werror is for the test suite (scripts/test.sh): a new compiler's warning must not stop the demo.
if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMANTLE_WERROR=OFF \
  -DMANTLE_BUILD_TESTS=OFF -DMANTLE_BUILD_BENCH=OFF >"$log" 2>&1 ||
  ! cmake --build "$build" -j "$(nproc)" --target mantle_cli mantle_emulator >>"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "run.sh: the build failed (output above)" >&2
  exit 1
fi
rm -f "$log"

. scripts/emulator-env.sh
trap emulator_stop EXIT
trap 'exit 130' INT TERM # so that the EXIT trap runs
emulator_start "$build"
echo "mantle-emulator listening on $MANTLE_EMULATOR_URL (throw-away credentials $AWS_ACCESS_KEY_ID)"

base_url=$MANTLE_EMULATOR_URL/openai/v1
prompt="Hello, Mantle! Explain in one sentence what AWS Signature Version 4 protects."
echo "\$ mantle responses create --base-url $base_url --region us-east-1 \\"
echo "    --model openai.gpt-oss-120b --stream \"$prompt\""
"$build/mantle" responses create --base-url "$base_url" --region us-east-1 \
  --model openai.gpt-oss-120b --stream "$prompt"

# What the emulator saw: proof that the request was signed and the signature verified.
emulator_call GET /__emulator/requests | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print("emulator: %s %s -> %d, auth %s (%s), signed headers: %s" % (r["method"], r["path"],
          r["status"], r["auth"], r["access_key_id"], ";".join(r["signed_headers"])))'
