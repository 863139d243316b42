/* The server-sent-events parser: recorded streams (whole and in every split) and each rule. */
#include "testutil.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "stream/sse.h"

/* ---- recording what the parser delivers ---- */

struct got_event {
    char *type;
    char *data;
    size_t data_len;
    char *id;
    long retry;
};

struct rec {
    struct buf log; /* every event and the result code, serialized: what split runs compare */
    struct got_event *ev;
    size_t n, cap;
    bool keep;           /* also keep events in ev[] (the whole-stream runs) */
    size_t stop_at;      /* return non-zero from the callback on this event (1-based); 0 = never */
    struct buf comments; /* comment texts, one per line */
    size_t ncomments;
};

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int on_event(void *ud, const struct sse_event *ev)
{
    struct rec *r = ud;
    /* The view promises NUL-terminated strings. */
    assert_int_equal(ev->type[ev->type_len], '\0');
    assert_int_equal(ev->data[ev->data_len], '\0');
    assert_int_equal(ev->id[ev->id_len], '\0');
    buf_printf(&r->log, "E %zu:", ev->type_len);
    buf_append(&r->log, ev->type, ev->type_len);
    buf_printf(&r->log, " %zu:", ev->data_len);
    buf_append(&r->log, ev->data, ev->data_len);
    buf_printf(&r->log, " %zu:", ev->id_len);
    buf_append(&r->log, ev->id, ev->id_len);
    buf_printf(&r->log, " %ld\n", ev->retry_ms);
    if (r->keep) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 16;
            r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
            assert_non_null(r->ev);
        }
        struct got_event *g = &r->ev[r->n];
        g->type = dup_bytes(ev->type, ev->type_len);
        g->data = dup_bytes(ev->data, ev->data_len);
        g->data_len = ev->data_len;
        g->id = dup_bytes(ev->id, ev->id_len);
        g->retry = ev->retry_ms;
    }
    r->n++;
    return r->stop_at && r->n == r->stop_at;
}

static int on_comment(void *ud, const char *text, size_t len)
{
    struct rec *r = ud;
    buf_append(&r->comments, text, len);
    buf_append_char(&r->comments, '\n');
    r->ncomments++;
    return 0;
}

static void rec_free(struct rec *r)
{
    for (size_t i = 0; r->ev && i < (r->keep ? r->n : 0); i++) {
        free(r->ev[i].type);
        free(r->ev[i].data);
        free(r->ev[i].id);
    }
    free(r->ev);
    buf_free(&r->log);
    buf_free(&r->comments);
    memset(r, 0, sizeof *r);
}

/* Feeds data cut at the given offsets (ascending), then finishes; logs the first failure. */
static mantle_code run_cuts(struct sse_parser *p, struct rec *r, const char *data, size_t len,
                            const size_t *cuts, size_t ncuts)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    size_t at = 0;
    mantle_code rc = MANTLE_OK;
    for (size_t i = 0; i <= ncuts && rc == MANTLE_OK; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        rc = sse_parser_feed(p, data + at, end - at, &err);
        at = end;
    }
    if (rc == MANTLE_OK) rc = sse_parser_finish(p, &err);
    buf_printf(&r->log, "RC %d %s\n", (int)rc, err.message);
    return rc;
}

/* ---- recorded streams ---- */

struct want {
    const char *type;
    const char *data; /* NULL: not checked */
    const char *id;   /* NULL: not checked */
    long retry;       /* LONG_MIN: not checked */
};

#define W(t)                                                                                       \
    {                                                                                              \
        t, NULL, NULL, LONG_MIN                                                                    \
    }
#define WD(t, d)                                                                                   \
    {                                                                                              \
        t, d, NULL, LONG_MIN                                                                       \
    }

static char *load(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/sse/%s", name);
    char *data = test_read_file(test_source_path(rel), len);
    if (!data) fail_msg("cannot read %s", test_source_path(rel));
    return data;
}

/* Parses the file whole and checks it against want (and the finish code), then checks that every
 * two-chunk split, every three-chunk split (files up to max3 bytes) and byte-at-a-time feeding
 * produce the identical log (events and result codes). */
