/* A JSON syntax check without building a tree: what jansson's json_loadb(..., 0, ...) accepts
 * (RFC 8259 text whose top level is an object or array; valid UTF-8; no \u0000; paired
 * surrogates; integers within json_int_t; nesting up to 2048 values deep), in one pass and no
 * allocation, by the rules of jsonscan.h. The client checks every 2xx JSON body with it, so a
 * malformed body fails the request (MANTLE_E_PROTOCOL), and builds the jansson tree only when the
 * caller asks for it. */
#ifndef MANTLE_CLIENT_JSONCHECK_H
#define MANTLE_CLIENT_JSONCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0, len) is valid JSON. *unsure (may be NULL) is set when the syntax is valid but a
 * real may overflow a double (near 1e308): the caller then lets jansson decide. On false, jansson
 * names the error (the client calls json_loadb for the message). */
bool client_json_check(const char *s, size_t len, bool *unsure);

#endif
