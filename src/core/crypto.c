#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>

static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;
static pthread_key_t ctx_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

struct thread_ctx {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    bool mac_has_digest; /* the digest parameter is set once; later inits pass only the key */
};

static void thread_ctx_free(void *p)
{
    struct thread_ctx *t = p;
    EVP_MD_CTX_free(t->md);
    EVP_MAC_CTX_free(t->mac);
    free(t);
}

static void crypto_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    pthread_key_create(&ctx_key, thread_ctx_free);
}

static struct thread_ctx *thread_ctx(void)
{
    pthread_once(&init_once, crypto_init);
    if (!sha256_md || !hmac_mac) return NULL;
    struct thread_ctx *t = pthread_getspecific(ctx_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->md = EVP_MD_CTX_new();
    t->mac = EVP_MAC_CTX_new(hmac_mac);
    if (!t->md || !t->mac || pthread_setspecific(ctx_key, t) != 0) {
        thread_ctx_free(t);
        return NULL;
    }
    return t;
}

bool crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
    struct thread_ctx *t = thread_ctx();
    unsigned int n = 0;
    return t && EVP_DigestInit_ex2(t->md, sha256_md, NULL) && EVP_DigestUpdate(t->md, data, len) &&
           EVP_DigestFinal_ex(t->md, out, &n) && n == SHA256_LEN;
}

bool crypto_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                        uint8_t out[SHA256_LEN])
{
    struct thread_ctx *t = thread_ctx();
    if (!t) return false;
    int ok;
    if (t->mac_has_digest) {
        ok = EVP_MAC_init(t->mac, key, key_len, NULL);
    } else {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end()};
        ok = EVP_MAC_init(t->mac, key, key_len, params);
        t->mac_has_digest = ok;
    }
    size_t n = 0;
    return ok && EVP_MAC_update(t->mac, msg, msg_len) &&
           EVP_MAC_final(t->mac, out, &n, SHA256_LEN) && n == SHA256_LEN;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

bool crypto_random(void *out, size_t len)
{
    return RAND_bytes(out, (int)len) == 1;
}
