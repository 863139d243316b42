/* The model behind profile_file.h (sections, properties, lookups, merging) and its I/O edge
 * (finding and reading the files). The parsing rules are in profile_file.c. */
#include "credentials/profile_file.h"

#include "core/buf.h"
#include "core/error_internal.h"
#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a hash index from names to positions in an array that only grows ---- */

struct name_index {
    size_t *slots; /* position + 1; 0 is an empty slot */
    size_t cap;    /* a power of two, at least twice the number of entries */
};

typedef const char *(*key_at_fn)(const void *items, size_t i);

static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

static size_t index_find(const struct name_index *ix, const void *items, key_at_fn key_at,
                         const char *name)
{
    if (!ix->cap) return SIZE_MAX;
    for (size_t i = hash_name(name) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
        if (!ix->slots[i]) return SIZE_MAX;
        if (strcmp(key_at(items, ix->slots[i] - 1), name) == 0) return ix->slots[i] - 1;
    }
}

static void index_place(struct name_index *ix, const char *name, size_t pos)
{
    size_t i = hash_name(name) & (ix->cap - 1);
    while (ix->slots[i]) i = (i + 1) & (ix->cap - 1);
    ix->slots[i] = pos + 1;
}

/* Indexes items[count - 1], the item just appended. */
static bool index_add(struct name_index *ix, const void *items, key_at_fn key_at, size_t count)
{
    if (count * 2 > ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 16;
        size_t *slots = calloc(cap, sizeof *slots);
        if (!slots) return false;
        free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
        for (size_t i = 0; i + 1 < count; i++) index_place(ix, key_at(items, i), i);
    }
    index_place(ix, key_at(items, count - 1), count - 1);
    return true;
}

/* ---- properties ---- */

struct prop_list {
    struct profile_property *items;
    size_t count, cap;
    struct name_index ix;
};

static const char *prop_key_at(const void *items, size_t i)
{
    return ((const struct profile_property *)items)[i].key;
}

void profile_property_clear(struct profile_property *p)
{
    secret_free(p->key);
    secret_free(p->value);
    for (size_t i = 0; i < p->sub_count; i++) profile_property_clear(&p->sub[i]);
    free(p->sub);
    *p = (struct profile_property){0};
}

static void prop_list_free(struct prop_list *l)
{
    for (size_t i = 0; i < l->count; i++) profile_property_clear(&l->items[i]);
    free(l->items);
    free(l->ix.slots);
    *l = (struct prop_list){0};
}

static struct profile_property *prop_list_find(const struct prop_list *l, const char *key)
{
    size_t at = index_find(&l->ix, l->items, prop_key_at, key);
    return at == SIZE_MAX ? NULL : &l->items[at];
}

/* Adds *prop, or replaces the property with its key in place (a dict assignment). Takes ownership
 * of its strings either way: on failure they are wiped. *prop is left empty. */
static bool prop_list_put(struct prop_list *l, struct profile_property *prop)
{
    struct profile_property *old = prop_list_find(l, prop->key);
    if (old) {
        profile_property_clear(old);
        *old = *prop;
        *prop = (struct profile_property){0};
        return true;
    }
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct profile_property *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            profile_property_clear(prop);
            return false;
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = *prop;
    *prop = (struct profile_property){0};
    if (!index_add(&l->ix, l->items, prop_key_at, l->count)) {
        profile_property_clear(&l->items[--l->count]);
        return false;
    }
    return true;
}

bool profile_property_copy(struct profile_property *dst, const struct profile_property *src)
{
    *dst = (struct profile_property){
        .source = src->source, .line = src->line, .sub_count = src->sub_count};
    dst->key = profile_copy_text(src->key, strlen(src->key));
    if (src->value) dst->value = profile_copy_text(src->value, strlen(src->value));
    if (src->sub_count) dst->sub = calloc(src->sub_count, sizeof *dst->sub);
    bool ok = dst->key && (!src->value || dst->value) && (!src->sub_count || dst->sub);
    for (size_t i = 0; ok && i < src->sub_count; i++)
        ok = profile_property_copy(&dst->sub[i], &src->sub[i]);
    if (!ok) {
        if (!dst->sub) dst->sub_count = 0;
        profile_property_clear(dst);
    }
    return ok;
}

