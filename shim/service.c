/* The status socket's answers (api/shim/v1): State, Kill, Delete and Stats; Wait is the RPC
 * server's own, released by shim_service_post_exit(). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/log.h"
#include "supervise_internal.h"

#define KILL_WAIT_S 15
/* runsc knows a container only once `runsc run` has made it: a Kill that comes while the sandbox
 * is still starting is tried again every KILL_RETRY_MS, for at most KILL_START_MS (a Kill that
 * comes later fails at once). */
#define KILL_RETRY_MS 50
#define KILL_START_MS 10000

void
shim_record_to_pb(const struct shim_record *r, Boxer__Shim__V1__ExitRecord *pb)
{
    boxer__shim__v1__exit_record__init(pb);
    pb->exit_code = r->exit_code;
    pb->signal = r->signal;
    pb->timed_out = r->timed_out;
    pb->oom_killed = r->oom_killed;
    pb->stdout_overflow = r->stdout_overflow;
    pb->stderr_overflow = r->stderr_overflow;
    pb->started_unix_ms = r->started_unix_ms;
    pb->finished_unix_ms = r->finished_unix_ms;
    pb->wall_ms = r->wall_ms;
    pb->pid = r->pid;
    pb->limits_enforced = r->limits_enforced;
    pb->runtime_error = (char *)r->runtime_error;
    pb->stdout_bytes = r->stdout_bytes;
    pb->stderr_bytes = r->stderr_bytes;
}

static void
wake_main(struct shim *s)
{
    uint64_t one = 1;
    (void)!write(s->cmd_fd, &one, sizeof(one));
}

