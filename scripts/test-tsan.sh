#!/usr/bin/env bash
# ThreadSanitizer run of the credentials tests (the cache's single flight, the worker pool, the
# hammer). scripts/test.sh runs it on the threaded tests before the ASan suite (TSan and ASan
# cannot share a build). Usage: scripts/test-tsan.sh [extra ctest args, e.g. -R pattern]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MANTLE_TSAN_BUILD_DIR:-build-creds-tsan}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DMANTLE_TSAN=ON -DMANTLE_SANITIZE=OFF -DMANTLE_BUILD_TESTS=ON -DMANTLE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
# halt_on_error: any report fails the test instead of scrolling by.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
cd "$build"
ctest --output-on-failure -R credentials "$@"