/* ---- profiles and sets ---- */

struct profile {
    char *name;
    enum profile_kind kind;
    struct prop_list props;
};

struct profile_table {
    struct profile **items;
    size_t count, cap;
    struct name_index ix;
};

struct profile_set {
    struct profile_table kinds[PROFILE_KIND_COUNT];
    char *file_names[2];
};

static const char *profile_name_at(const void *items, size_t i)
{
    return ((struct profile *const *)items)[i]->name;
}

struct profile *profile_new(const char *name, size_t n)
{
    struct profile *p = calloc(1, sizeof *p);
    if (p && !(p->name = profile_copy_text(name, n))) {
        free(p);
        p = NULL;
    }
    return p;
}

void profile_free(struct profile *p)
{
    if (!p) return;
    free(p->name);
    prop_list_free(&p->props);
    free(p);
}

static void table_free(struct profile_table *t)
{
    for (size_t i = 0; i < t->count; i++) profile_free(t->items[i]);
    free(t->items);
    free(t->ix.slots);
    *t = (struct profile_table){0};
}

static size_t table_find(const struct profile_table *t, const char *name)
{
    return index_find(&t->ix, t->items, profile_name_at, name);
}

/* Appends p (owned by the table on success, freed on failure). */
static bool table_append(struct profile_table *t, struct profile *p)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct profile **items = realloc(t->items, cap * sizeof *items);
        if (!items) {
            profile_free(p);
            return false;
        }
        t->items = items;
        t->cap = cap;
    }
    t->items[t->count++] = p;
    if (!index_add(&t->ix, t->items, profile_name_at, t->count)) {
        profile_free(t->items[--t->count]);
        return false;
    }
    return true;
}

struct profile_set *profile_set_new(void)
{
    return calloc(1, sizeof(struct profile_set));
}

void profile_set_free(struct profile_set *set)
{
    if (!set) return;
    for (int k = 0; k < PROFILE_KIND_COUNT; k++) table_free(&set->kinds[k]);
    free(set->file_names[0]);
    free(set->file_names[1]);
    free(set);
}

bool profile_set_store(struct profile_set *set, struct profile *p, bool replace)
{
    struct profile_table *t = &set->kinds[p->kind];
    size_t at = table_find(t, p->name);
    if (at == SIZE_MAX) return table_append(t, p);
    if (replace) {
        profile_free(t->items[at]);
        t->items[at] = p; /* same name, so the index stays valid */
        return true;
    }
    bool ok = true; /* dict.update: existing keys take the new value, new keys are appended */
    for (size_t i = 0; i < p->props.count; i++)
        if (ok) ok = prop_list_put(&t->items[at]->props, &p->props.items[i]);
    profile_free(p);
    return ok;
}

struct profile *profile_set_take(struct profile_set *set, enum profile_kind kind, size_t i)
{
    struct profile *p = set->kinds[kind].items[i];
    set->kinds[kind].items[i] = NULL;
    return p;
}

bool profile_set_set_file_name(struct profile_set *set, enum profile_source source,
                               const char *name)
{
    char *copy = profile_copy_text(name, strlen(name));
    if (!copy) return false;
    free(set->file_names[source]);
    set->file_names[source] = copy;
    return true;
}

bool profile_put(struct profile *p, struct profile_property *prop)
{
    return prop_list_put(&p->props, prop);
}

struct profile_property *profile_take_properties(struct profile *p, size_t *count)
{
    struct profile_property *items = p->props.items;
    *count = p->props.count;
    free(p->props.ix.slots);
    p->props = (struct prop_list){0};
    return items;
}

void profile_rename(struct profile *p, enum profile_kind kind, char *name)
{
    free(p->name);
    p->name = name;
    p->kind = kind;
}

/* ---- lookups ---- */

const struct profile *profile_set_get(const struct profile_set *set, enum profile_kind kind,
                                      const char *name)
{
    if (!set || !name || (unsigned)kind >= PROFILE_KIND_COUNT) return NULL;
    size_t at = table_find(&set->kinds[kind], name);
    return at == SIZE_MAX ? NULL : set->kinds[kind].items[at];
}

size_t profile_set_count(const struct profile_set *set, enum profile_kind kind)
{
    return set && (unsigned)kind < PROFILE_KIND_COUNT ? set->kinds[kind].count : 0;
}