static int
on_state(void *ctx, const Boxer__Shim__V1__StateRequest *req, Boxer__Shim__V1__StateResponse *resp,
         struct bx_err *err)
{
    (void)req, (void)err;
    struct shim *s = ctx;
    pthread_mutex_lock(&s->mu);
    resp->exec_id = (char *)s->o->exec_id;
    resp->bundle = (char *)s->o->bundle;
    resp->status = s->status;
    resp->pid = (int32_t)s->runsc_pid;
    if (s->record_done)
        resp->exit = &s->pb_record;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int
on_kill(void *ctx, const Boxer__Shim__V1__KillRequest *req, struct bx_err *err)
{
    struct shim *s = ctx;
    if (req->signal >= (uint32_t)NSIG)
        return bx_err_set(err, BX_EINVAL, "no such signal: %u", req->signal);
    pthread_mutex_lock(&s->mu);
    if (s->record_done || s->kill_pending) {
        pthread_mutex_unlock(&s->mu);
        return bx_err_set(err, BX_EBUSY,
                          s->record_done ? "the execution has exited"
                                         : "another kill is in progress");
    }
    s->kill_pending = true;
    s->kill_done = false;
    s->kill_sig = req->signal ? (int)req->signal : SIGKILL;
    s->kill_all = req->all;
    wake_main(s);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += KILL_WAIT_S;
    while (!s->kill_done)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    int rc = 0;
    if (!s->kill_done)
        rc = bx_err_set(err, BX_ETIMEDOUT, "kill did not complete within %d s", KILL_WAIT_S);
    else if (s->kill_err.code)
        rc = bx_err_set(err, s->kill_err.code, "%s", s->kill_err.msg);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int
on_delete(void *ctx, const Boxer__Shim__V1__DeleteRequest *req,
          Boxer__Shim__V1__DeleteResponse *resp, struct bx_err *err)
{
    (void)req, (void)err;
    struct shim *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->delete_requested = true;
    s->delete_by_rpc = true;
    wake_main(s);
    while (!s->delete_ready)
        pthread_cond_wait(&s->cv, &s->mu);
    resp->exit = &s->pb_record;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void
on_deleted(void *ctx)
{
    struct shim *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->done = true;
    pthread_mutex_unlock(&s->mu);
    wake_main(s);
}

static int
on_stats(void *ctx, const Boxer__Shim__V1__StatsRequest *req, Boxer__Shim__V1__StatsResponse *resp,
         struct bx_err *err)
{
    (void)req;
    struct shim *s = ctx;
    pthread_mutex_lock(&s->mu);
    bool have = s->have_cg;
    struct shim_cgroup cg = s->cg;
    pthread_mutex_unlock(&s->mu);
    if (!have)
        return bx_err_set(err, BX_EBUSY,
                          s->o->ignore_cgroups ? "limits are not enforced (cgroups ignored)"
                                               : "the execution has exited");
    shim_cgroup_stats(&cg, &resp->memory_bytes, &resp->memory_limit_bytes, &resp->cpu_usage_ns,
                      &resp->pids, &resp->pids_limit);
    return 0;
}

static const struct shim_rpc_ops shim_ops = {
    .state = on_state,
    .kill = on_kill,
    .delete_ = on_delete,
    .stats = on_stats,
    .deleted = on_deleted,
};

int
shim_service_start(struct shim *s, struct bx_err *err)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", s->o->state_dir, SHIM_SOCKET_NAME);
    if (s->srv) /* a spare's, prepared while it waited */
        return shim_rpc_server_serve(s->srv, path, s->o->exec_id, &shim_ops, s, err);
    /* gRPC's part when a client comes, not beside runsc's start-up (nor at all if none does) */
    return shim_rpc_server_listen(path, s->o->exec_id, &shim_ops, s, &s->srv, err);
}

void
shim_service_post_exit(struct shim *s)
{
    pthread_mutex_lock(&s->mu);
    shim_record_to_pb(&s->record, &s->pb_record);
    s->record_done = true;
    s->status = BOXER__SHIM__V1__STATUS__STATUS_STOPPED;
    pthread_mutex_unlock(&s->mu);
    struct bx_err err = BX_ERR_INIT;
    if (s->srv && shim_rpc_server_post_exit(s->srv, &s->pb_record, &err) < 0)
        bx_log_error("cannot post the exit record", "error=\"%s\"", err.msg);
    shim_on_command(s); /* a Delete that came before the exit */
}

void
shim_service_stop(struct shim *s)
{
    shim_rpc_server_stop(s->srv);
    s->srv = NULL;
}

/* Kill: `runsc kill`; a SIGKILL that runsc cannot deliver (the sandbox is still being made)
 * goes to runsc itself, which takes the sandbox with it. */
static void
do_kill(struct shim *s, int sig, bool all, struct bx_err *err)
{
    if (s->exited) {
        bx_err_set(err, BX_EBUSY, "the execution has exited");
        return;
    }
    if (shim_runsc_kill(s->o, sig, all, err) == 0)
        return;
    if (sig == SIGKILL) {
        bx_err_clear(err);
        kill(s->runsc_pid, SIGKILL);
    }
}

/* Sends the pending Kill's signal and answers it, or, while the sandbox may still be starting,
 * leaves it pending and sets when to try again (the main loop's timer). */
void
shim_kill_now(struct shim *s)
{
    pthread_mutex_lock(&s->mu);
    bool pending = s->kill_pending && !s->kill_done;
    int sig = s->kill_sig;
    bool all = s->kill_all;
    pthread_mutex_unlock(&s->mu);
    s->kill_retry_at = 0;
    if (!pending)
        return;
    int64_t now = shim_now_ms(CLOCK_MONOTONIC);
    if (!s->kill_since)
        s->kill_since = now;
    struct bx_err err = BX_ERR_INIT;
    do_kill(s, sig, all, &err);
    if (err.code && !s->exited && s->kill_since - s->started_mono_ms < KILL_START_MS &&
        now - s->kill_since < KILL_START_MS) {
        if (now == s->kill_since)
            bx_log_info("signal not taken yet; trying again while the sandbox starts",
                        "signal=%d error=\"%s\"", sig, err.msg);
        s->kill_retry_at = now + KILL_RETRY_MS;
        return;
    }
    if (err.code && !s->exited)
        bx_log_warn("kill failed", "signal=%d error=\"%s\"", sig, err.msg);
    else if (now > s->kill_since)
        bx_log_info("signal delivered once the sandbox ran", "signal=%d waited_ms=%lld", sig,
                    (long long)(now - s->kill_since));
    s->kill_since = 0;
    pthread_mutex_lock(&s->mu);
    s->kill_err = err;
    s->kill_done = true;
    s->kill_pending = false;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void
shim_on_command(struct shim *s)
{
    uint64_t v;
    (void)!read(s->cmd_fd, &v, sizeof(v));
    pthread_mutex_lock(&s->mu);
    bool del = s->delete_requested && !s->delete_ready;
    bool record_done = s->record_done;
    pthread_mutex_unlock(&s->mu);
    shim_kill_now(s); /* a pending Kill, also one waiting for its next try */
    if (del && !record_done) {
        shim_stop_sandbox(s, "deleted");
    } else if (del) {
        shim_cleanup_state(s);
        pthread_mutex_lock(&s->mu);
        s->delete_ready = true;
        /* Deleted by the link's closing alone: nobody waits for an answer. */
        if (s->link_closed && !s->delete_by_rpc)
            s->done = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}
