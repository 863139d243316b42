/* driver_sigv4: mantle_sigv4_sign over JSON lines, for the differential test against botocore
 * (tests/test_sigv4_botocore.py).
 *
 * Input, one request per line:
 *   {"method", "url", "headers": [[name, value], ...], "body_b64", "access_key", "secret_key",
 *    "token" (string or null), "region", "service", "time": unix seconds,
 *    "flags": {"s3", "sign_body", "unsigned", "omit_token"}, "presign": seconds (0: headers)}
 * Output, one line per request:
 *   {"canonical_request", "string_to_sign", "signature", "headers": [[name, value], ...],
 *    "url" (string or null)}   or   {"error": "message"}
 * One result object serves every request, as a client reusing it would. */
#include <jansson.h>
#include <mantle/sigv4.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *b64_decode(const char *in, size_t *out_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in);
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out) return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && in[i] != '='; i++) {
        const char *p = strchr(alphabet, in[i]);
        if (!p || !in[i]) {
            free(out);
            return NULL;
        }
        acc = ((acc << 6) | (unsigned)(p - alphabet)) & 0xffffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = o;
    return out;
}

static const char *str_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool flag_of(json_t *flags, const char *key)
{
    return json_is_true(json_object_get(flags, key));
}

/* Strings the signer produced from valid UTF-8 input stay valid; anything else is reported. */
static json_t *jstr(const char *s)
{
    if (!s) return json_null();
    json_t *v = json_string(s);
    return v ? v : json_string("<invalid UTF-8 in output>");
}

static json_t *error_line(const char *message)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", jstr(message));
    return o;
}

static json_t *sign_line(json_t *in, struct mantle_sigv4_result *r)
{
    json_t *jh = json_object_get(in, "headers");
    size_t nh = json_array_size(jh);
    struct mantle_header *h = calloc(nh ? nh : 1, sizeof *h);
    if (!h) return error_line("out of memory");
    for (size_t i = 0; i < nh; i++) {
        json_t *pair = json_array_get(jh, i);
        h[i].name = json_string_value(json_array_get(pair, 0));
        h[i].value = json_string_value(json_array_get(pair, 1));
        if (!h[i].name || !h[i].value) {
            free(h);
            return error_line("driver: a header is not a [name, value] pair of strings");
        }
    }
    size_t body_len = 0;
    const char *b64 = str_of(in, "body_b64");
    unsigned char *body = b64_decode(b64 ? b64 : "", &body_len);
    if (!body) {
        free(h);
        return error_line("driver: bad body_b64");
    }
    json_t *flags = json_object_get(in, "flags");
    struct mantle_sigv4_request rq = {
        .method = str_of(in, "method"),
        .url = str_of(in, "url"),
        .headers = h,
        .header_count = nh,
        .payload_kind = flag_of(flags, "unsigned") ? MANTLE_PAYLOAD_UNSIGNED : MANTLE_PAYLOAD_BYTES,
        .payload = body,
        .payload_len = body_len};
    struct mantle_sigv4_credentials cr = {str_of(in, "access_key"), str_of(in, "secret_key"),
                                          str_of(in, "token")};
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = str_of(in, "region");
    pa.service = str_of(in, "service");
    pa.signing_time = (int64_t)json_integer_value(json_object_get(in, "time"));
    if (flag_of(flags, "s3")) pa.flags |= MANTLE_SIGV4_NO_NORMALIZE_PATH;
    if (flag_of(flags, "sign_body")) pa.flags |= MANTLE_SIGV4_SIGN_BODY;
    if (flag_of(flags, "omit_token")) pa.flags |= MANTLE_SIGV4_OMIT_SESSION_TOKEN;
    pa.presign_expires = (unsigned)json_integer_value(json_object_get(in, "presign"));

    struct mantle_error err = MANTLE_ERROR_INIT;
    json_t *out;
    if (mantle_sigv4_sign(&rq, &cr, &pa, r, &err) != MANTLE_OK) {
        out = error_line(err.message);
    } else {
        out = json_object();
        json_object_set_new(out, "canonical_request",
                            jstr(mantle_sigv4_result_canonical_request(r)));
        json_object_set_new(out, "string_to_sign", jstr(mantle_sigv4_result_string_to_sign(r)));
        json_object_set_new(out, "signature", jstr(mantle_sigv4_result_signature(r)));
        json_t *added = json_array();
        const struct mantle_header *ah = mantle_sigv4_result_headers(r);
        for (size_t i = 0; i < mantle_sigv4_result_header_count(r); i++)
            json_array_append_new(added, json_pack("[ss]", ah[i].name, ah[i].value));
        json_object_set_new(out, "headers", added);
        json_object_set_new(out, "url", jstr(mantle_sigv4_result_url(r)));
    }
    free(body);
    free(h);
    return out;
}

int main(void)
{
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    if (!r) return 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n == 1 && line[0] == '\n') continue;
        json_error_t jerr;
        json_t *in = json_loadb(line, (size_t)n, 0, &jerr);
        json_t *out = in ? sign_line(in, r) : error_line(jerr.text);
        char *text = json_dumps(out, JSON_COMPACT);
        if (!text) {
            status = 1;
        } else {
            fputs(text, stdout);
            fputc('\n', stdout);
            free(text);
        }
        json_decref(out);
        json_decref(in);
    }
    free(line);
    mantle_sigv4_result_free(r);
    return fflush(stdout) == 0 ? status : 1;
}
