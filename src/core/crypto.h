/* SHA-256, HMAC-SHA-256 and randomness: thin wrappers over OpenSSL libcrypto, the only module
 * that includes OpenSSL. Contexts are fetched once and reused per thread, because OpenSSL 3's
 * per-call fetch costs more than hashing a small message. */
#ifndef MANTLE_CORE_CRYPTO_H
#define MANTLE_CORE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64

bool crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
bool crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        uint8_t out[SHA256_LEN]);
/* Writes 2*len lower-case hex digits and a NUL. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Cryptographically strong random bytes. */
bool crypto_random(void *out, size_t len);

/* SHA-1 in lower-case hex (SHA1_HEX_LEN digits and a NUL), for cache-file names that must match
 * what the AWS CLI writes (~/.aws/sso/cache/<sha1>.json); never for security. */
#define SHA1_LEN 20
#define SHA1_HEX_LEN 40
bool crypto_sha1_hex(const void *data, size_t len, char out[SHA1_HEX_LEN + 1]);

#endif
