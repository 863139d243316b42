/* A small on-demand thread pool: runs blocking provider fetches for asynchronous callers, so an
 * event loop never executes one. Threads are detached and leave as soon as the queue is empty;
 * an idle process has no worker threads, nothing to join at exit and nothing to leak. */
#include "credentials_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct job {
    void (*fn)(void *arg);
    void *arg;
    struct job *next;
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_idle = PTHREAD_COND_INITIALIZER; /* signalled when threads == 0 */
static struct job *queue_head, *queue_tail;
static unsigned threads; /* running worker threads */

static void *worker_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&pool_mu);
    while (queue_head) {
        struct job *j = queue_head;
        queue_head = j->next;
        if (!queue_head) queue_tail = NULL;
        pthread_mutex_unlock(&pool_mu);
        j->fn(j->arg);
        free(j);
        pthread_mutex_lock(&pool_mu);
    }
    if (--threads == 0) pthread_cond_broadcast(&pool_idle);
    pthread_mutex_unlock(&pool_mu);
    return NULL;
}

/* Called with pool_mu held. Signals are blocked in the new thread (it inherits the mask) so that
 * the application's handlers keep running on the application's threads. */
static bool start_thread(void)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, &attr, worker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) return false;
    threads++;
    return true;
}

bool creds_worker_submit(void (*fn)(void *arg), void *arg)
{
    struct job *j = malloc(sizeof *j);
    if (!j) return false;
    j->fn = fn;
    j->arg = arg;
    j->next = NULL;
    pthread_mutex_lock(&pool_mu);
    if (queue_tail)
        queue_tail->next = j;
    else
        queue_head = j;
    queue_tail = j;
    /* One more thread per job up to the cap; a thread that finds nothing to do exits. If none can
     * be started but another is running, it will get to this job. */
    if (threads < CREDS_WORKER_MAX && !start_thread() && threads == 0) {
        /* Nobody will run it: take the job back out (it is the only one queued). */
        queue_head = queue_tail = NULL;
        pthread_mutex_unlock(&pool_mu);
        free(j);
        return false;
    }
    pthread_mutex_unlock(&pool_mu);
    return true;
}

void creds_worker_quiesce(void)
{
    pthread_mutex_lock(&pool_mu);
    while (threads > 0) pthread_cond_wait(&pool_idle, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
}
