/* The executor: max_concurrent_runs worker threads over a bounded queue (max_queued_runs; a full
 * queue is 503). A worker runs one job from the image pull to the reply: liboci resolves the
 * image, boxer_launch makes the run directory and starts a boxer-shim, Wait brings the exit
 * record, the output becomes the reply, /output is persisted when asked, and the run directory
 * goes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "httpd_internal.h"
#include "oci/spec.h"

struct executor {
    struct boxerd *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct run_job **queue;              /* ring of max_queued */
    size_t head, count, max_queued, cap; /* cap: workers + max_queued */
    size_t n_workers, running;
    pthread_t *workers;
    bool stop;
};

static void *
worker_main(void *arg)
{
    struct executor *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stop && e->count == 0)
            pthread_cond_wait(&e->cv, &e->mu);
        if (e->count == 0) {
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
        struct run_job *job = e->queue[e->head];
        e->head = (e->head + 1) % e->cap;
        e->count--;
        e->running++;
        pthread_mutex_unlock(&e->mu);
        bx_log_set_req(job->req->id);
        executor_run_job(e->d, job);
        bx_log_set_req(NULL);
        bx_log_set_exec(NULL);
        /* The job resumed its connection itself (and may be gone): only counting is left. */
        pthread_mutex_lock(&e->mu);
        e->running--;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
    }
}

int
executor_new(struct boxerd *d, struct executor **out, struct bx_err *err)
{
    struct executor *e = calloc(1, sizeof(*e));
    if (!e)
        return bx_err_set(err, BX_ENOMEM, "out of memory");
    e->d = d;
    e->n_workers = d->config.max_concurrent_runs > 0 ? (size_t)d->config.max_concurrent_runs : 1;
    e->max_queued = d->config.max_queued_runs > 0 ? (size_t)d->config.max_queued_runs : 1;
    e->cap = e->n_workers + e->max_queued;
    e->queue = calloc(e->cap, sizeof(*e->queue));
    e->workers = calloc(e->n_workers, sizeof(*e->workers));
    if (!e->queue || !e->workers) {
        free(e->queue), free(e->workers), free(e);
        return bx_err_set(err, BX_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    for (size_t i = 0; i < e->n_workers; i++)
        if (pthread_create(&e->workers[i], NULL, worker_main, e) != 0)
            return bx_err_set(err, BX_EIO, "cannot start the run workers");
    *out = e;
    return 0;
}

int
executor_submit(struct executor *e, struct run_job *job, struct bx_err *err)
{
    pthread_mutex_lock(&e->mu);
    /* Jobs beyond the idle workers wait in the queue, at most max_queued of them. */
    size_t idle = e->n_workers > e->running + e->count ? e->n_workers - e->running - e->count : 0;
    if (e->stop || (!idle && e->count >= e->max_queued)) {
        bool stopping = e->stop;
        size_t running = e->running, queued = e->count;
        pthread_mutex_unlock(&e->mu);
        if (stopping)
            return bx_err_set(err, BX_EBUSY, "the service is shutting down");
        return bx_err_set(err, BX_EBUSY,
                          "too many runs: %zu running and %zu queued (max_concurrent_runs %zu, "
                          "max_queued_runs %zu); try again later",
                          running, queued, e->n_workers, e->max_queued);
    }
    e->queue[(e->head + e->count) % e->cap] = job;
    e->count++;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

void
executor_shutdown(struct executor *e, int grace_s)
{
    if (!e)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += grace_s;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_broadcast(&e->cv);
    while (e->running + e->count > 0)
        if (pthread_cond_timedwait(&e->cv, &e->mu, &until) == ETIMEDOUT)
            break;
    bool late = e->running + e->count > 0;
    pthread_mutex_unlock(&e->mu);
    if (late) {
        /* The runs still going are stopped through their shims (their Wait then returns). */
        bx_log_warn("runs still going after the grace period; stopping them", "grace_s=%d",
                    grace_s);
        reconcile_runs(e->d);
    }
    for (size_t i = 0; i < e->n_workers; i++)
        pthread_join(e->workers[i], NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e->queue);
    free(e->workers);
    free(e);
}
