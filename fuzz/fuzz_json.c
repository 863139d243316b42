/* libFuzzer target for client_json_parse (src/client/jsonparse.c) against jansson's json_loadb: the
 * fast parser alone (no fallback) must accept exactly what jansson accepts, with flags 0 and with
 * JSON_DECODE_ANY, and build the identical value (json_equal, the same compact dump, so the same
 * key order, and the same types and real bits all the way down). client_json_parse itself must
 * return the same value, or jansson's error. Any difference aborts. */
#include "client/jsoncheck.h"
#include "client/jsonparse.h"
#include "../tests/json_same.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why, const uint8_t *data, size_t size, size_t flags)
{
    fprintf(stderr, "fuzz_json: %s (flags %zu): '", why, flags);
    for (size_t i = 0; i < size; i++)
        fprintf(stderr, data[i] >= 0x20 && data[i] < 0x7f ? "%c" : "\\x%02x", data[i]);
    fprintf(stderr, "'\n");
    abort();
}

static void compare(const uint8_t *data, size_t size, size_t flags)
{
    const char *s = (const char *)data;
    json_error_t te, me;
    json_t *theirs = json_loadb(s, size, flags, &te);
    json_t *fast = client_json_parse_fast(s, size, flags);
    json_t *mine = client_json_parse(s, size, flags, &me);
    if (!fast != !theirs)
        fail(fast ? "accepts what jansson rejects" : "rejects", data, size, flags);
    if (!mine != !theirs) fail("client_json_parse disagrees", data, size, flags);
    if (flags == 0) { /* the response check shares the rules: it must agree too */
        bool unsure = false, checked = client_json_check(s, size, &unsure);
        if (checked != !!theirs && !(checked && unsure))
            fail("client_json_check disagrees", data, size, flags);
    }
    if (theirs) {
        char *dt = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY);
        char *df = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *dm = json_dumps(mine, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!json_equal(theirs, fast) || !json_equal(theirs, mine) ||
            !json_same_tree(theirs, fast) || !json_same_tree(theirs, mine) || !dt || !df || !dm ||
            strcmp(dt, df) || strcmp(dt, dm))
            fail("builds a different value", data, size, flags);
        free(dt);
        free(df);
        free(dm);
    } else if (strcmp(te.text, me.text) || te.position != me.position || te.line != me.line) {
        fail("reports a different error", data, size, flags);
    }
    json_decref(theirs);
    json_decref(fast);
    json_decref(mine);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    compare(data, size, 0);
    compare(data, size, JSON_DECODE_ANY);
    return 0;
}