static void check_stream(const char *name, const struct want *want, size_t nwant,
                         mantle_code want_rc, size_t max3)
{
    size_t len;
    char *data = load(name, &len);
    struct rec whole = {.keep = true};
    struct sse_parser *p = sse_parser_new(on_event, &whole, 0);
    assert_non_null(p);
    assert_int_equal(run_cuts(p, &whole, data, len, NULL, 0), want_rc);
    if (whole.n != nwant) fail_msg("%s: %zu events, want %zu", name, whole.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const struct got_event *g = &whole.ev[i];
        if (strcmp(g->type, want[i].type) != 0)
            fail_msg("%s: event %zu type '%s', want '%s'", name, i, g->type, want[i].type);
        if (want[i].data && (g->data_len != strlen(want[i].data) || strcmp(g->data, want[i].data)))
            fail_msg("%s: event %zu data\n  got  '%s'\n  want '%s'", name, i, g->data,
                     want[i].data);
        if (want[i].id) assert_string_equal(g->id, want[i].id);
        if (want[i].retry != LONG_MIN) assert_int_equal(g->retry, want[i].retry);
    }

    struct rec r = {0};
    /* Every split into two chunks (the empty first/last chunk included), each on a new parser. */
    sse_parser_free(p);
    p = NULL;
    for (size_t a = 0; a <= len; a++) {
        sse_parser_free(p);
        p = sse_parser_new(on_event, &r, 0);
        assert_non_null(p);
        buf_reset(&r.log);
        size_t cuts[1] = {a};
        run_cuts(p, &r, data, len, cuts, 1);
        if (r.log.len != whole.log.len || memcmp(r.log.data, whole.log.data, r.log.len))
            fail_msg("%s: split at %zu differs:\n%s\nwant:\n%s", name, a, r.log.data,
                     whole.log.data);
    }
    /* Every split into three chunks, reusing one parser through reset(). */
    if (len <= max3) {
        for (size_t a = 0; a <= len; a++) {
            for (size_t b = a; b <= len; b++) {
                sse_parser_reset(p);
                buf_reset(&r.log);
                size_t cuts[2] = {a, b};
                run_cuts(p, &r, data, len, cuts, 2);
                if (r.log.len != whole.log.len || memcmp(r.log.data, whole.log.data, r.log.len))
                    fail_msg("%s: split at %zu,%zu differs:\n%s\nwant:\n%s", name, a, b, r.log.data,
                             whole.log.data);
            }
        }
    }
    /* One byte at a time. */
    sse_parser_reset(p);
    buf_reset(&r.log);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < len; i++) cuts[i] = i + 1;
    run_cuts(p, &r, data, len, cuts, len ? len - 1 : 0);
    free(cuts);
    assert_int_equal(r.log.len, whole.log.len);
    assert_memory_equal(r.log.data, whole.log.data, r.log.len);

    rec_free(&r);
    rec_free(&whole);
    sse_parser_free(p);
    free(data);
}

/* Files this size or smaller get the (cubic) every-three-chunk-split treatment. */
#define MAX3_SMALL 1300

static void test_responses_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        W("response.created"),
        W("response.in_progress"),
        WD("response.output_item.added",
           "{\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,"
           "\"item\":{\"id\":\"msg_0a1b2c3d4e5f6071a2b3c4d5e6f70819\",\"type\":\"message\","
           "\"status\":\"in_progress\",\"content\":[],\"role\":\"assistant\"}}"),
        W("response.content_part.added"),
        WD("response.output_text.delta",
           "{\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":"
           "\"msg_0a1b2c3d4e5f6071a2b3c4d5e6f70819\",\"output_index\":0,\"content_index\":0,"
           "\"delta\":\"Mantle\",\"logprobs\":[]}"),
        W("response.output_text.delta"),
        W("response.output_text.delta"),
        W("response.output_text.delta"),
        W("response.output_text.delta"),
        W("response.output_text.delta"),
        W("response.output_text.delta"),
        W("response.output_text.delta"),
        WD("response.output_text.delta",
           "{\"type\":\"response.output_text.delta\",\"sequence_number\":12,\"item_id\":"
           "\"msg_0a1b2c3d4e5f6071a2b3c4d5e6f70819\",\"output_index\":0,\"content_index\":0,"
           "\"delta\":\".\",\"logprobs\":[]}"),
        WD("response.output_text.done",
           "{\"type\":\"response.output_text.done\",\"sequence_number\":13,\"item_id\":"
           "\"msg_0a1b2c3d4e5f6071a2b3c4d5e6f70819\",\"output_index\":0,\"content_index\":0,"
           "\"text\":\"Mantle is Amazon Bedrock's OpenAI-compatible endpoint.\",\"logprobs\":[]}"),
        W("response.content_part.done"),
        W("response.output_item.done"),
        W("response.completed"),
    };
    check_stream("responses.sse", w, sizeof w / sizeof w[0], MANTLE_OK, 0);
}

