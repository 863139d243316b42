#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with -Werror, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs every test with ctest. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

build=${MANTLE_TEST_BUILD_DIR:-build-test}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DMANTLE_WERROR=ON -DMANTLE_SANITIZE=ON -DMANTLE_BUILD_TESTS=ON -DMANTLE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
