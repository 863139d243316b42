/* The SigV4 signing key (four chained HMACs) and its cache. */
#ifndef MANTLE_SIGV4_SIGNING_KEY_H
#define MANTLE_SIGV4_SIGNING_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Derives HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
 * date is the 8-character YYYYMMDD. With use_cache, a key for the same secret, date, region and
 * service is reused. The cache is locked, holds MANTLE_SIGV4_KEY_CACHE_SIZE entries at most
 * (least recently used goes first) and wipes the secret copy and key of every entry it drops. */
bool signing_key_get(const char *secret, const char *date, const char *region, const char *service,
                     bool use_cache, uint8_t key[32]);

#endif