#define CHAT_PREFIX                                                                                \
    "{\"id\":\"chatcmpl-9f8e7d6c5b4a39281706f5e4d3c2b1a0\",\"object\":\"chat.completion.chunk\","  \
    "\"created\":1754407201,\"model\":\"openai.gpt-oss-120b-1:0\","                                \
    "\"system_fingerprint\":null,"

static void test_chat_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        WD("message", CHAT_PREFIX "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
                                  "\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
                                  "\"finish_reason\":null}],\"usage\":null}"),
        WD("message", CHAT_PREFIX "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},"
                                  "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}"),
        W("message"),
        W("message"),
        W("message"),
        W("message"),
        W("message"),
        W("message"),
        W("message"),
        W("message"),
        WD("message", CHAT_PREFIX "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                                  "\"finish_reason\":\"stop\"}],\"usage\":null}"),
        WD("message",
           CHAT_PREFIX "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,"
                       "\"total_tokens\":21,\"prompt_tokens_details\":{\"cached_tokens\":0},"
                       "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}"),
        {"message", "[DONE]", "", -1},
    };
    check_stream("chat.sse", w, sizeof w / sizeof w[0], MANTLE_OK, 0);
}

static void test_anthropic_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        W("message_start"),
        WD("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,"
                                  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"),
        WD("ping", "{\"type\": \"ping\"}"),
        WD("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                                  "{\"type\":\"text_delta\",\"text\":\"Hello\"}}"),
        W("content_block_delta"),
        W("content_block_delta"),
        W("content_block_delta"),
        WD("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}"),
        WD("message_delta", "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                            "\"stop_sequence\":null},\"usage\":{\"output_tokens\":17}}"),
        WD("message_stop", "{\"type\":\"message_stop\"}"),
    };
    check_stream("anthropic.sse", w, sizeof w / sizeof w[0], MANTLE_OK, MAX3_SMALL);
}

static void test_error_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        W("message_start"),
        W("content_block_start"),
        W("content_block_delta"),
        WD("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                                  "{\"type\":\"text_delta\",\"text\":\" a time\"}}"),
        WD("error", "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                    "\"message\":\"Overloaded\"}}"),
    };
    check_stream("error.sse", w, sizeof w / sizeof w[0], MANTLE_OK, MAX3_SMALL);
}

static void test_error_openai_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        W("message"),
        W("message"),
        W("message"),
        WD("message", "{\"error\":{\"message\":\"The server had an error while processing your "
                      "request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,"
                      "\"code\":\"internal_error\"}}"),
    };
    check_stream("error_openai.sse", w, sizeof w / sizeof w[0], MANTLE_OK, MAX3_SMALL);
}

static const struct want small3[] = {
    {"message", "{\"n\":1}", "", -1},
    {"ping", "{\"type\":\"ping\"}", "", -1},
    {"message", "{\"n\":2}", "", -1},
};

static void test_crlf_stream(void **state)
{
    (void)state;
    check_stream("crlf.sse", small3, 3, MANTLE_OK, MAX3_SMALL);
}

static void test_cr_stream(void **state)
{
    (void)state;
    check_stream("cr.sse", small3, 3, MANTLE_OK, MAX3_SMALL);
}

static void test_bom_stream(void **state)
{
    (void)state;
    check_stream("bom.sse", small3, 3, MANTLE_OK, MAX3_SMALL);
}

static void test_comments_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        {"message", "{\"n\":1}", "", -1},
        {"message_delta", "{\"n\":2}", "", -1},
    };
    check_stream("comments.sse", w, 2, MANTLE_OK, MAX3_SMALL);

    /* And the comments themselves, through the optional callback. */
    size_t len;
    char *data = load("comments.sse", &len);
    struct rec r = {0};
    struct sse_parser *p = sse_parser_new(on_event, &r, 0);
    sse_parser_set_comment_cb(p, on_comment);
    assert_int_equal(sse_parser_feed(p, data, len, NULL), MANTLE_OK);
    assert_int_equal(sse_parser_finish(p, NULL), MANTLE_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.ncomments, 5);
    assert_string_equal(r.comments.data, "connected\nping\nping\nkeep-alive inside an event\n\n");
    sse_parser_free(p);
    rec_free(&r);
    free(data);
}

static void test_multiline_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        WD("message", "first line\nsecond line\n\n two leading spaces"),
        WD("message", ""),
        WD("message", "\n"),
        WD("multi", "{\n\"k\": \"v\"\n}"),
    };
    check_stream("multiline.sse", w, 4, MANTLE_OK, MAX3_SMALL);
}

static void test_id_retry_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        {"message", "one", "1", -1},     {"message", "still id 1", "1", -1},
        {"update", "two", "2", 1500},    {"message", "id cleared", "", -1},
        {"message", "after 3", "3", -1},
    };
    check_stream("id_retry.sse", w, 5, MANTLE_OK, MAX3_SMALL);
}

