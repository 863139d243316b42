/* A growable byte buffer that is always NUL-terminated (curl's dynbuf, in small).
 * An allocation failure is sticky: later appends do nothing and buf_failed() reports it, so a
 * builder can append freely and check once at the end. */
#ifndef MANTLE_CORE_BUF_H
#define MANTLE_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
    bool secure; /* holds secrets: growing moves the data by hand and wipes the old block */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, false, false                                                                   \
    }
/* A buffer for secrets (see `secure`). */
#define BUF_INIT_SECURE                                                                            \
    {                                                                                              \
        NULL, 0, 0, false, true                                                                    \
    }

bool buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory. */
static inline void buf_reset(struct buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data) b->data[0] = '\0';
}
static inline bool buf_failed(const struct buf *b)
{
    return b->failed;
}
/* Frees the memory (plain free: use buf_wipe for buffers that held secrets). */
void buf_free(struct buf *b);
/* Zeroes the whole capacity, then frees. */
void buf_wipe(struct buf *b);
/* Hands the NUL-terminated data to the caller (free with free()); the buffer is left empty.
 * Returns NULL if an allocation had failed. */
char *buf_steal(struct buf *b);

#endif
