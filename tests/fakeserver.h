/* A test server run as a child process: tests/servers/fake_aws.py or mantle-emulator, both started
 * with --stdin-watch so that the child stops when the test closes its stdin, even if the test
 * dies first. The child announces itself on its first stdout line (fake_aws.py: a JSON object of
 * URLs; the emulator: its root URL). Every failure is a cmocka assertion. */
#ifndef MANTLE_TESTS_FAKESERVER_H
#define MANTLE_TESTS_FAKESERVER_H

#include <jansson.h>
#include <sys/types.h>

struct fakeserver {
    pid_t pid;
    int in_fd;       /* the child's stdin: closing it stops the child (--stdin-watch) */
    int out_fd;      /* the child's stdout, kept open so that later writes do not fail */
    char line[4096]; /* the first stdout line, without its newline */
    json_t *info;    /* fakeserver_start_aws(): that line parsed */
    /* fakeserver_start_emulator(): its root URL (http://127.0.0.1:PORT), and its identities file,
     * removed by fakeserver_stop(). */
    char root[128];
    char identities[64];
};

/* Spawns argv[0] (a path) with argv (NULL-terminated), stdin and stdout piped, and waits up to
 * 20 s for its first stdout line, left in fs->line. */
void fakeserver_start(struct fakeserver *fs, char *const argv[]);

/* Starts tests/servers/fake_aws.py --services <services> --lifetime <lifetime> --stdin-watch and
 * parses the URLs it announces into fs->info. */
void fakeserver_start_aws(struct fakeserver *fs, const char *services, const char *lifetime);

/* Starts $MANTLE_BUILD_DIR/tools/mantle-emulator --credentials FILE (a temporary file holding
 * identities, its "AKID secret [token]" lines), args (NULL-terminated; NULL for none),
 * --lifetime 120 --stdin-watch. */
void fakeserver_start_emulator(struct fakeserver *fs, const char *identities,
                               const char *const *args);

/* A string of fake_aws.py's announcement ("control", or a service: "imds", "ecs", "sts"...);
 * asserted present; valid until fakeserver_stop(). */
const char *fakeserver_url(const struct fakeserver *fs, const char *name);

/* An HTTP call to 127.0.0.1 (no proxy); body NULL for none. Asserts status 200 and a JSON answer,
 * which it returns (json_decref it). */
json_t *fakeserver_http(const char *method, const char *url, const char *body);

/* fake_aws.py's control API: method on <control URL><path> (json_decref the answer). */
json_t *fakeserver_control(const struct fakeserver *fs, const char *method, const char *path,
                           const char *body);
/* POST to the control API (/reset, /config, /faults...), ignoring the answer. */
void fakeserver_post(const struct fakeserver *fs, const char *path, const char *body);
/* The request log of one fake service: GET /requests?service=<service>'s "requests" array
 * (json_decref it). */
json_t *fakeserver_requests(const struct fakeserver *fs, const char *service);

/* An entry of that log: a string member ("method", "path", "body"...) or a request header, or
 * NULL. */
const char *fakeserver_field(const json_t *r, const char *name);
const char *fakeserver_header(const json_t *r, const char *name);

/* Closes the child's stdin, sends SIGTERM (both servers stop cleanly on either) and reaps it;
 * removes the emulator's identities file. */
void fakeserver_stop(struct fakeserver *fs);

#endif
