#include "testutil.h"

#include <mantle/error.h>
#include <string.h>

#include "core/error_internal.h"

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(mantle_code_for_status(200), MANTLE_OK);
    assert_int_equal(mantle_code_for_status(400), MANTLE_E_BAD_REQUEST);
    assert_int_equal(mantle_code_for_status(401), MANTLE_E_AUTHENTICATION);
    assert_int_equal(mantle_code_for_status(403), MANTLE_E_PERMISSION_DENIED);
    assert_int_equal(mantle_code_for_status(404), MANTLE_E_NOT_FOUND);
    assert_int_equal(mantle_code_for_status(409), MANTLE_E_CONFLICT);
    assert_int_equal(mantle_code_for_status(422), MANTLE_E_UNPROCESSABLE);
    assert_int_equal(mantle_code_for_status(429), MANTLE_E_RATE_LIMIT);
    assert_int_equal(mantle_code_for_status(503), MANTLE_E_SERVER);
    assert_int_equal(mantle_code_for_status(418), MANTLE_E_HTTP);
}

static void test_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(mantle_code_name(MANTLE_E_CONFIG), "config");
    assert_string_equal(mantle_code_name(MANTLE_E_CREDENTIALS), "credentials");
    assert_string_equal(mantle_code_name(MANTLE_E_RATE_LIMIT), "rate_limit");
    assert_string_equal(mantle_code_name((mantle_code)999), "unknown");
    assert_string_equal(mantle_strerror((mantle_code)-1), "unknown error");
}

static void test_set_and_prefix(void **state)
{
    (void)state;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(mantle_error_set(&err, MANTLE_E_CONFIG, "missing '=' in %s", "line"),
                     MANTLE_E_CONFIG);
    mantle_error_prefix(&err, "%s:%d", "config", 7);
    assert_string_equal(err.message, "config:7: missing '=' in line");
    assert_int_equal(mantle_error_set(NULL, MANTLE_E_IO, "x"), MANTLE_E_IO);
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mantle_error_set(&err, MANTLE_E_IO, "%s", big);
    assert_int_equal(strlen(err.message), MANTLE_ERROR_MESSAGE_SIZE - 1);
    mantle_error_clear(&err);
    assert_int_equal(err.code, MANTLE_OK);
    assert_string_equal(err.message, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_names_are_stable),
        cmocka_unit_test(test_set_and_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
