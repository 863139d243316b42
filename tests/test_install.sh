#!/usr/bin/env bash
# Proves the installation: `cmake --install` into a temporary prefix, then build
# examples/sign_request.c against the INSTALLED headers and libraries three ways (pkg-config
# shared, pkg-config static, CMake find_package) and run each. The expected output is the
# published signature of the AWS suite's get-vanilla vector.
set -euo pipefail
: "${MANTLE_BUILD_DIR:?}" "${MANTLE_SOURCE_DIR:?}"
cc=${MANTLE_C_COMPILER:-cc}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
expected='Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'
san=()
[ "${MANTLE_SANITIZE:-0}" = "1" ] && san=(-fsanitize=address,undefined)

cmake --install "$MANTLE_BUILD_DIR" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name mantle.pc | head -1)")/..
export PKG_CONFIG_PATH="$libdir/pkgconfig"
for f in include/mantle/mantle.h include/mantle/sigv4.h bin/mantle; do
  [ -e "$prefix/$f" ] || { echo "missing from the installation: $f"; exit 1; }
done
ls "$libdir"/libmantle.so.0 "$libdir"/libmantle.a >/dev/null
soname=$(objdump -p "$libdir/libmantle.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libmantle.so.0" ] || { echo "unexpected SONAME: $soname"; exit 1; }
[ "$(pkg-config --modversion mantle)" = "0.1.0" ] || { echo "pkg-config version mismatch"; exit 1; }

check() { # name, program
  out=$("$2")
  grep -q "$expected" <<<"$out" || { echo "FAIL $1: unexpected output:"; echo "$out"; exit 1; }
  echo "ok $1"
}

# shellcheck disable=SC2046
"$cc" "${san[@]}" -o "$prefix/shared" "$MANTLE_SOURCE_DIR/examples/sign_request.c" \
  $(pkg-config --cflags --libs mantle)
LD_LIBRARY_PATH="$libdir" check pkg-config-shared "$prefix/shared"
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$prefix/shared")
grep -q "libmantle.so.0 => $libdir" <<<"$deps" || { echo "shared build does not use the installed libmantle.so.0"; exit 1; }

# libmantle.a itself; its dependencies stay shared (Debian ships no static libcurl deps).
# shellcheck disable=SC2046
"$cc" "${san[@]}" -o "$prefix/static" "$MANTLE_SOURCE_DIR/examples/sign_request.c" \
  -Wl,-Bstatic $(pkg-config --libs-only-L mantle) -lmantle -Wl,-Bdynamic \
  $(pkg-config --cflags mantle) $(pkg-config --libs libcurl jansson libcrypto) -lpthread
check pkg-config-static "$prefix/static"
deps=$(ldd "$prefix/static")
! grep -q libmantle <<<"$deps" || { echo "static build links libmantle.so"; exit 1; }

flags="${san[*]}"
cmake -S "$MANTLE_SOURCE_DIR/examples" -B "$prefix/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$prefix/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" check find_package-shared "$prefix/cmake-build/sign_request"
check find_package-static "$prefix/cmake-build/sign_request_static"
echo "4 passed, 0 failed"
