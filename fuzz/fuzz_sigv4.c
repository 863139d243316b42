/* libFuzzer target: the SigV4 signer on arbitrary input. The input is split on '\n' into a
 * method, a URL, "Name: value" header lines, a blank line, and a body; its first byte picks the
 * flags and the presign expiry. Whatever the bytes, signing must not crash, and must either
 * succeed with a complete, well-formed signature or fail leaving nothing behind (no partial
 * signature), with a message that never contains the secret or the session token; and a result
 * reused across inputs (its memos) must sign exactly as a fresh one. */
#define _GNU_SOURCE /* memmem */
#include <mantle/sigv4.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-secret-wJalrXUtnFEMI/K7MDENG"
#define TOKEN "fuzz-session-token-IQoJb3JpZ2luX2Vj"
#define MAX_HEADERS 32

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned mode = data[0];
    char *text = malloc(size); /* the rest, NUL-terminated, with '\n' turned into NULs */
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    char *fields[3 + MAX_HEADERS] = {0};
    size_t nf = 0;
    char *p = text, *body = NULL;
    size_t body_len = 0;
    while (nf < 2 + MAX_HEADERS) {
        char *nl = memchr(p, '\n', (size_t)(text + size - 1 - p));
        if (!nl) {
            fields[nf++] = p;
            break;
        }
        *nl = '\0';
        if (nf >= 2 && nl == p) { /* blank line: the body follows */
            body = nl + 1;
            body_len = (size_t)(text + size - 1 - body);
            break;
        }
        fields[nf++] = p;
        p = nl + 1;
    }
    struct mantle_header headers[MAX_HEADERS];
    size_t nh = 0;
    for (size_t i = 2; i < nf && nh < MAX_HEADERS; i++) {
        char *colon = strchr(fields[i], ':');
        if (!colon) continue;
        *colon = '\0';
        headers[nh++] = (struct mantle_header){fields[i], colon + 1};
    }

    struct mantle_sigv4_request rq = {
        .method = fields[0] ? fields[0] : "",
        .url = nf > 1 ? fields[1] : "",
        .headers = headers,
        .header_count = nh,
        .payload_kind = (mode & 0x30) == 0x10 ? MANTLE_PAYLOAD_UNSIGNED : MANTLE_PAYLOAD_BYTES,
        .payload = body,
        .payload_len = body ? body_len : 0,
    };
    struct mantle_sigv4_credentials cr = {"AKIDFUZZ", SECRET, (mode & 0x40) ? TOKEN : NULL};
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = "us-east-1";
    pa.service = "bedrock-mantle";
    pa.signing_time = 1440938160;
    pa.flags = mode & 0x0f;
    pa.presign_expires = (mode & 0x80) ? 900 : 0;

    /* A fresh result, then one reused across all inputs (its URL and header memos hold earlier
     * inputs), twice: all three must give the same answer, byte for byte. */
    static struct mantle_sigv4_result *shared;
    if (!shared) shared = mantle_sigv4_result_new();
    struct mantle_sigv4_result *fresh = mantle_sigv4_result_new();
    struct mantle_sigv4_result *results[] = {fresh, shared, shared};
    mantle_code first_rc = MANTLE_OK;
    char *first = NULL; /* the fresh result's canonical request and signature */
    for (int round = 0; fresh && shared && round < 3; round++) {
        struct mantle_sigv4_result *r = results[round];
        struct mantle_error err = MANTLE_ERROR_INIT;
        mantle_code rc = mantle_sigv4_sign(&rq, &cr, &pa, r, &err);
        if (round == 0) first_rc = rc;
        if (rc != first_rc) abort();
        if (rc == MANTLE_OK) {
            const char *creq = mantle_sigv4_result_canonical_request(r);
            const char *sig = mantle_sigv4_result_signature(r);
            if (!is_hex64(sig) || !creq) abort();
            if (pa.presign_expires ? !mantle_sigv4_result_url(r)
                                   : !mantle_sigv4_result_header(r, "Authorization"))
                abort();
            size_t n = strlen(creq) + 65;
            char *both = malloc(n + 1);
            if (!both) abort();
            memcpy(both, sig, 64);
            memcpy(both + 64, creq, n - 64);
            if (round == 0)
                first = both;
            else {
                if (strcmp(both, first) != 0) abort(); /* a memo changed the signature */
                free(both);
            }
        } else {
            if (mantle_sigv4_result_signature(r) || mantle_sigv4_result_header_count(r) ||
                mantle_sigv4_result_url(r))
                abort(); /* a partial signature */
            /* Only what the signer was given as a secret counts: the input itself may contain the
             * same text (libFuzzer copies compared strings in), e.g. as a quoted header name. */
            if ((strstr(err.message, SECRET) && !memmem(data, size, SECRET, strlen(SECRET))) ||
                (strstr(err.message, TOKEN) && !memmem(data, size, TOKEN, strlen(TOKEN))))
                abort();
        }
    }
    free(first);
    mantle_sigv4_result_free(fresh);
    free(text);
    return 0;
}
