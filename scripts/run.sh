#!/usr/bin/env bash
# The main job: installs what is missing, builds mantle, and signs an example Bedrock Mantle
# request with `mantle sign` (credentials are generated, never real ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${MANTLE_BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMANTLE_BUILD_TESTS=OFF \
  -DMANTLE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

# Throw-away example credentials: the point is to show a real SigV4 signature.
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE
export AWS_SECRET_ACCESS_KEY=$(head -c 30 /dev/urandom | base64)
unset AWS_SESSION_TOKEN
echo "\$ mantle sign --method POST --url https://bedrock-mantle.us-east-1.api.aws/v1/responses ..."
"$build/mantle" sign --method POST \
  --url https://bedrock-mantle.us-east-1.api.aws/v1/responses \
  -H 'Content-Type: application/json' \
  --data '{"model":"openai.gpt-oss-120b","input":"Hello, Mantle!"}' \
  --region us-east-1 --service bedrock-mantle --sign-body
