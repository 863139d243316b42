/*
 * bench_credentials: the cost of a cached credentials get, the call every signed request makes.
 * One "name value unit" line per figure:
 *
 *   creds_cached_get_ns            ns per get + unref, one thread
 *   creds_cached_get_2threads_ns   ns per get + unref per thread, two threads on one cache
 *
 *   bench_credentials [--seconds S] [--reps N]
 *
 * Each figure runs for S seconds (default 1), N times (default 3), and the best repetition is
 * printed (noise on a shared machine only ever makes a run slower). The cache wraps a static
 * provider whose credentials never expire, so every get is a hit: lock, reference, unlock.
 */
#include <mantle/credentials.h>

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds = 1.0;
static int reps = 3;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
    struct mantle_credentials_provider *p;
    atomic_bool *go, *stop;
    long ops;
};

/* Gets in batches, checking the clock (or the stop flag) once per batch. */
static void *get_loop(void *arg)
{
    struct run *r = arg;
    while (!atomic_load(r->go)) {
    }
    long ops = 0;
    while (!atomic_load(r->stop)) {
        for (int i = 0; i < 1000; i++) {
            struct mantle_credentials *c = NULL;
            if (mantle_credentials_provider_get(r->p, &c, NULL) != MANTLE_OK) abort();
            mantle_credentials_unref(c);
        }
        ops += 1000;
    }
    r->ops = ops;
    return NULL;
}

/* ns per get per thread, with `threads` threads hammering the same cache. */
static double measure(struct mantle_credentials_provider *p, int threads)
{
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        atomic_bool go = false, stop = false;
        struct run runs[8];
        pthread_t t[8];
        for (int i = 0; i < threads; i++) {
            runs[i] = (struct run){p, &go, &stop, 0};
            pthread_create(&t[i], NULL, get_loop, &runs[i]);
        }
        double start = now_s();
        atomic_store(&go, true);
        while (now_s() - start < seconds) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        atomic_store(&stop, true);
        double elapsed = now_s() - start;
        long ops = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i], NULL);
            ops += runs[i].ops;
        }
        /* each thread ran for `elapsed`: time per op per thread */
        double ns = elapsed * 1e9 * threads / (double)ops;
        if (ns < best) best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seconds", required_argument, NULL, 's'}, {"reps", required_argument, NULL, 'r'}, {0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "s:r:", longopts, NULL)) != -1) {
        if (opt == 's')
            seconds = atof(optarg);
        else if (opt == 'r')
            reps = atoi(optarg);
        else
            return 2;
    }
    if (seconds <= 0 || reps <= 0) return 2;

    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials *c = mantle_credentials_new(
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token", 0, &err);
    struct mantle_credentials_provider *s = mantle_credentials_provider_new_static(c, &err);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_cached(s, &err);
    if (!c || !s || !p) {
        fprintf(stderr, "setup failed: %s\n", err.message);
        return 1;
    }
    printf("creds_cached_get_ns %.1f ns\n", measure(p, 1));
    printf("creds_cached_get_2threads_ns %.1f ns\n", measure(p, 2));
    mantle_credentials_provider_unref(p);
    mantle_credentials_provider_unref(s);
    mantle_credentials_unref(c);
    return 0;
}
