/* The AWS shared config and credentials files (~/.aws/config, ~/.aws/credentials): a parser that
 * builds the same merged view botocore and the AWS CLI build (botocore session.full_config), and a
 * read-only model of it. No providers here: this module only turns file text into sections.
 *
 * Sans-I/O core: profile_set_parse() (profile_file.c) works on text in memory;
 * profile_set_load_file() and profile_file_path() (profile_set.c, with the model) are the only
 * parts that touch the file system or the environment. Which botocore rules are matched, and where
 * we deliberately differ, is listed at the top of profile_file.c.
 *
 * Ownership: the set owns every profile and string; pointers returned by the getters stay valid
 * until the set is freed or another file is parsed into it. Values may be secrets: they are wiped
 * when the set is freed, and error messages never contain them (only file, line and key names).
 * Not thread-safe while parsing; concurrent reads of a finished set are fine.
 */
#ifndef MANTLE_CREDENTIALS_PROFILE_FILE_H
#define MANTLE_CREDENTIALS_PROFILE_FILE_H

#include <mantle/error.h>
#include <stdbool.h>
#include <stddef.h>

struct profile_set; /* all sections of the config and credentials files */
struct profile;     /* one section: a profile, an sso-session or a services block */

enum profile_kind {
    PROFILE_KIND_PROFILE,     /* [default], [profile NAME] (config); [NAME] (credentials) */
    PROFILE_KIND_SSO_SESSION, /* [sso-session NAME] (config only) */
    PROFILE_KIND_SERVICES     /* [services NAME] (config only) */
};
#define PROFILE_KIND_COUNT 3

enum profile_source { PROFILE_SOURCE_CONFIG, PROFILE_SOURCE_CREDENTIALS };

/* Inputs larger than this are rejected (MANTLE_E_CONFIG), as are longer lines: real files are a few
 * KiB, and the bounds keep hostile input from costing unbounded memory. */
#define PROFILE_MAX_FILE_BYTES (16u * 1024u * 1024u)
#define PROFILE_MAX_LINE_BYTES (64u * 1024u)

/* One `key = value` of a section. Exactly one of value / sub is used: a key whose value is empty
 * and followed by indented `k = v` lines (`s3 =\n  max_concurrent_requests = 10`) is a nested
 * block with sub_count >= 1 entries and value NULL. Keys are lower-cased (ASCII letters only, see
 * profile_file.c); nested keys keep their case, as in botocore. */
struct profile_property {
    char *key;
    char *value;
    struct profile_property *sub;
    size_t sub_count;
    enum profile_source source; /* the file the value came from */
    int line;                   /* its line in that file (1-based) */
};

struct profile_set *profile_set_new(void);
/* Frees the set, wiping every value. NULL is allowed. */
void profile_set_free(struct profile_set *set);

/* Parses one file's text into the set. Call it for the config file first, then for the credentials
 * file: a profile present in both gets the credentials file's value for each key it sets
 * (botocore's full_config). file_name is only used in messages (NULL gives "config" or
 * "credentials"). text need not be NUL-terminated; it may be NULL when len is 0.
 * Returns MANTLE_E_CONFIG with "file:line: reason" for malformed text, leaving the set unchanged;
 * MANTLE_E_NOMEM if an allocation fails (the set may then hold part of the file). */
mantle_code profile_set_parse(struct profile_set *set, enum profile_source source,
                              const char *file_name, const char *text, size_t len,
                              struct mantle_error *err);

/* Reads and parses a file. A file that does not exist (ENOENT, ENOTDIR, or a path that is not a
 * regular file, as botocore's os.path.isfile) is not an error and leaves the set unchanged; any
 * other read failure is MANTLE_E_IO. An empty path counts as missing. */
mantle_code profile_set_load_file(struct profile_set *set, enum profile_source source,
                                  const char *path, struct mantle_error *err);

/* The section of that kind and name (names are case-sensitive), or NULL. */
const struct profile *profile_set_get(const struct profile_set *set, enum profile_kind kind,
                                      const char *name);
