#include "signing_key.h"

#include <mantle/sigv4.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/secret.h"

struct cache_entry {
    char *secret; /* our own copy: compared byte for byte, wiped on eviction */
    char date[9];
    char region[64];
    char service[64];
    uint8_t key[SHA256_LEN];
    uint64_t last_used;
};

static struct cache_entry cache[MANTLE_SIGV4_KEY_CACHE_SIZE];
static uint64_t cache_clock;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void entry_wipe(struct cache_entry *e)
{
    secret_free(e->secret);
    secret_wipe(e, sizeof *e);
}

static bool derive(const char *secret, const char *date, const char *region, const char *service,
                   uint8_t key[SHA256_LEN])
{
    size_t slen = strlen(secret);
    char small[128];
    char *k_secret = slen + 4 <= sizeof small ? small : malloc(slen + 4);
    if (!k_secret) return false;
    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, slen);
    uint8_t k_date[SHA256_LEN], k_region[SHA256_LEN], k_service[SHA256_LEN];
    bool ok = crypto_hmac_sha256(k_secret, slen + 4, date, 8, k_date) &&
              crypto_hmac_sha256(k_date, SHA256_LEN, region, strlen(region), k_region) &&
              crypto_hmac_sha256(k_region, SHA256_LEN, service, strlen(service), k_service) &&
              crypto_hmac_sha256(k_service, SHA256_LEN, "aws4_request", 12, key);
    secret_wipe(k_secret, slen + 4);
    if (k_secret != small) free(k_secret);
    secret_wipe(k_date, sizeof k_date);
    secret_wipe(k_region, sizeof k_region);
    secret_wipe(k_service, sizeof k_service);
    return ok;
}

static bool entry_matches(const struct cache_entry *e, const char *secret, const char *date,
                          const char *region, const char *service)
{
    return e->secret && memcmp(e->date, date, 8) == 0 && strcmp(e->region, region) == 0 &&
           strcmp(e->service, service) == 0 && strcmp(e->secret, secret) == 0;
}

bool signing_key_get(const char *secret, const char *date, const char *region, const char *service,
                     bool use_cache, uint8_t key[SHA256_LEN])
{
    /* Region and service are validated to [a-z0-9-]{1,63} by the caller; longer ones bypass. */
    if (!use_cache || strlen(region) >= sizeof cache[0].region ||
        strlen(service) >= sizeof cache[0].service)
        return derive(secret, date, region, service, key);

    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < MANTLE_SIGV4_KEY_CACHE_SIZE; i++) {
        if (entry_matches(&cache[i], secret, date, region, service)) {
            /* No write when it is already the most recent: threads signing with one key then
             * only read the entry, and only the lock's cache line moves between cores. */
            if (cache[i].last_used != cache_clock) cache[i].last_used = ++cache_clock;
            memcpy(key, cache[i].key, SHA256_LEN);
            pthread_mutex_unlock(&cache_lock);
            return true;
        }
    }
    pthread_mutex_unlock(&cache_lock);

    /* Derive outside the lock; two threads racing on a miss both derive the same key. */
    if (!derive(secret, date, region, service, key)) return false;
    char *copy = secret_strdup(secret);
    if (!copy) return true; /* the key is right; it just is not cached */

    pthread_mutex_lock(&cache_lock);
    struct cache_entry *victim = &cache[0];
    for (size_t i = 0; i < MANTLE_SIGV4_KEY_CACHE_SIZE; i++) {
        if (entry_matches(&cache[i], secret, date, region, service)) { /* lost the race */
            victim = NULL;
            break;
        }
        if (!cache[i].secret) {
            victim = &cache[i];
            break;
        }
        if (cache[i].last_used < victim->last_used) victim = &cache[i];
    }
    if (victim) {
        entry_wipe(victim);
        victim->secret = copy;
        copy = NULL;
        memcpy(victim->date, date, 8);
        victim->date[8] = '\0';
        /* Both were checked to fit (with their NUL) on entry. */
        memcpy(victim->region, region, strlen(region) + 1);
        memcpy(victim->service, service, strlen(service) + 1);
        memcpy(victim->key, key, SHA256_LEN);
        victim->last_used = ++cache_clock;
    }
    pthread_mutex_unlock(&cache_lock);
    secret_free(copy);
    return true;
}

void mantle_sigv4_key_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < MANTLE_SIGV4_KEY_CACHE_SIZE; i++) entry_wipe(&cache[i]);
    pthread_mutex_unlock(&cache_lock);
}

/* Secrets do not outlive the process image's teardown. */
__attribute__((destructor)) static void cache_wipe_at_exit(void)
{
    mantle_sigv4_key_cache_clear();
}
