/* A JSON syntax check without building a tree: what jansson's json_loadb(..., 0, ...) accepts
 * (RFC 8259 text whose top level is an object or array; valid UTF-8; no \u0000; paired
 * surrogates; nesting up to 2048), in one pass and no allocation. The client checks every 2xx
 * JSON body with it, so a malformed body fails the request (MANTLE_E_PROTOCOL), and builds the
 * jansson tree only when the caller asks for it. */
#ifndef MANTLE_CLIENT_JSONCHECK_H
#define MANTLE_CLIENT_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0, len) is valid JSON. Otherwise *why gets a static reason and *at the byte offset.
 * *unsure (may be NULL) is set when the syntax is valid but a number may be out of jansson's
 * range (an integer of 19+ digits, a real near 1e308): the caller then lets jansson decide. */
bool json_check(const char *s, size_t len, const char **why, size_t *at, bool *unsure);

#endif
