#include "secret.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void secret_wipe(void *p, size_t len)
{
    if (p && len) OPENSSL_cleanse(p, len);
}

char *secret_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

void secret_free(char *s)
{
    if (!s) return;
    secret_wipe(s, strlen(s));
    free(s);
}
