/* libFuzzer target for the SSE parser: the input is parsed whole, then again (on the same parser,
 * after sse_parser_reset) in random chunks whose sizes derive from the input, then one byte at a
 * time; all three must deliver the identical events, comments and result. The limit and a
 * cancelling callback are also derived from the input so those paths get split-tested too. */
#include "core/buf.h"
#include "stream/sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The parser's ud: which log the current run writes to. */
struct sink {
    struct buf *log;
    size_t n;
    size_t stop_at; /* cancel on this event (1-based), 0 = never */
};

static int on_event(void *ud, const struct sse_event *ev)
{
    struct sink *k = ud;
    if (ev->type[ev->type_len] || ev->data[ev->data_len] || ev->id[ev->id_len]) abort();
    buf_printf(k->log, "E %zu:", ev->type_len);
    buf_append(k->log, ev->type, ev->type_len);
    buf_printf(k->log, " %zu:", ev->data_len);
    buf_append(k->log, ev->data, ev->data_len);
    buf_printf(k->log, " %zu:", ev->id_len);
    buf_append(k->log, ev->id, ev->id_len);
    buf_printf(k->log, " %ld\n", ev->retry_ms);
    k->n++;
    return k->stop_at && k->n == k->stop_at;
}

static int on_comment(void *ud, const char *text, size_t len)
{
    struct sink *k = ud;
    buf_printf(k->log, "C %zu:", len);
    buf_append(k->log, text, len);
    buf_append_char(k->log, '\n');
    return 0;
}

static uint64_t next_rand(uint64_t *s)
{
    /* splitmix64: good enough to pick chunk sizes */
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Feeds data in chunks (whole when rng is NULL and fixed is 0), then finishes; logs the outcome
 * into log. */
static void run(struct sse_parser *p, struct sink *k, struct buf *log, const char *data,
                size_t size, uint64_t *rng, size_t fixed)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code rc = MANTLE_OK;
    size_t at = 0;
    k->log = log;
    k->n = 0;
    while (rc == MANTLE_OK && at < size) {
        size_t want = size - at;
        if (fixed) {
            want = fixed;
        } else if (rng) {
            uint64_t x = next_rand(rng);
            /* Mostly tiny chunks (the hard cases), sometimes big ones, sometimes empty. */
            switch (x & 3) {
            case 0:
                want = (x >> 8) % 4;
                break;
            case 1:
                want = 1 + (x >> 8) % 16;
                break;
            case 2:
                want = 1 + (x >> 8) % 256;
                break;
            default:
                want = (x >> 8) % (size + 1);
                break;
            }
        }
        if (want > size - at) want = size - at;
        rc = sse_parser_feed(p, data + at, want, &err);
        at += want;
    }
    if (rc == MANTLE_OK) rc = sse_parser_finish(p, &err);
    size_t idlen;
    const char *id = sse_parser_last_event_id(p, &idlen);
    buf_printf(log, "RC %d %s | id %zu:", (int)rc, err.message, idlen);
    buf_append(log, id, idlen);
    buf_printf(log, " retry %ld\n", sse_parser_retry_ms(p));
    if (buf_failed(log)) abort();
}

static void compare(const struct buf *a, const struct buf *b, const char *what)
{
    if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0) return;
    fprintf(stderr, "SSE split mismatch (%s)\n--- whole:\n%s\n--- split:\n%s\n", what,
            a->data ? a->data : "", b->data ? b->data : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* FNV-1a of the input seeds everything, so a crash reproduces from the input alone. */
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 0x100000001b3u;
    size_t max = (h & 3) == 0 ? 1 + (size_t)((h >> 2) % 128) : 0;
    struct sink k = {NULL, 0, ((h >> 9) & 7) == 0 ? 1 + (size_t)((h >> 12) % 8) : 0};
    const char *s = (const char *)data;

    struct sse_parser *p = sse_parser_new(on_event, &k, max);
    if (!p) abort();
    sse_parser_set_comment_cb(p, on_comment);
    struct buf whole = BUF_INIT, split = BUF_INIT;
    run(p, &k, &whole, s, size, NULL, 0);

    /* The same parser after reset (which must forget everything), fed random chunks. */
    uint64_t rng = h;
    sse_parser_reset(p);
    run(p, &k, &split, s, size, &rng, 0);
    compare(&whole, &split, "random chunks");

    if (size <= 4096) {
        sse_parser_reset(p);
        buf_reset(&split);
        run(p, &k, &split, s, size, NULL, 1);
        compare(&whole, &split, "one byte at a time");
    }

    sse_parser_free(p);
    buf_free(&whole);
    buf_free(&split);
    return 0;
}
