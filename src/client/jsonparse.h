/* A fast drop-in for jansson's json_loadb: one pass over the text, strings scanned 8 bytes at a
 * time, the tree built with the same jansson calls jansson's own parser makes. Internal to the
 * client (streamed chunk events, response and error bodies). */
#ifndef MANTLE_CLIENT_JSONPARSE_H
#define MANTLE_CLIENT_JSONPARSE_H

#include <jansson.h>

#include <stddef.h>

/* Returns exactly what json_loadb(text, len, flags, error) returns (same acceptance, same value:
 * types, key order, integers, reals bit for bit) for flags 0 and JSON_DECODE_ANY; other flags go
 * straight to json_loadb. Any text this parser does not accept, or is not sure of, is handed to
 * json_loadb, so errors carry jansson's own text and position. On success *error (may be NULL)
 * is initialised as jansson does. */
json_t *client_json_parse(const char *text, size_t len, size_t flags, json_error_t *error);

/* The parser alone, without the fallback: NULL for every text it does not accept (for tests: it
 * must agree with json_loadb on its own, so that the fallback never hides a wrong rejection). */
json_t *client_json_parse_fast(const char *text, size_t len, size_t flags);

#endif