static void test_cut_stream(void **state)
{
    (void)state;
    const struct want w[] = {
        WD("content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                                  "{\"type\":\"text_delta\",\"text\":\"Hel\"}}"),
    };
    check_stream("cut.sse", w, 1, MANTLE_E_STREAM, MAX3_SMALL);
}

/* ---- the rules, one by one ---- */

/* A parser run over a NULL-terminated list of chunks, then finish(). */
struct run {
    struct rec r;
    struct sse_parser *p;
    mantle_code rc;
    struct mantle_error err;
};

static void run_chunks(struct run *x, size_t max, const char *const *chunks)
{
    memset(x, 0, sizeof *x);
    x->r.keep = true;
    x->p = sse_parser_new(on_event, &x->r, max);
    assert_non_null(x->p);
    sse_parser_set_comment_cb(x->p, on_comment);
    x->rc = MANTLE_OK;
    for (size_t i = 0; chunks[i] && x->rc == MANTLE_OK; i++)
        x->rc = sse_parser_feed(x->p, chunks[i], strlen(chunks[i]), &x->err);
    if (x->rc == MANTLE_OK) x->rc = sse_parser_finish(x->p, &x->err);
}

static void run_free(struct run *x)
{
    sse_parser_free(x->p);
    rec_free(&x->r);
}

/* Asserts the events' data equal the NULL-terminated list. */
static void expect_data(const struct run *x, const char *const *datas)
{
    size_t n = 0;
    while (datas[n]) n++;
    if (x->r.n != n) fail_msg("%zu events, want %zu", x->r.n, n);
    for (size_t i = 0; i < n; i++) assert_string_equal(x->r.ev[i].data, datas[i]);
}

#define CHUNKS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_line_endings(void **state)
{
    (void)state;
    struct run x;
    /* CR at the end of a chunk + LF at the start of the next: one line ending, not two. */
    run_chunks(&x, 0, CHUNKS("data: a\r", "\ndata: b\r", "\n\r", "\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    expect_data(&x, CHUNKS("a\nb"));
    run_free(&x);
    /* CR then CR (in the next chunk) is a blank line. */
    run_chunks(&x, 0, CHUNKS("data: a\r", "\rdata: b\n", "\n"));
    expect_data(&x, CHUNKS("a", "b"));
    run_free(&x);
    /* Mixed endings in one chunk; LF CR is two endings (a blank line). */
    run_chunks(&x, 0, CHUNKS("data: a\rdata: b\r\ndata: c\n\rdata: d\r\n\r\n"));
    expect_data(&x, CHUNKS("a\nb\nc", "d"));
    run_free(&x);
    /* A CR pending at a chunk boundary with nothing after it: not a cut line. */
    run_chunks(&x, 0, CHUNKS("data: a\n\r"));
    assert_int_equal(x.rc, MANTLE_OK);
    expect_data(&x, CHUNKS("a"));
    run_free(&x);
    /* Empty chunks change nothing, even between CR and LF. */
    run_chunks(&x, 0, CHUNKS("data: a\r", "", "\n", "", "\n"));
    expect_data(&x, CHUNKS("a"));
    /* After finish the parser takes no more input. */
    assert_int_equal(sse_parser_feed(x.p, "data: b\n\n", 10, NULL), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(x.r.n, 1);
    run_free(&x);
}

static void test_bom(void **state)
{
    (void)state;
    struct run x;
    /* Skipped at the very start, even split byte by byte. */
    run_chunks(&x, 0, CHUNKS("\xEF", "\xBB", "\xBF", "data: a\n\n"));
    expect_data(&x, CHUNKS("a"));
    run_free(&x);
    /* Only at the start: a second BOM (or one later) is part of the line ("\xEF\xBB\xBF" +
     * "data" is an unknown field). */
    run_chunks(&x, 0,
               CHUNKS("\xEF\xBB\xBF\xEF\xBB\xBF"
                      "data: a\n\ndata: b\n\n"));
    expect_data(&x, CHUNKS("b"));
    run_free(&x);
    run_chunks(&x, 0,
               CHUNKS("data: a\n\n\xEF\xBB\xBF"
                      "data: b\n\ndata: c\n\n"));
    expect_data(&x, CHUNKS("a", "c"));
    run_free(&x);
    /* A BOM prefix that turns out not to be one is ordinary line content. */
    run_chunks(&x, 0, CHUNKS("\xEF\xBB", "data: a\n\n:\xEF\n"));
    expect_data(&x, CHUNKS(NULL));
    run_free(&x);
    run_chunks(&x, 0, CHUNKS("\xEF", "\n", "data: a\n\n"));
    expect_data(&x, CHUNKS("a"));
    run_free(&x);
    /* A stream that is nothing but a partial BOM was cut inside a line. */
    run_chunks(&x, 0, CHUNKS("\xEF\xBB"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    run_free(&x);
    run_chunks(&x, 0, CHUNKS("\xEF\xBB\xBF"));
    assert_int_equal(x.rc, MANTLE_OK);
    run_free(&x);
}

static void test_field_values(void **state)
{
    (void)state;
    struct run x;
    /* One optional space removed, no more; a tab is not a space; "data" alone is empty. */
    run_chunks(&x, 0,
               CHUNKS("data:a\n\n", "data: a\n\n", "data:  a\n\n", "data:\ta\n\n", "data\n\n",
                      "data: \n\n", "data:a:b: c\n\n"));
    expect_data(&x, CHUNKS("a", "a", " a", "\ta", "", "", "a:b: c"));
    run_free(&x);
    /* Empty data lines still join with '\n'. */
    run_chunks(&x, 0, CHUNKS("data:\ndata:\n\ndata\ndata: x\ndata\n\n"));
    expect_data(&x, CHUNKS("\n", "\nx\n"));
    run_free(&x);
    /* Unknown fields (names are case-sensitive and exact) are ignored. */
    run_chunks(&x, 0,
               CHUNKS("foo: bar\ndata: x\nDATA: y\nData: z\ndata : w\n data: v\ndatas: u\n"
                      "eventx: e\nEvent: E\n\n"));
    expect_data(&x, CHUNKS("x"));
    assert_string_equal(x.r.ev[0].type, "message");
    run_free(&x);
}

static void test_comments(void **state)
{
    (void)state;
    struct run x;
    run_chunks(&x, 0, CHUNKS(": ping\n", ":\n:  two\r\n", ":data: x\n\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    assert_int_equal(x.r.n, 0);
    assert_int_equal(x.r.ncomments, 4);
    assert_string_equal(x.r.comments.data, "ping\n\n two\ndata: x\n");
    run_free(&x);
    /* A comment inside an event neither dispatches nor breaks it. */
    run_chunks(&x, 0, CHUNKS("data: a\n: c\ndata: b\n\n"));
    expect_data(&x, CHUNKS("a\nb"));
    run_free(&x);
    /* A stream of only keep-alives ends cleanly. */
    run_chunks(&x, 0, CHUNKS(": ping\n\n: ping\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    run_free(&x);
}

static void test_id(void **state)
{
    (void)state;
    struct run x;
    static const char stream[] = "id: a\0b\ndata: x\n\nid: ok\ndata: y\n\nid: c\0\ndata: z\n\n"
                                 "id\ndata: w\n\nid: 7\n\n";
    memset(&x, 0, sizeof x);
    x.r.keep = true;
    x.p = sse_parser_new(on_event, &x.r, 0);
    assert_int_equal(sse_parser_feed(x.p, stream, sizeof stream - 1, NULL), MANTLE_OK);
    assert_int_equal(sse_parser_finish(x.p, NULL), MANTLE_OK);
    assert_int_equal(x.r.n, 4);
    assert_string_equal(x.r.ev[0].id, ""); /* contained NUL: ignored */
    assert_string_equal(x.r.ev[1].id, "ok");
    assert_string_equal(x.r.ev[2].id, "ok"); /* NUL again: the old id stays */
    assert_string_equal(x.r.ev[3].id, "");   /* "id" alone resets it */
    /* An id in a block without data is not dispatched but is remembered. */
    size_t len = 99;
    assert_string_equal(sse_parser_last_event_id(x.p, &len), "7");
    assert_int_equal(len, 1);
    run_free(&x);
}

static void test_retry(void **state)
{
    (void)state;
    struct run x;
    run_chunks(&x, 0,
               CHUNKS("retry: 12a\ndata: 1\n\n", "retry: -5\ndata: 2\n\n", "retry: +5\ndata: 3\n\n",
                      "retry:\ndata: 4\n\n", "retry: 1 \ndata: 5\n\n", "retry:  5\ndata: 6\n\n",
                      "retry: 0042\ndata: 7\n\n", "data: 8\n\n",
                      "retry: 99999999999999999999999999\ndata: 9\n\n", "retry: 250\n\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    assert_int_equal(x.r.n, 9);
    for (int i = 0; i < 6; i++) assert_int_equal(x.r.ev[i].retry, -1);
    assert_int_equal(x.r.ev[6].retry, 42);
    assert_int_equal(x.r.ev[7].retry, -1);       /* the view reports this event's own retry line */
    assert_int_equal(x.r.ev[8].retry, LONG_MAX); /* saturates */
    /* A retry with no data still sets the reconnection time. */
    assert_int_equal(sse_parser_retry_ms(x.p), 250);
    run_free(&x);
}

static void test_dispatch_rules(void **state)
{
    (void)state;
    struct run x;
    /* No data, no event (the spec; openai-python would yield an event with empty data here), and
     * the type does not leak into the next event. */
    run_chunks(&x, 0,
               CHUNKS("event: foo\n\n", "data: x\n\n", "\n\n\n", "event:\ndata: y\n\n",
                      "event: a\nevent: b\ndata: z\n\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    expect_data(&x, CHUNKS("x", "y", "z"));
    assert_string_equal(x.r.ev[0].type, "message");
    assert_string_equal(x.r.ev[1].type, "message"); /* empty event type means "message" */
    assert_string_equal(x.r.ev[2].type, "b");
    run_free(&x);
    /* The event is dispatched by the blank line, not before. */
    memset(&x, 0, sizeof x);
    x.r.keep = true;
    x.p = sse_parser_new(on_event, &x.r, 0);
    assert_int_equal(sse_parser_feed(x.p, "data: a\n", 8, NULL), MANTLE_OK);
    assert_int_equal(x.r.n, 0);
    assert_int_equal(sse_parser_feed(x.p, "\n", 1, NULL), MANTLE_OK);
    assert_int_equal(x.r.n, 1);
    run_free(&x);
}

static void test_binary_bytes(void **state)
{
    (void)state;
    /* NULs and invalid UTF-8 are passed through as bytes, with lengths. */
    static const char stream[] = "event: t\0x\ndata: a\0b\xff\xfe\xc3\n\n\0\n";
    struct rec r = {.keep = true};
    struct sse_parser *p = sse_parser_new(on_event, &r, 0);
    assert_int_equal(sse_parser_feed(p, stream, sizeof stream - 1, NULL), MANTLE_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.ev[0].data_len, 6);
    assert_memory_equal(r.ev[0].data, "a\0b\xff\xfe\xc3", 6);
    assert_memory_equal(r.ev[0].type, "t\0x", 4);
    /* "\0" alone is a field line with an unknown name: the stream is inside an event. */
    assert_int_equal(sse_parser_finish(p, NULL), MANTLE_E_STREAM);
    sse_parser_free(p);
    rec_free(&r);
}

static void test_max_event_size(void **state)
{
    (void)state;
    struct run x;
    char line[64];
    /* A line of exactly the limit is fine; one byte more is an error naming the limit, whether
     * the line arrives whole or in pieces, and whatever the field. */
    snprintf(line, sizeof line, "data: %026d\n\n", 0); /* 32 bytes before the LF */
    run_chunks(&x, 32, CHUNKS(line));
    assert_int_equal(x.rc, MANTLE_OK);
    assert_int_equal(x.r.n, 1);
    run_free(&x);
    snprintf(line, sizeof line, "data: %027d\n\n", 0);
    run_chunks(&x, 32, CHUNKS(line));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    assert_string_equal(x.err.message, "SSE line exceeds the maximum event size (32 bytes)");
    assert_int_equal(x.r.n, 0);
    /* Sticky: later calls report the same error and deliver nothing. */
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(sse_parser_feed(x.p, "data: a\n\n", 9, &err), MANTLE_E_STREAM);
    assert_string_equal(err.message, "SSE line exceeds the maximum event size (32 bytes)");
    assert_int_equal(sse_parser_finish(x.p, NULL), MANTLE_E_STREAM);
    assert_int_equal(x.r.n, 0);
    run_free(&x);
    run_chunks(&x, 32, CHUNKS("data: 0123456789", "0123456789", "0123456789", "!"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    run_free(&x);
    run_chunks(&x, 32, CHUNKS(": a comment that is far too long for the limit\n"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    run_free(&x);
    /* The data of one event: 3 x 10 bytes + 2 joins = 32 fits, a fourth line does not. */
    run_chunks(&x, 32, CHUNKS("data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    expect_data(&x, CHUNKS("0123456789\n0123456789\n0123456789"));
    run_free(&x);
    run_chunks(&x, 32, CHUNKS("data: 0123456789\ndata: 0123456789\ndata: 0123456789\ndata:\n\n"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    assert_string_equal(x.err.message, "SSE event data exceeds the maximum event size (32 bytes)");
    assert_int_equal(x.r.n, 0);
    run_free(&x);
    /* Many events each under the limit are fine: the limit is per event. */
    run_chunks(&x, 32,
               CHUNKS("data: 0123456789\ndata: 0123456789\n\n", "data: 0123456789\n\n",
                      "data: 0123456789\ndata: 0123456789\ndata: 0123456789\n\n"));
    assert_int_equal(x.rc, MANTLE_OK);
    assert_int_equal(x.r.n, 3);
    run_free(&x);
    /* 0 selects the default. */
    struct rec r = {0};
    struct sse_parser *p = sse_parser_new(on_event, &r, 0);
    size_t big = SSE_DEFAULT_MAX_EVENT_SIZE + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'x', big);
    memcpy(huge, "data: ", 6);
    assert_int_equal(sse_parser_feed(p, huge, big - 1, NULL), MANTLE_OK); /* exactly the limit */
    assert_int_equal(sse_parser_feed(p, "x", 1, &err), MANTLE_E_STREAM);
    assert_string_equal(err.message, "SSE line exceeds the maximum event size (16777216 bytes)");
    free(huge);
    sse_parser_free(p);
    rec_free(&r);
}

static void test_cancel(void **state)
{
    (void)state;
    static const char stream[] = "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n";
    struct rec r = {.keep = true, .stop_at = 2};
    struct sse_parser *p = sse_parser_new(on_event, &r, 0);
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(sse_parser_feed(p, stream, sizeof stream - 1, &err), MANTLE_E_CANCELLED);
    assert_int_equal(err.code, MANTLE_E_CANCELLED);
    assert_int_equal(r.n, 2); /* stopped at once: event 3 in the same chunk is not delivered */
    assert_string_equal(r.ev[1].data, "2");
    r.stop_at = 0;
    assert_int_equal(sse_parser_feed(p, "data: 5\n\n", 9, NULL), MANTLE_E_CANCELLED);
    assert_int_equal(sse_parser_finish(p, NULL), MANTLE_E_CANCELLED);
    assert_int_equal(r.n, 2);
    /* reset() makes the parser usable again. */
    sse_parser_reset(p);
    assert_int_equal(sse_parser_feed(p, "data: 6\n\n", 9, NULL), MANTLE_OK);
    assert_int_equal(sse_parser_finish(p, NULL), MANTLE_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.ev[2].data, "6");
    sse_parser_free(p);
    rec_free(&r);
}

struct rec_and_count {
    struct rec r; /* first: on_event gets the same pointer */
    int comments;
};

static int stop_on_comment(void *ud, const char *text, size_t len)
{
    (void)text;
    (void)len;
    ((struct rec_and_count *)ud)->comments++;
    return 1;
}

static void test_cancel_from_comment(void **state)
{
    (void)state;
    struct rec_and_count u;
    memset(&u, 0, sizeof u);
    struct sse_parser *p = sse_parser_new(on_event, &u.r, 0);
    sse_parser_set_comment_cb(p, stop_on_comment);
    assert_int_equal(sse_parser_feed(p, "data: 1\n\n: ping\ndata: 2\n\n", 26, NULL),
                     MANTLE_E_CANCELLED);
    assert_int_equal(u.r.n, 1);
    assert_int_equal(u.comments, 1);
    sse_parser_free(p);
    rec_free(&u.r);
}

static void test_finish(void **state)
{
    (void)state;
    struct run x;
    /* Cut inside a line. */
    run_chunks(&x, 0, CHUNKS("data: 1\n\ndata: {\"par"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    assert_int_equal(x.err.code, MANTLE_E_STREAM);
    assert_non_null(strstr(x.err.message, "stream ended in the middle of an event"));
    expect_data(&x, CHUNKS("1"));
    run_free(&x);
    /* Cut after complete field lines but before the blank line: the event is discarded. */
    run_chunks(&x, 0, CHUNKS("data: 1\n\ndata: 2\n"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    assert_non_null(strstr(x.err.message, "stream ended in the middle of an event"));
    expect_data(&x, CHUNKS("1"));
    run_free(&x);
    run_chunks(&x, 0, CHUNKS("event: ping\n"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    run_free(&x);
    run_chunks(&x, 0, CHUNKS("data: 1\r"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    run_free(&x);
    /* Clean ends: after a blank line, an empty stream, trailing comments or blank lines. */
    const char *const *clean[] = {CHUNKS("data: 1\n\n"), CHUNKS(""), CHUNKS("data: 1\r\n\r\n"),
                                  CHUNKS("data: 1\n\n: bye\n"), CHUNKS("data: 1\n\n\n\n")};
    for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) {
        run_chunks(&x, 0, clean[i]);
        assert_int_equal(x.rc, MANTLE_OK);
        run_free(&x);
    }
    /* finish() twice gives the same answer. */
    run_chunks(&x, 0, CHUNKS("data: 1\n"));
    assert_int_equal(x.rc, MANTLE_E_STREAM);
    assert_int_equal(sse_parser_finish(x.p, NULL), MANTLE_E_STREAM);
    run_free(&x);
}

static void test_reset(void **state)
{
    (void)state;
    struct rec r = {.keep = true};
    struct sse_parser *p = sse_parser_new(on_event, &r, 0);
    static const char before[] = "\xEF\xBB\xBFid: 5\nretry: 10\nevent: x\ndata: partial";
    assert_int_equal(sse_parser_feed(p, before, strlen(before), NULL), MANTLE_OK);
    sse_parser_reset(p);
    assert_string_equal(sse_parser_last_event_id(p, NULL), "");
    assert_int_equal(sse_parser_retry_ms(p), -1);
    /* Nothing from before the reset leaks: no partial line, type, id; a BOM is allowed again. */
    assert_int_equal(sse_parser_feed(p,
                                     "\xEF\xBB\xBF"
                                     "data: new\n\n",
                                     14, NULL),
                     MANTLE_OK);
    assert_int_equal(sse_parser_finish(p, NULL), MANTLE_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.ev[0].type, "message");
    assert_string_equal(r.ev[0].data, "new");
    assert_string_equal(r.ev[0].id, "");
    /* After finish, reset allows a new stream. */
    sse_parser_reset(p);
    assert_int_equal(sse_parser_feed(p, "data: again\n\n", 13, NULL), MANTLE_OK);
    assert_int_equal(r.n, 2);
    sse_parser_free(p);
    rec_free(&r);
}

static void test_arguments(void **state)
{
    (void)state;
    assert_null(sse_parser_new(NULL, NULL, 0));
    struct rec r = {0};
    struct sse_parser *p = sse_parser_new(on_event, &r, 0);
    assert_int_equal(sse_parser_feed(p, NULL, 0, NULL), MANTLE_OK);
    assert_int_equal(sse_parser_feed(p, NULL, 1, NULL), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(sse_parser_feed(NULL, "x", 1, NULL), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(sse_parser_finish(NULL, NULL), MANTLE_E_INVALID_ARGUMENT);
    sse_parser_free(p);
    sse_parser_free(NULL);
    rec_free(&r);
}

static int count_only(void *ud, const struct sse_event *ev)
{
    (void)ev;
    (*(size_t *)ud)++;
    return 0;
}

/* Once the buffers have grown to the largest event, parsing more allocates nothing. */
static void test_no_allocation_after_warmup(void **state)
{
    (void)state;
    size_t len;
    char *data = load("chat.sse", &len);
    size_t n = 0;
    struct sse_parser *p = sse_parser_new(count_only, &n, 0);
    /* Warm up with one pass fed whole and one fed in small pieces (the partial-line buffer). */
    assert_int_equal(sse_parser_feed(p, data, len, NULL), MANTLE_OK);
    for (size_t at = 0; at < len; at += 7)
        assert_int_equal(sse_parser_feed(p, data + at, len - at < 7 ? len - at : 7, NULL),
                         MANTLE_OK);
    size_t cap = sse_parser_capacity(p);
    assert_true(cap > 0);
    size_t warm = n;
    for (int round = 0; round < 300; round++) {
        size_t step = 1 + (size_t)round % 97;
        for (size_t at = 0; at < len; at += step)
            assert_int_equal(sse_parser_feed(p, data + at, len - at < step ? len - at : step, NULL),
                             MANTLE_OK);
        assert_int_equal(sse_parser_capacity(p), cap);
    }
    assert_int_equal(n, warm + 300 * 13);
    sse_parser_free(p);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responses_stream),
        cmocka_unit_test(test_chat_stream),
        cmocka_unit_test(test_anthropic_stream),
        cmocka_unit_test(test_error_stream),
        cmocka_unit_test(test_error_openai_stream),
        cmocka_unit_test(test_crlf_stream),
        cmocka_unit_test(test_cr_stream),
        cmocka_unit_test(test_bom_stream),
        cmocka_unit_test(test_comments_stream),
        cmocka_unit_test(test_multiline_stream),
        cmocka_unit_test(test_id_retry_stream),
        cmocka_unit_test(test_cut_stream),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_dispatch_rules),
        cmocka_unit_test(test_binary_bytes),
        cmocka_unit_test(test_max_event_size),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_from_comment),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_no_allocation_after_warmup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
