#!/usr/bin/env bash
# The public surface: libmantle.so exports only mantle_* symbols, each one declared in a public
# header with MANTLE_API, and every public header compiles on its own as C11 and as C++.
set -euo pipefail
: "${MANTLE_BUILD_DIR:?}" "${MANTLE_SOURCE_DIR:?}"
lib="$MANTLE_BUILD_DIR/libmantle.so"
inc="$MANTLE_SOURCE_DIR/include"
fail=0
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort)
declared=$(grep -ho 'mantle_[a-z0-9_]*(' "$inc"/mantle/*.h | tr -d '(' | sort -u)
count=0
for sym in $exported; do
  count=$((count + 1))
  case "$sym" in
    mantle_*) ;;
    *) echo "FAIL exported symbol without the mantle_ prefix: $sym"; fail=1; continue ;;
  esac
  grep -qx "$sym" <<<"$declared" || { echo "FAIL exported but not in a public header: $sym"; fail=1; }
done
# Declarations may span lines (clang-format breaks after the return type): match on one line.
flat=$(cat "$inc"/mantle/*.h | tr '\n' ' ')
checked=0
for sym in $declared; do
  case "$sym" in *_cb|*_fn) continue ;; esac
  grep -q "MANTLE_API[^;{}]*[ *]$sym(" <<<"$flat" || continue
  checked=$((checked + 1))
  grep -qx "$sym" <<<"$exported" || { echo "FAIL declared with MANTLE_API but not exported: $sym"; fail=1; }
done
[ "$count" -gt 10 ] || { echo "FAIL suspiciously few exported symbols: $count"; fail=1; }
[ "$checked" -eq "$count" ] || { echo "FAIL $checked MANTLE_API declarations for $count exports"; fail=1; }

cc=${MANTLE_C_COMPILER:-cc}
for h in "$inc"/mantle/*.h; do
  name=$(basename "$h")
  printf '#include <mantle/%s>\n' "$name" | "$cc" -std=c11 -Wall -Wextra -Werror -pedantic \
    -I"$inc" -x c -fsyntax-only - || { echo "FAIL $name does not compile alone as C11"; fail=1; }
  if command -v g++ >/dev/null; then
    printf '#include <mantle/%s>\n' "$name" | g++ -std=c++11 -Wall -Wextra -Werror \
      -I"$inc" -x c++ -fsyntax-only - || { echo "FAIL $name does not compile as C++"; fail=1; }
  fi
done
[ $fail -eq 0 ] || exit 1
echo "$count exported symbols checked; headers compile alone (C11, C++)"