const struct profile *profile_set_at(const struct profile_set *set, enum profile_kind kind,
                                     size_t i)
{
    return i < profile_set_count(set, kind) ? set->kinds[kind].items[i] : NULL;
}

const char *profile_set_name_at(const struct profile_set *set, enum profile_kind kind, size_t i)
{
    const struct profile *p = profile_set_at(set, kind, i);
    return p ? p->name : NULL;
}

const char *profile_set_file_name(const struct profile_set *set, enum profile_source source)
{
    return set && (unsigned)source < 2 ? set->file_names[source] : NULL;
}

const char *profile_name(const struct profile *p)
{
    return p ? p->name : NULL;
}

enum profile_kind profile_kind(const struct profile *p)
{
    return p ? p->kind : PROFILE_KIND_PROFILE;
}

const struct profile_property *profile_find(const struct profile *p, const char *key)
{
    return p && key ? prop_list_find(&p->props, key) : NULL;
}

const char *profile_get(const struct profile *p, const char *key)
{
    const struct profile_property *prop = profile_find(p, key);
    return prop ? prop->value : NULL;
}

const char *profile_get_sub(const struct profile *p, const char *key, const char *sub_key)
{
    const struct profile_property *prop = profile_find(p, key);
    const char *found = NULL;
    /* the last match wins, though parsing already keeps one entry per nested key */
    for (size_t i = 0; prop && sub_key && i < prop->sub_count; i++)
        if (strcmp(prop->sub[i].key, sub_key) == 0) found = prop->sub[i].value;
    return found;
}

size_t profile_property_count(const struct profile *p)
{
    return p ? p->props.count : 0;
}

const struct profile_property *profile_property_at(const struct profile *p, size_t i)
{
    return i < profile_property_count(p) ? &p->props.items[i] : NULL;
}

/* ---- reading the files ---- */

static mantle_code io_error(struct mantle_error *err, const char *path, const char *what, int e)
{
    char reason[128];
    if (strerror_r(e, reason, sizeof reason) != 0) snprintf(reason, sizeof reason, "errno %d", e);
    return mantle_error_set(err, MANTLE_E_IO, "%s: cannot %s: %s", path, what, reason);
}

/* Reads a regular file whole into a buffer that is wiped when freed (it holds secrets). */
static mantle_code read_all(int fd, const char *path, size_t size_hint, char **out, size_t *out_len,
                            struct mantle_error *err)
{
    size_t cap = size_hint < PROFILE_MAX_FILE_BYTES ? size_hint + 1 : PROFILE_MAX_FILE_BYTES + 1;
    size_t len = 0;
    char *data = malloc(cap);
    if (!data) return mantle_error_set(err, MANTLE_E_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (len == cap) {
            /* the file grew since fstat: grow, wiping the old block */
            if (cap > PROFILE_MAX_FILE_BYTES) break;
            size_t ncap = cap * 2 > PROFILE_MAX_FILE_BYTES ? PROFILE_MAX_FILE_BYTES + 1 : cap * 2;
            char *p = malloc(ncap);
            if (!p) {
                secret_wipe(data, cap);
                free(data);
                return mantle_error_set(err, MANTLE_E_NOMEM, "%s: out of memory", path);
            }
            memcpy(p, data, len);
            secret_wipe(data, cap);
            free(data);
            data = p;
            cap = ncap;
        }
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            secret_wipe(data, cap);
            free(data);
            return io_error(err, path, "read", e);
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    if (len > PROFILE_MAX_FILE_BYTES) {
        secret_wipe(data, cap);
        free(data);
        return mantle_error_set(err, MANTLE_E_CONFIG, "%s: larger than %u bytes", path,
                                PROFILE_MAX_FILE_BYTES);
    }
    *out = data; /* only the first len bytes were written: the caller wipes those */
    *out_len = len;
    return MANTLE_OK;
}

mantle_code profile_set_load_file(struct profile_set *set, enum profile_source source,
                                  const char *path, struct mantle_error *err)
{
    if (!set || !path)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "profile_set_load_file: NULL");
    if (!*path) return MANTLE_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return MANTLE_OK;
        return io_error(err, path, "open", errno);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return io_error(err, path, "stat", e);
    }
    if (!S_ISREG(st.st_mode)) { /* a directory or a FIFO: botocore's isfile() says "missing" */
        close(fd);
        return MANTLE_OK;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > PROFILE_MAX_FILE_BYTES) {
        close(fd);
        return mantle_error_set(err, MANTLE_E_CONFIG, "%s: larger than %u bytes", path,
                                PROFILE_MAX_FILE_BYTES);
    }
    char *data = NULL;
    size_t len = 0;
    mantle_code rc = read_all(fd, path, (size_t)st.st_size, &data, &len, err);
    close(fd);
    if (rc) return rc;
    rc = profile_set_parse(set, source, path, data, len, err);
    secret_wipe(data, len);
    free(data);
    return rc;
}

