/* Buffers that hold secrets leave nothing behind: when one grows, the block it moves out of is
 * wiped before it is freed (realloc would free it as it is), and so is the last one on buf_free.
 * Linked with -Wl,--wrap=free (tests/CMakeLists.txt) so the test can look at a block the moment
 * it is released. */
#include "testutil.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

void __real_free(void *p);
void __wrap_free(void *p);

static const void *watched;
static size_t watched_len;
static bool seen, was_zero;

void __wrap_free(void *p)
{
    if (p && p == watched) {
        seen = true;
        was_zero = true;
        for (size_t i = 0; i < watched_len; i++) was_zero &= ((const char *)p)[i] == 0;
        watched = NULL;
    }
    __real_free(p);
}

static const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

static void watch(const struct buf *b)
{
    watched = b->data;
    watched_len = b->cap;
    seen = was_zero = false;
}

static void test_growing_wipes_the_old_block(void **state)
{
    (void)state;
    struct buf b = BUF_INIT_SECURE;
    buf_append_str(&b, secret);
    watch(&b);
    char filler[4096];
    memset(filler, 'x', sizeof filler);
    buf_append(&b, filler, sizeof filler); /* forces a move */
    assert_true(seen);
    assert_true(was_zero);
    assert_memory_equal(b.data, secret, strlen(secret)); /* the data itself moved intact */
    assert_true(b.secure);

    watch(&b);
    buf_free(&b);
    assert_true(seen);
    assert_true(was_zero);
    assert_true(b.secure); /* still a secret buffer if reused */
}

static void test_plain_buffers_are_untouched(void **state)
{
    (void)state;
    /* The check above can fail: a plain buffer's last block is freed as it is. */
    struct buf b = BUF_INIT;
    buf_append_str(&b, secret);
    watch(&b);
    buf_free(&b);
    assert_true(seen);
    assert_false(was_zero);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growing_wipes_the_old_block),
        cmocka_unit_test(test_plain_buffers_are_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
