/* Deterministic answers: "Echo: " + the input, split into one delta per word, token counts as
 * word counts, and ids derived from a hash of the request, so a test can predict every byte. */
#include "emulator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t count_words(const char *s)
{
    size_t n = 0;
    bool in_word = false;
    for (; *s; s++) {
        bool sp = is_space((unsigned char)*s);
        if (!sp && !in_word) n++;
        in_word = !sp;
    }
    return n;
}

bool echo_make(const char *input, long limit, struct echo *out)
{
    memset(out, 0, sizeof *out);
    struct buf b = BUF_INIT;
    buf_append_str(&b, "Echo: ");
    buf_append_str(&b, input ? input : "");
    if (buf_failed(&b)) return false;
    size_t len = b.len;
    /* One word per delta; the blanks before a word go with it, so the deltas concatenate back
     * to the text exactly (the way real streams split). */
    out->cuts = malloc((count_words(b.data) + 1) * sizeof *out->cuts);
    if (!out->cuts) {
        buf_free(&b);
        return false;
    }
    out->cuts[0] = 0;
    size_t i = 0, words = 0;
    while (i < len) {
        while (i < len && is_space((unsigned char)b.data[i])) i++;
        if (i == len) break;
        while (i < len && !is_space((unsigned char)b.data[i])) i++;
        if (limit >= 0 && words == (size_t)limit) {
            out->truncated = true;
            break;
        }
        out->cuts[++words] = i;
    }
    if (out->truncated) {
        len = out->cuts[words];
    } else if (words > 0) {
        out->cuts[words] = len; /* trailing blanks join the last delta */
    }
    b.data[len] = '\0';
    out->text = buf_steal(&b);
    out->words = words;
    return out->text != NULL;
}

void echo_free(struct echo *e)
{
    free(e->text);
    free(e->cuts);
    memset(e, 0, sizeof *e);
}

json_t *echo_delta(const struct echo *e, size_t i)
{
    return json_stringn(e->text + e->cuts[i], e->cuts[i + 1] - e->cuts[i]);
}

void make_id(char *out, size_t outlen, const char *prefix, const char *salt,
             const struct request *rq)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, salt);
    buf_append_char(&b, '\n');
    buf_append_str(&b, rq->path);
    buf_append_char(&b, '\n');
    if (rq->body_len) buf_append(&b, rq->body, rq->body_len);
    uint8_t digest[SHA256_LEN];
    char hex[SHA256_HEX_LEN + 1];
    if (buf_failed(&b) || !crypto_sha256(b.data, b.len, digest)) memset(digest, 0, sizeof digest);
    hex_encode(digest, 16, hex);
    buf_free(&b);
    snprintf(out, outlen, "%s%s", prefix, hex);
}

void append_content_text(struct buf *b, const json_t *content)
{
    if (json_is_string(content)) {
        buf_append(b, json_string_value(content), json_string_length(content));
        return;
    }
    if (!json_is_array(content)) return;
    size_t i;
    json_t *part;
    bool first = true;
    json_array_foreach(content, i, part)
    {
        json_t *text = json_object_get(part, "text");
        if (!json_is_string(text)) continue;
        if (!first) buf_append_char(b, ' ');
        buf_append(b, json_string_value(text), json_string_length(text));
        first = false;
    }
}

size_t scan_messages(const json_t *messages, struct buf *last_user)
{
    size_t words = 0, i;
    json_t *m;
    json_array_foreach(messages, i, m)
    {
        struct buf text = BUF_INIT;
        append_content_text(&text, json_object_get(m, "content"));
        if (text.data) words += count_words(text.data);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0) {
            buf_reset(last_user);
            buf_append_str(last_user, text.data ? text.data : "");
        }
        buf_free(&text);
    }
    return words;
}