/* ---- locating the files ---- */

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Python's posixpath.expandvars: $NAME or ${NAME}; unknown names are left as written. */
static void expand_vars(struct buf *b, const char *s, profile_getenv2_fn get, void *ud)
{
    while (*s) {
        size_t name_at = 0, name_len = 0, match_len = 0;
        if (s[0] == '$' && is_word_char(s[1])) {
            name_at = 1;
            while (is_word_char(s[1 + name_len])) name_len++;
            match_len = 1 + name_len;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *close = strchr(s + 2, '}');
            if (close) {
                name_at = 2;
                name_len = (size_t)(close - s) - 2;
                match_len = name_len + 3;
            }
        }
        if (!match_len) {
            buf_append_char(b, *s++);
            continue;
        }
        char *name = malloc(name_len + 1);
        if (!name) {
            b->failed = true;
            return;
        }
        memcpy(name, s + name_at, name_len);
        name[name_len] = '\0';
        const char *value = name_len ? get(ud, name) : NULL;
        free(name);
        if (value)
            buf_append_str(b, value);
        else
            buf_append(b, s, match_len);
        s += match_len;
    }
}

/* Adapts a plain getenv-style lookup to the ud-taking form. */
static const char *call_plain_getenv(void *ud, const char *name)
{
    profile_getenv_fn fn = *(profile_getenv_fn *)ud;
    return fn(name);
}

mantle_code profile_file_path(enum profile_source source, profile_getenv_fn getenv_fn, char **out,
                              struct mantle_error *err)
{
    profile_getenv_fn plain = getenv_fn ? getenv_fn : getenv;
    return profile_file_path2(source, call_plain_getenv, &plain, out, err);
}

mantle_code profile_file_path2(enum profile_source source, profile_getenv2_fn getenv_fn, void *ud,
                               char **out, struct mantle_error *err)
{
    static const char *const vars[] = {"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"};
    static const char *const defaults[] = {"~/.aws/config", "~/.aws/credentials"};
    if (!out || (source != PROFILE_SOURCE_CONFIG && source != PROFILE_SOURCE_CREDENTIALS))
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "profile_file_path: bad argument");
    *out = NULL;
    if (!getenv_fn)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "profile_file_path: bad argument");
    profile_getenv2_fn get = getenv_fn;
    const char *raw = get(ud, vars[source]);
    bool from_env = raw != NULL;
    if (!raw) raw = defaults[source];

    struct buf path = BUF_INIT;
    expand_vars(&path, raw, get, ud);
    buf_append(&path, "", 0); /* so that an empty path still has data */
    if (buf_failed(&path)) {
        buf_free(&path);
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    if (path.data[0] == '~' && (path.data[1] == '\0' || path.data[1] == '/')) {
        const char *home = get(ud, "HOME");
        if (!home || !*home) {
            buf_free(&path);
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "cannot expand '~' in the %s path (%s): HOME is not set",
                                    source == PROFILE_SOURCE_CONFIG ? "config" : "credentials",
                                    from_env ? vars[source] : "default");
        }
        size_t home_len = strlen(home);
        while (home_len > 0 && home[home_len - 1] == '/') home_len--;
        struct buf full = BUF_INIT;
        buf_append(&full, home, home_len);
        buf_append_str(&full, path.data + 1);
        if (!full.failed && full.len == 0) buf_append_char(&full, '/');
        buf_free(&path);
        path = full;
        if (buf_failed(&path)) {
            buf_free(&path);
            return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        }
    }
    *out = buf_steal(&path);
    return *out ? MANTLE_OK : mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
}
