/*
 * bench_sign: SigV4 signing throughput, one "name value unit" line per figure.
 *
 *   bench_sign [--seconds S] [--reps N] [--threads T] [--only NAME] [--iterations N] [--wall]
 *
 * Time mode (default): each figure is warmed up, then run for S seconds (default 1) of wall time,
 * N times (default 3); the best repetition is printed, because on a shared machine noise only
 * ever makes a run slower. Rates are per second of the thread's CPU time (as `openssl speed`
 * divides by CPU time), or of wall time with --wall. With --threads T > 1 the POST is also run on
 * 1 and on T threads at once, by wall time, and the aggregate rates and their ratio printed: the
 * derived-key cache is behind a mutex, and this shows whether it serializes signers (the uncached
 * POST takes no lock: it is the control). `--only threads` runs just those.
 *
 * Count mode (--iterations N): each selected figure signs exactly N times, once, after one warm-up
 * signature. Meant for a noise-free instruction count under callgrind:
 *   valgrind --tool=callgrind --toggle-collect=sign_loop \
 *       bench_sign --iterations 20000 --only sign_post_2k_cached
 * then Ir / 20000 is the instruction count of one signature.
 *
 * The requests are the ones botocore_sign.py signs (same body, headers, token and timestamp);
 * the "# signature" lines let run_sign_bench.sh check that both sides signed the same thing.
 */
#include <mantle/sigv4.h>

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGNING_TIME 1735732800 /* 2025-01-01T12:00:00Z, fixed like botocore_sign.py's */
#define BODY_LEN 2048
#define TOKEN_LEN 1024 /* STS/IMDS session tokens are commonly around 1 KB */
#define BIG_LEN (1024 * 1024)
#define PRESIGN_EXPIRES 900

static const char POST_URL[] = "https://bedrock-mantle.us-east-1.api.aws/v1/responses";
static const char GET_URL[] = "https://bedrock-mantle.us-east-1.api.aws/v1/models";

static char body[BODY_LEN + 1];
static char token[TOKEN_LEN + 1];
static char *big_body;

static const struct mantle_header post_headers[] = {{"content-type", "application/json"}};

/* One benchmarked signing call: a request, its parameters, and how to report it. */
struct figure {
    const char *name;
    const struct mantle_sigv4_request *req;
    const struct mantle_sigv4_credentials *creds;
    struct mantle_sigv4_params params;
    double bytes_per_op; /* 0: report sig/s; otherwise report MB/s (10^6 bytes) */
};

/* Temporary (STS) credentials carry a session token, which is signed; long-term (IAM user)
 * credentials have none. */
static const struct mantle_sigv4_credentials sts = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token};
static const struct mantle_sigv4_credentials iam = {
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};