/* Sections of a kind, in the order they first appeared (config file first). */
size_t profile_set_count(const struct profile_set *set, enum profile_kind kind);
const char *profile_set_name_at(const struct profile_set *set, enum profile_kind kind, size_t i);
const struct profile *profile_set_at(const struct profile_set *set, enum profile_kind kind,
                                     size_t i);
/* The name of the file parsed for that source (as given to parse/load), or NULL if none was. */
const char *profile_set_file_name(const struct profile_set *set, enum profile_source source);

const char *profile_name(const struct profile *p);
enum profile_kind profile_kind(const struct profile *p);
/* The value of a key (pass it lower-case), or NULL if absent or if the key is a nested block. */
const char *profile_get(const struct profile *p, const char *key);
/* A value inside a nested block (sub_key is case-sensitive), or NULL. */
const char *profile_get_sub(const struct profile *p, const char *key, const char *sub_key);
/* The property of a key, or NULL. */
const struct profile_property *profile_find(const struct profile *p, const char *key);
/* Every property, in order of first appearance (for listing). */
size_t profile_property_count(const struct profile *p);
const struct profile_property *profile_property_at(const struct profile *p, size_t i);

/* A getenv-compatible lookup, so tests can inject the environment; NULL means getenv. */
typedef char *(*profile_getenv_fn)(const char *name);

/* The path of the config (AWS_CONFIG_FILE, default ~/.aws/config) or credentials
 * (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials) file, as botocore resolves it:
 * $NAME and ${NAME} are expanded from the environment (unknown names are kept), then a leading
 * "~" or "~/" is replaced by HOME. A variable that is set but empty gives "" (no file, as in
 * botocore). On success *out is a malloc'd string the caller frees. Returns MANTLE_E_CONFIG when
 * the path needs "~" and HOME is unset or empty (callers wanting best effort may treat that as
 * "no file"), MANTLE_E_NOMEM on allocation failure. */
mantle_code profile_file_path(enum profile_source source, profile_getenv_fn getenv_fn, char **out,
                              struct mantle_error *err);
/* The same with a lookup that takes user data (the credentials options' getenv_fn/getenv_ud
 * shape), so an injected environment is honoured. getenv_fn must not be NULL. */
typedef const char *(*profile_getenv2_fn)(void *ud, const char *name);
mantle_code profile_file_path2(enum profile_source source, profile_getenv2_fn getenv_fn, void *ud,
                               char **out, struct mantle_error *err);

/* ---- internal: how the parser (profile_file.c) builds sets (profile_set.c) ----
 * Functions returning bool return false only when an allocation failed. */

struct profile *profile_new(const char *name, size_t len);
void profile_free(struct profile *p); /* wipes; NULL is allowed */
/* Wipes and frees what the property holds, leaving it zeroed. */
void profile_property_clear(struct profile_property *prop);
/* A deep copy; on failure dst is left empty. */
bool profile_property_copy(struct profile_property *dst, const struct profile_property *src);
/* Adds *prop to p, or replaces the property with the same key in place (a dict assignment). Takes
 * the property's strings either way (wiping them on failure) and leaves *prop zeroed. */
bool profile_put(struct profile *p, struct profile_property *prop);
/* Hands over p's properties as an array of *count (free each with profile_property_clear, then
 * the array with free); p is left without properties. */
struct profile_property *profile_take_properties(struct profile *p, size_t *count);
/* Gives p a new kind and name (taking the malloc'd name). */
void profile_rename(struct profile *p, enum profile_kind kind, char *name);
/* Stores p in the set (consuming it, also on failure). When the set already has that kind and name,
 * replace drops the old section, otherwise p's properties are merged into it like dict.update. */
bool profile_set_store(struct profile_set *set, struct profile *p, bool replace);
/* Removes the i-th section of a kind, which the caller then owns; afterwards the set may only be
 * taken from again or freed. */
struct profile *profile_set_take(struct profile_set *set, enum profile_kind kind, size_t i);
bool profile_set_set_file_name(struct profile_set *set, enum profile_source source,
                               const char *name);

/* Copies n bytes of s as a NUL-terminated string (names and values: the parser's and the set's
 * copies, freed with secret_free). NULL when out of memory. */
char *profile_copy_text(const char *s, size_t n);

#endif
