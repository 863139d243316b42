/* libFuzzer target for the STS response reader: any input must be refused or read without memory
 * errors, and what it yields must be NUL-terminated strings no longer than the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credentials/sts_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {
        "AssumeRoleResponse/AssumeRoleResult/Credentials/AccessKeyId",
        "AssumeRoleResponse/AssumeRoleResult/Credentials/SecretAccessKey",
        "AssumeRoleResponse/AssumeRoleResult/Credentials/SessionToken",
        "AssumeRoleResponse/AssumeRoleResult/Credentials/Expiration",
        "ErrorResponse/Error/Code",
        "ErrorResponse/Error/Message",
        "A",
        "A/B",
    };
    enum { N = sizeof paths / sizeof paths[0] };
    char *v[N];
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (sts_xml_extract((const char *)data, size, paths, N, v, &err) == MANTLE_OK) {
        for (size_t i = 0; i < N; i++)
            if (v[i] && strlen(v[i]) > size) abort();
        sts_xml_values_free(v, N);
    } else {
        for (size_t i = 0; i < N; i++)
            if (v[i]) abort();
    }
    return 0;
}