/* Deterministic inputs; botocore_sign.py builds the same bytes. */
static void make_inputs(void)
{
    static const char head[] = "{\"model\":\"openai.gpt-oss-120b\",\"input\":\"";
    static const char tail[] = "\",\"max_output_tokens\":256}";
    static const char filler[] = "The quick brown fox jumps over the lazy dog. ";
    size_t n = sizeof head - 1, fill = BODY_LEN - n - (sizeof tail - 1);
    memcpy(body, head, n);
    for (size_t i = 0; i < fill; i++) body[n++] = filler[i % (sizeof filler - 1)];
    memcpy(body + n, tail, sizeof tail);

    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char prefix[] = "IQoJb3JpZ2luX2VjE";
    memcpy(token, prefix, sizeof prefix - 1);
    for (size_t i = sizeof prefix - 1; i < TOKEN_LEN; i++) token[i] = b64[(i * 37 + 11) % 64];
    token[TOKEN_LEN] = '\0';

    big_body = malloc(BIG_LEN);
    if (!big_body) {
        fprintf(stderr, "bench_sign: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < BIG_LEN; i++) big_body[i] = (char)('a' + i % 26);
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* Single-thread rates are per second of this thread's CPU time, as `openssl speed` divides by
 * CPU time: time the machine gives to other processes is then not counted against us. */
static bool wall_clock_rates;

static double thread_cpu(void)
{
    return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

static void sign_or_die(const struct figure *f, struct mantle_sigv4_result *res,
                        struct mantle_error *err)
{
    if (mantle_sigv4_sign(f->req, f->creds, &f->params, res, err) != MANTLE_OK) {
        fprintf(stderr, "bench_sign: %s: %s\n", f->name, err->message);
        exit(1);
    }
}

/* The measured loop, kept out of line so callgrind can count just it (--toggle-collect). */
__attribute__((noinline)) void sign_loop(const struct figure *f, struct mantle_sigv4_result *res,
                                         long n);
__attribute__((noinline)) void sign_loop(const struct figure *f, struct mantle_sigv4_result *res,
                                         long n)
{
    /* One error struct for the loop: it is only written on failure, and zeroing its 650 bytes
     * per call would be the benchmark's cost, not the signer's. */
    struct mantle_error err = MANTLE_ERROR_INIT;
    for (long i = 0; i < n; i++) sign_or_die(f, res, &err);
}

/* Signs for `seconds` of wall time; returns operations per second of CPU time, or of wall time
 * with `wall` (a multi-thread aggregate: a thread blocked on a lock uses no CPU time). */
static double run_timed(const struct figure *f, struct mantle_sigv4_result *res, double seconds,
                        bool wall)
{
    /* Check the clock every batch: often enough to stop on time, rarely enough not to matter. */
    long batch = f->bytes_per_op > 0 ? 1 : 64, ops = 0;
    double start = now(), end = start + seconds, cpu = thread_cpu(), t;
    do {
        sign_loop(f, res, batch);
        ops += batch;
    } while ((t = now()) < end);
    return (double)ops / (wall ? t - start : thread_cpu() - cpu);
}

static double best_of(const struct figure *f, double seconds, int reps)
{
    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    if (!res) exit(1);
    run_timed(f, res, seconds / 4, true); /* warm-up: caches, CPU frequency, the key cache */
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double rate = run_timed(f, res, seconds, wall_clock_rates);
        if (rate > best) best = rate;
    }
    mantle_sigv4_result_free(res);
    return best;
}

struct thread_arg {
    const struct figure *f;
    double seconds;
    pthread_barrier_t *barrier;
    double rate;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    if (!res) exit(1);
    run_timed(a->f, res, a->seconds / 4, true); /* per-thread warm-up, before the common start */
    pthread_barrier_wait(a->barrier);
    a->rate = run_timed(a->f, res, a->seconds, true);
    mantle_sigv4_result_free(res);
    return NULL;
}

/* Best aggregate rate of `threads` threads signing at once, each with its own result. */
static double best_of_threads(const struct figure *f, double seconds, int reps, int threads)
{
    double best = 0;
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    struct thread_arg *args = calloc((size_t)threads, sizeof *args);
    if (!tid || !args) exit(1);
    for (int r = 0; r < reps; r++) {
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, (unsigned)threads);
        for (int i = 0; i < threads; i++) {
            args[i] = (struct thread_arg){f, seconds, &barrier, 0};
            if (pthread_create(&tid[i], NULL, thread_main, &args[i]) != 0) {
                fprintf(stderr, "bench_sign: pthread_create failed\n");
                exit(1);
            }
        }
        double sum = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(tid[i], NULL);
            sum += args[i].rate;
        }
        pthread_barrier_destroy(&barrier);
        if (sum > best) best = sum;
    }
    free(tid);
    free(args);
    return best;
}

static void print_rate(const char *name, const struct figure *f, double rate)
{
    if (f->bytes_per_op > 0)
        printf("%s %.1f MB/s\n", name, rate * f->bytes_per_op / 1e6);
    else
        printf("%s %.0f sig/s\n", name, rate);
    fflush(stdout);
}

static bool print_signature(const char *tag, const struct figure *f, const struct figure *uncached)
{
    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    if (!res) return false;
    struct mantle_error err = MANTLE_ERROR_INIT;
    char sig[65];
    sign_or_die(f, res, &err);
    snprintf(sig, sizeof sig, "%s", mantle_sigv4_result_signature(res));
    if (uncached) sign_or_die(uncached, res, &err);
    bool same = strcmp(sig, mantle_sigv4_result_signature(res)) == 0;
    mantle_sigv4_result_free(res);
    if (!same) {
        fprintf(stderr, "bench_sign: %s: cached and uncached signatures differ\n", tag);
        return false;
    }
    printf("# signature %s %s\n", tag, sig);
    return true;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_sign [--seconds S] [--reps N] [--threads T] [--only NAME]\n"
            "                  [--iterations N] [--wall]\n"
            "  --only NAME  one figure, e.g. sign_post_2k_cached; 'threads': the --threads ones\n"
            "  --wall       single-thread rates per second of wall time, not of CPU time\n");
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    int reps = 3, threads = 1;
    long iterations = 0;
    const char *only = NULL;
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 's'}, {"reps", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'}, {"iterations", required_argument, NULL, 'i'},
        {"only", required_argument, NULL, 'o'},    {"wall", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            seconds = atof(optarg);
            break;
        case 'r':
            reps = atoi(optarg);
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 'i':
            iterations = atol(optarg);
            break;
        case 'o':
            only = optarg;
            break;
        case 'w':
            wall_clock_rates = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (seconds <= 0 || reps < 1 || threads < 1 || threads > 256 || iterations < 0 ||
        optind < argc) {
        usage(stderr);
        return 2;
    }
    make_inputs();

    const struct mantle_sigv4_request post = {.method = "POST",
                                              .url = POST_URL,
                                              .headers = post_headers,
                                              .header_count = 1,
                                              .payload_kind = MANTLE_PAYLOAD_BYTES,
                                              .payload = body,
                                              .payload_len = BODY_LEN};
    const struct mantle_sigv4_request get = {.method = "GET", .url = GET_URL};
    const struct mantle_sigv4_request big = {.method = "POST",
                                             .url = POST_URL,
                                             .headers = post_headers,
                                             .header_count = 1,
                                             .payload_kind = MANTLE_PAYLOAD_BYTES,
                                             .payload = big_body,
                                             .payload_len = BIG_LEN};
    const unsigned body_flag = MANTLE_SIGV4_SIGN_BODY, no_cache = MANTLE_SIGV4_NO_KEY_CACHE;
#define P(flags, expires)                                                                          \
    {                                                                                              \
        "us-east-1", "bedrock-mantle", SIGNING_TIME, (flags), (expires)                            \
    }
    const struct figure figures[] = {
        {"sign_post_2k_cached", &post, &sts, P(body_flag, 0), 0},
        {"sign_post_2k_uncached", &post, &sts, P(body_flag | no_cache, 0), 0},
        {"sign_get_empty_cached", &get, &iam, P(0, 0), 0},
        {"sign_get_empty_uncached", &get, &iam, P(no_cache, 0), 0},
        {"sign_presign_cached", &get, &sts, P(0, PRESIGN_EXPIRES), 0},
        /* No target: the GET with a 1 KB token, which has to be hashed too. */
        {"sign_get_token_cached", &get, &sts, P(0, 0), 0},
        /* The whole signer on a 1 MiB body: hashing dominates, the rest is ~1%. */
        {"payload_sha256_1mib", &big, &sts, P(body_flag, 0), BIG_LEN},
    };
#undef P
    const size_t nfig = sizeof figures / sizeof *figures;

    /* Print what was signed, so run_sign_bench.sh can compare it with botocore's signature of
     * the same request, and check that cached and uncached keys sign alike. */
    if (!print_signature("post_2k", &figures[0], &figures[1]) ||
        !print_signature("get_empty", &figures[2], &figures[3]) ||
        !print_signature("presign", &figures[4], NULL) ||
        !print_signature("get_token", &figures[5], NULL))
        return 1;

    bool any = false;
    for (size_t i = 0; i < nfig; i++) {
        const struct figure *f = &figures[i];
        if (only && strcmp(only, f->name) != 0) continue;
        any = true;
        if (iterations) {
            struct mantle_sigv4_result *r = mantle_sigv4_result_new();
            if (!r) return 1;
            sign_loop(f, r, 1); /* warm: thread contexts, key cache, buffers */
            double t0 = wall_clock_rates ? now() : thread_cpu();
            sign_loop(f, r, iterations);
            double t1 = wall_clock_rates ? now() : thread_cpu();
            print_rate(f->name, f, (double)iterations / (t1 - t0));
            mantle_sigv4_result_free(r);
            continue;
        }
        double rate = best_of(f, seconds, reps);
        print_rate(f->name, f, rate);
    }
    if (threads > 1 && !iterations && (!only || strcmp(only, "threads") == 0)) {
        /* By wall time, so that waiting for the key cache's lock would show; the uncached
         * signature takes no lock and is the control: on a shared machine the other processes
         * bring both down alike. */
        any = true;
        for (size_t i = 0; i < 2; i++) {
            double one = best_of_threads(&figures[i], seconds, reps, 1);
            double all = best_of_threads(&figures[i], seconds, reps, threads);
            printf("%s_threads1 %.0f sig/s\n", figures[i].name, one);
            printf("%s_threads%d %.0f sig/s\n", figures[i].name, threads, all);
            printf("%s_scaling%d %.2f x\n", figures[i].name, threads, all / one);
            fflush(stdout);
        }
    }
    if (!any) {
        fprintf(stderr, "bench_sign: no figure named '%s'\n", only);
        return 2;
    }
    free(big_body);
    return 0;
}
