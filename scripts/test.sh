#!/usr/bin/env bash
# The whole test suite: installs what is missing; runs the threaded tests (credential cache single
# flight, worker pool, key cache, one client shared by threads) under ThreadSanitizer; then builds
# with -Werror, AddressSanitizer and UndefinedBehaviorSanitizer and runs every test with ctest,
# whose summary is the last line. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

# TSan and ASan cannot share a build: a separate one, for the tests that exercise threads.
MANTLE_TSAN_BUILD_DIR=${MANTLE_TSAN_BUILD_DIR:-build-tsan} bash scripts/test-tsan.sh \
  -R 'test_credentials$|test_credentials_cache|test_credentials_imds|test_sigv4$|test_client_emulator'

build=${MANTLE_TEST_BUILD_DIR:-build-test}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DMANTLE_WERROR=ON -DMANTLE_SANITIZE=ON -DMANTLE_BUILD_TESTS=ON -DMANTLE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
