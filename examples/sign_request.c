/* Sign a request with mantle's SigV4 signer and print the headers to add.
 *
 * Build against an installed mantle:
 *   cc sign_request.c $(pkg-config --cflags --libs mantle) -o sign_request
 *
 * The credentials and date are the AWS documentation's examples, so the output is the
 * published signature of the "get-vanilla" test vector. */
#include <mantle/mantle.h>
#include <stdio.h>

int main(void)
{
    struct mantle_sigv4_request request = {
        .method = "GET",
        .url = "https://example.amazonaws.com/",
    };
    struct mantle_sigv4_credentials credentials = {
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    };
    struct mantle_sigv4_params params = MANTLE_SIGV4_PARAMS_INIT;
    params.region = "us-east-1";
    params.service = "service";
    params.signing_time = 1440938160; /* 2015-08-30T12:36:00Z */

    struct mantle_sigv4_result *result = mantle_sigv4_result_new();
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (!result || mantle_sigv4_sign(&request, &credentials, &params, result, &err) != MANTLE_OK) {
        fprintf(stderr, "signing failed: %s\n", err.message);
        mantle_sigv4_result_free(result);
        return 1;
    }
    printf("mantle %s\n", mantle_version());
    const struct mantle_header *headers = mantle_sigv4_result_headers(result);
    for (size_t i = 0; i < mantle_sigv4_result_header_count(result); i++)
        printf("%s: %s\n", headers[i].name, headers[i].value);
    mantle_sigv4_result_free(result);
    return 0;
}
