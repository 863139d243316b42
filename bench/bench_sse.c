/*
 * bench_sse: server-sent-events parsing throughput, one "name value unit" line per figure.
 *
 *   bench_sse [--mb M] [--reps N] [chat.sse]
 *
 * The Chat Completions recording (tests/data/sse/chat.sse: ~270-byte "data: {json}" chunk events
 * and a "data: [DONE]") is repeated to about M MB (default 100) and fed to the parser in 16 KiB
 * chunks, as libcurl would hand them over. Each figure is run N times (default 3) and the best
 * repetition printed, because on a shared machine noise only ever makes a run slower.
 *
 *   sse_events_per_sec        the parser alone (the callback only counts)
 *   sse_mb_per_sec            the same run in MB/s (10^6 bytes)
 *   sse_json_events_per_sec   the parser plus the client's JSON path (client_json_parse, as
 *                             src/client/stream.c does) + json_decref of each event's data (the
 *                             "[DONE]" sentinel is recognised and not parsed)
 *   bare_json_events_per_sec  jansson's json_loadb + json_decref alone over the same data
 *                             strings, already split into an array (the "bare loop")
 *   fast_json_events_per_sec  client_json_parse + json_decref alone over the same array: the
 *                             floor sse_json cannot beat
 */
#include "client/jsonparse.h"
#include "stream/sse.h"

#include <jansson.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK (16 * 1024)

#ifndef MANTLE_SOURCE_DIR
#define MANTLE_SOURCE_DIR "."
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1)) != NULL) {
            *len = fread(data, 1, (size_t)n, f);
            data[*len] = '\0';
        }
    }
    fclose(f);
    return data;
}

struct counter {
    size_t events;
    size_t json_errors;
    bool parse_json;
};

static int on_event(void *ud, const struct sse_event *ev)
{
    struct counter *c = ud;
    c->events++;
    if (c->parse_json && !(ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0)) {
        json_t *j = client_json_parse(ev->data, ev->data_len, JSON_DECODE_ANY, NULL);
        if (!j)
            c->json_errors++;
        else
            json_decref(j);
    }
    return 0;
}

/* One pass over the whole input in CHUNK-byte feeds; returns seconds, fills *events. */
static double run_parser(const char *data, size_t len, bool parse_json, size_t *events)
{
    struct counter c = {0, 0, parse_json};
    struct sse_parser *p = sse_parser_new(on_event, &c, 0);
    if (!p) exit(1);
    struct mantle_error err = MANTLE_ERROR_INIT;
    double t0 = now();
    for (size_t at = 0; at < len; at += CHUNK) {
        size_t n = len - at < CHUNK ? len - at : CHUNK;
        if (sse_parser_feed(p, data + at, n, &err) != MANTLE_OK) {
            fprintf(stderr, "bench_sse: %s\n", err.message);
            exit(1);
        }
    }
    if (sse_parser_finish(p, &err) != MANTLE_OK) {
        fprintf(stderr, "bench_sse: %s\n", err.message);
        exit(1);
    }
    double t = now() - t0;
    sse_parser_free(p);
    if (c.json_errors) {
        fprintf(stderr, "bench_sse: %zu events were not valid JSON\n", c.json_errors);
        exit(1);
    }
    *events = c.events;
    return t;
}

/* The JSON payloads of one copy of the recording, collected once with the parser. */
struct payloads {
    char **data;
    size_t *len;
    size_t n, cap;
};

static int collect(void *ud, const struct sse_event *ev)
{
    struct payloads *pl = ud;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) return 0;
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 64;
        pl->data = realloc(pl->data, pl->cap * sizeof *pl->data);
        pl->len = realloc(pl->len, pl->cap * sizeof *pl->len);
        if (!pl->data || !pl->len) exit(1);
    }
    pl->data[pl->n] = malloc(ev->data_len + 1);
    if (!pl->data[pl->n]) exit(1);
    memcpy(pl->data[pl->n], ev->data, ev->data_len + 1);
    pl->len[pl->n++] = ev->data_len;
    return 0;
}

int main(int argc, char **argv)
{
    double mb = 100;
    int reps = 3;
    const char *path = MANTLE_SOURCE_DIR "/tests/data/sse/chat.sse";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mb") == 0 && i + 1 < argc)
            mb = atof(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "usage: bench_sse [--mb M] [--reps N] [chat.sse]\n");
            return 2;
        }
    }
    if (mb <= 0 || reps < 1) return 2;

    size_t one_len;
    char *one = read_file(path, &one_len);
    if (!one || one_len == 0) {
        fprintf(stderr, "bench_sse: cannot read %s\n", path);
        return 1;
    }
    size_t copies = (size_t)(mb * 1e6 / (double)one_len) + 1;
    size_t len = copies * one_len;
    char *data = malloc(len);
    if (!data) return 1;
    for (size_t i = 0; i < copies; i++) memcpy(data + i * one_len, one, one_len);

    /* The bare-JSON input: the same payloads, as many times as in the big input. */
    struct payloads pl = {0};
    struct sse_parser *p = sse_parser_new(collect, &pl, 0);
    if (!p || sse_parser_feed(p, one, one_len, NULL) != MANTLE_OK ||
        sse_parser_finish(p, NULL) != MANTLE_OK)
        return 1;
    sse_parser_free(p);

    size_t events = 0;
    double best = 1e30, best_json = 1e30, best_bare = 1e30;
    run_parser(data, (copies < 64 ? copies : 64) * one_len, false, &events); /* warm-up */
    for (int r = 0; r < reps; r++) {
        double t = run_parser(data, len, false, &events);
        if (t < best) best = t;
    }
    size_t json_events = 0;
    for (int r = 0; r < reps; r++) {
        double t = run_parser(data, len, true, &json_events);
        if (t < best_json) best_json = t;
    }
    size_t bare = 0, fast = 0;
    double best_fast = 1e30;
    for (int pass = 0; pass < 2; pass++) { /* jansson's json_loadb, then client_json_parse */
        for (int r = 0; r < reps; r++) {
            size_t n = 0;
            double t0 = now();
            for (size_t c = 0; c < copies; c++) {
                for (size_t i = 0; i < pl.n; i++) {
                    json_t *j = pass ? client_json_parse(pl.data[i], pl.len[i], 0, NULL)
                                     : json_loadb(pl.data[i], pl.len[i], 0, NULL);
                    if (!j) return 1;
                    json_decref(j);
                    n++;
                }
            }
            double t = now() - t0;
            if (pass) {
                fast = n;
                if (t < best_fast) best_fast = t;
            } else {
                bare = n;
                if (t < best_bare) best_bare = t;
            }
        }
    }

    printf("# input %zu bytes, %zu events (%zu copies of %s), %d reps, best shown\n", len, events,
           copies, path, reps);
    printf("sse_events_per_sec %.0f events/s\n", (double)events / best);
    printf("sse_mb_per_sec %.1f MB/s\n", (double)len / 1e6 / best);
    printf("sse_json_events_per_sec %.0f events/s\n", (double)json_events / best_json);
    printf("bare_json_events_per_sec %.0f events/s\n", (double)bare / best_bare);
    printf("fast_json_events_per_sec %.0f events/s\n", (double)fast / best_fast);

    for (size_t i = 0; i < pl.n; i++) free(pl.data[i]);
    free(pl.data);
    free(pl.len);
    free(data);
    free(one);
    return 0;
}
