/* Unit tests of the shim RPC glue (api/shim_rpc.h): a real server on a unix socket in a temporary
 * directory, called by the real client, with a fake ops table standing in for the shim.
 *
 * The executable has three helper modes besides the tests: --wait-forever SOCK (a client process
 * that a test kills), and --serve SOCK / --call SOCK, the C ends of the cross-check with Python's
 * grpcio (test_api_rpc_grpcio.py). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <spawn.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/status.h>

#include "api/shim_rpc.h"
#include "common/err.h"

#define EXEC_ID "exec-1"
#define WAITERS 50

/* ---- the fake shim ---- */

struct fake {
    pthread_mutex_t mu;
    int state_calls, kill_calls, delete_calls, stats_calls, deleted_calls;
    int released, live_bundles; /* bundle strings handed out and not yet released */
    uint32_t kill_signal;
    bool kill_all;
    int kill_rc; /* what kill returns */
    Boxer__Shim__V1__ExitRecord exit;
};

static int
fake_state(void *ctx, const Boxer__Shim__V1__StateRequest *req,
           Boxer__Shim__V1__StateResponse *resp, struct bx_err *err)
{
    (void)req;
    (void)err;
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->state_calls++;
    f->live_bundles++;
    pthread_mutex_unlock(&f->mu);
    resp->exec_id = EXEC_ID;
    resp->status = BOXER__SHIM__V1__STATUS__STATUS_STOPPED;
    resp->pid = 4242;
    resp->bundle = strdup("/run/boxer/exec-1/bundle"); /* freed by fake_release */
    resp->exit = &f->exit;
    return 0;
}

static int
fake_kill(void *ctx, const Boxer__Shim__V1__KillRequest *req, struct bx_err *err)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->kill_calls++;
    f->kill_signal = req->signal;
    f->kill_all = req->all;
    int rc = f->kill_rc;
    pthread_mutex_unlock(&f->mu);
    if (rc < 0)
        return bx_err_set(err, rc, "the sandbox is paused");
    return 0;
}

static int
fake_delete(void *ctx, const Boxer__Shim__V1__DeleteRequest *req,
            Boxer__Shim__V1__DeleteResponse *resp, struct bx_err *err)
{
    (void)req;
    (void)err;
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->delete_calls++;
    pthread_mutex_unlock(&f->mu);
    resp->exit = &f->exit;
    return 0;
}

static int
fake_stats(void *ctx, const Boxer__Shim__V1__StatsRequest *req,
           Boxer__Shim__V1__StatsResponse *resp, struct bx_err *err)
{
    (void)req;
    (void)err;
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->stats_calls++;
    pthread_mutex_unlock(&f->mu);
    resp->memory_bytes = 1ULL << 33;
    resp->memory_limit_bytes = 1ULL << 34;
    resp->cpu_usage_ns = 123456789012ULL;
    resp->pids = 7;
    resp->pids_limit = UINT64_MAX;
    return 0;
}

static void
fake_deleted(void *ctx)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->deleted_calls++;
    pthread_mutex_unlock(&f->mu);
}

static void
fake_release(void *ctx, ProtobufCMessage *resp)
{
    struct fake *f = ctx;
    if (resp->descriptor != &boxer__shim__v1__state_response__descriptor)
        return;
    Boxer__Shim__V1__StateResponse *st = (Boxer__Shim__V1__StateResponse *)resp;
    free(st->bundle);
    pthread_mutex_lock(&f->mu);
    f->released++;
    f->live_bundles--;
    pthread_mutex_unlock(&f->mu);
}

static const struct shim_rpc_ops fake_ops = {
    .state = fake_state,
    .kill = fake_kill,
    .delete_ = fake_delete,
    .stats = fake_stats,
    .deleted = fake_deleted,
    .release = fake_release,
};

static int
fake_get(struct fake *f, const int *counter)
{
    pthread_mutex_lock(&f->mu);
    int v = *counter;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* An exit record with every field set to something other than its default. */
static void
exit_record_fill(Boxer__Shim__V1__ExitRecord *rec, int32_t code)
{
    boxer__shim__v1__exit_record__init(rec);
    rec->exit_code = code;
    rec->signal = 9;
    rec->timed_out = true;
    rec->oom_killed = true;
    rec->stdout_overflow = true;
    rec->stderr_overflow = true;
    rec->started_unix_ms = 1700000000123;
    rec->finished_unix_ms = 1700000001456;
    rec->wall_ms = 1333;
    rec->pid = 31337;
    rec->limits_enforced = true;
    rec->runtime_error = "runsc: exit status 128";
    rec->stdout_bytes = 1ULL << 40;
    rec->stderr_bytes = 65536;
}

static void
assert_exit_equal(const Boxer__Shim__V1__ExitRecord *a, const Boxer__Shim__V1__ExitRecord *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->exit_code, b->exit_code);
    assert_int_equal(a->signal, b->signal);
    assert_int_equal(a->timed_out, b->timed_out);
    assert_int_equal(a->oom_killed, b->oom_killed);
    assert_int_equal(a->stdout_overflow, b->stdout_overflow);
    assert_int_equal(a->stderr_overflow, b->stderr_overflow);
    assert_int_equal(a->started_unix_ms, b->started_unix_ms);
    assert_int_equal(a->finished_unix_ms, b->finished_unix_ms);
    assert_int_equal(a->wall_ms, b->wall_ms);
    assert_int_equal(a->pid, b->pid);
    assert_int_equal(a->limits_enforced, b->limits_enforced);
    assert_string_equal(a->runtime_error, b->runtime_error);
    assert_int_equal(a->stdout_bytes, b->stdout_bytes);
    assert_int_equal(a->stderr_bytes, b->stderr_bytes);
}

/* ---- fixture: a server for EXEC_ID and a client, in a fresh directory ---- */

struct fixture {
    char dir[PATH_MAX];
    char sock[PATH_MAX];
    struct fake fake;
    struct shim_rpc_server *srv;
    struct shim_rpc_client *cl;
};

static void
path_in(struct fixture *fx, char *buf, const char *name)
{
    snprintf(buf, PATH_MAX, "%s/%s", fx->dir, name);
}

static int
fx_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "%s/rpc.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    path_in(fx, fx->sock, "shim.sock");
    pthread_mutex_init(&fx->fake.mu, NULL);
    exit_record_fill(&fx->fake.exit, 3);
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_server_start(fx->sock, EXEC_ID, &fake_ops, &fx->fake, &fx->srv, &err),
                     0);
    assert_int_equal(shim_rpc_client_open(fx->sock, &fx->cl, &err), 0);
    *state = fx;
    return 0;
}

static int
fx_teardown(void **state)
{
    struct fixture *fx = *state;
    shim_rpc_client_close(fx->cl);
    shim_rpc_server_stop(fx->srv);
    /* Every response the fake filled was released. */
    assert_int_equal(fx->fake.live_bundles, 0);
    pthread_mutex_destroy(&fx->fake.mu);
    int rc = rmdir(fx->dir);
    free(fx);
    return rc;
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls until *counter (under the fake's lock, or the server's waiters when NULL) is `want`. */
static bool
eventually(struct fixture *fx, const int *counter, size_t want)
{
    for (int i = 0; i < 2000; i++) {
        size_t v =
            counter ? (size_t)fake_get(&fx->fake, counter) : shim_rpc_server_waiters(fx->srv);
        if (v == want)
            return true;
        usleep(5000);
    }
    return false;
}

/* ---- every method round-trips its fields ---- */

static void
test_state_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__StateResponse *resp = NULL;
    /* The exec id may be left out, or given. */
    assert_int_equal(shim_rpc_client_state(fx->cl, NULL, 5000, false, &resp, &err), 0);
    boxer__shim__v1__state_response__free_unpacked(resp, NULL);
    assert_int_equal(shim_rpc_client_state(fx->cl, EXEC_ID, 5000, false, &resp, &err), 0);
    assert_string_equal(resp->exec_id, EXEC_ID);
    assert_int_equal(resp->status, BOXER__SHIM__V1__STATUS__STATUS_STOPPED);
    assert_int_equal(resp->pid, 4242);
    assert_string_equal(resp->bundle, "/run/boxer/exec-1/bundle");
    assert_exit_equal(resp->exit, &fx->fake.exit);
    boxer__shim__v1__state_response__free_unpacked(resp, NULL);
    assert_int_equal(fake_get(&fx->fake, &fx->fake.state_calls), 2);
    assert_int_equal(fake_get(&fx->fake, &fx->fake.released), 2);
}

static void
test_kill_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_client_kill(fx->cl, EXEC_ID, 15, true, 5000, &err), 0);
    assert_int_equal(fx->fake.kill_signal, 15);
    assert_true(fx->fake.kill_all);
    assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 0, false, 5000, &err), 0);
    assert_int_equal(fx->fake.kill_signal, 0);
    assert_false(fx->fake.kill_all);
    assert_int_equal(fake_get(&fx->fake, &fx->fake.kill_calls), 2);
}

static void
test_stats_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__StatsResponse *st = NULL;
    assert_int_equal(shim_rpc_client_stats(fx->cl, EXEC_ID, 5000, &st, &err), 0);
    assert_int_equal(st->memory_bytes, 1ULL << 33);
    assert_int_equal(st->memory_limit_bytes, 1ULL << 34);
    assert_int_equal(st->cpu_usage_ns, 123456789012ULL);
    assert_int_equal(st->pids, 7);
    assert_true(st->pids_limit == UINT64_MAX);
    boxer__shim__v1__stats_response__free_unpacked(st, NULL);
}

static void
test_delete_round_trip_then_deleted(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__ExitRecord *rec = NULL;
    assert_int_equal(shim_rpc_client_delete(fx->cl, EXEC_ID, 5000, &rec, &err), 0);
    assert_exit_equal(rec, &fx->fake.exit);
    boxer__shim__v1__exit_record__free_unpacked(rec, NULL);
    assert_int_equal(fake_get(&fx->fake, &fx->fake.delete_calls), 1);
    /* deleted follows once the call is over, on the server thread. */
    assert_true(eventually(fx, &fx->fake.deleted_calls, 1));
    /* A refused Delete is not followed by deleted. */
    assert_int_equal(shim_rpc_client_delete(fx->cl, "other", 5000, &rec, &err), BX_ENOENT);
    assert_null(rec);
    usleep(50 * 1000);
    assert_int_equal(fake_get(&fx->fake, &fx->fake.deleted_calls), 1);
}

static void
test_raw_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__StateRequest req = BOXER__SHIM__V1__STATE_REQUEST__INIT;
    req.exec_id = EXEC_ID;
    uint8_t buf[64];
    size_t len = boxer__shim__v1__state_request__pack(&req, buf);
    void *resp = NULL;
    size_t resp_len = 0;
    int status = -1;
    assert_int_equal(shim_rpc_client_call_raw(fx->cl, SHIM_RPC_PATH_STATE, buf, len, 5000, &resp,
                                              &resp_len, &status, &err),
                     0);
    assert_int_equal(status, GRPC_STATUS_OK);
    Boxer__Shim__V1__StateResponse *st =
        boxer__shim__v1__state_response__unpack(NULL, resp_len, resp);
    assert_non_null(st);
    assert_int_equal(st->pid, 4242);
    boxer__shim__v1__state_response__free_unpacked(st, NULL);
    free(resp);
}

/* ---- errors ---- */

static void
test_exec_id_mismatch_is_not_found(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__StateResponse *st = NULL;
    Boxer__Shim__V1__StatsResponse *stats = NULL;
    Boxer__Shim__V1__ExitRecord *rec = NULL;
    assert_int_equal(shim_rpc_client_state(fx->cl, "exec-2", 5000, false, &st, &err), BX_ENOENT);
    assert_null(st);
    assert_string_equal(err.msg, "State: exec exec-2 is not served here (this shim serves exec-1)");
    assert_int_equal(shim_rpc_client_kill(fx->cl, "exec-2", 9, false, 5000, &err), BX_ENOENT);
    assert_true(strncmp(err.msg, "Kill: ", 6) == 0);
    assert_int_equal(shim_rpc_client_delete(fx->cl, "exec-2", 5000, &rec, &err), BX_ENOENT);
    assert_int_equal(shim_rpc_client_stats(fx->cl, "exec-2", 5000, &stats, &err), BX_ENOENT);
    assert_null(stats);
    /* Wait is answered at once, not parked. */
    assert_int_equal(shim_rpc_client_wait(fx->cl, "exec-2", 5000, &rec, &err), BX_ENOENT);
    assert_true(strncmp(err.msg, "Wait: ", 6) == 0);
    assert_null(rec);
    /* No callback ran. */
    assert_int_equal(fx->fake.state_calls + fx->fake.kill_calls + fx->fake.delete_calls +
                         fx->fake.stats_calls,
                     0);
}

static void
test_callback_errors_map_to_status(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    const struct {
        int rc;
        int want;
    } cases[] = {
        {BX_EBUSY, BX_EBUSY},         {BX_EINVAL, BX_EINVAL},
        {BX_EPERM, BX_EPERM},         {BX_ENOENT, BX_ENOENT},
        {BX_ETIMEDOUT, BX_ETIMEDOUT}, {BX_EIO, BX_EINTERNAL},
        {BX_ERUNTIME, BX_EINTERNAL},  {BX_EUNSUPPORTED, BX_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pthread_mutex_lock(&fx->fake.mu);
        fx->fake.kill_rc = cases[i].rc;
        pthread_mutex_unlock(&fx->fake.mu);
        assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 9, false, 5000, &err), cases[i].want);
        assert_string_equal(err.msg, "Kill: the sandbox is paused");
    }
}

static void
test_missing_callback_is_unimplemented(void **state)
{
    struct fixture *fx = *state;
    char sock[PATH_MAX];
    path_in(fx, sock, "partial.sock");
    struct shim_rpc_ops ops = {.state = fake_state, .release = fake_release};
    struct shim_rpc_server *srv = NULL;
    struct shim_rpc_client *cl = NULL;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_server_start(sock, EXEC_ID, &ops, &fx->fake, &srv, &err), 0);
    assert_int_equal(shim_rpc_client_open(sock, &cl, &err), 0);
    Boxer__Shim__V1__StatsResponse *st = NULL;
    assert_int_equal(shim_rpc_client_stats(cl, NULL, 5000, &st, &err), BX_EUNSUPPORTED);
    assert_string_equal(err.msg, "Stats: this shim does not serve Stats");
    assert_int_equal(shim_rpc_client_kill(cl, NULL, 9, false, 5000, &err), BX_EUNSUPPORTED);
    shim_rpc_client_close(cl);
    shim_rpc_server_stop(srv);
}

static void
test_unknown_method_is_unimplemented_at_once(void **state)
{
    struct fixture *fx = *state;
    const char *methods[] = {"/boxer.shim.v1.Shim/Exec", "/other.v1.Service/State", "/x"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        struct bx_err err = BX_ERR_INIT;
        void *resp = NULL;
        size_t resp_len = 0;
        int status = -1;
        /* A hang would end in DEADLINE_EXCEEDED after 5 s, not in UNIMPLEMENTED. */
        int rc = shim_rpc_client_call_raw(fx->cl, methods[i], "", 0, 5000, &resp, &resp_len,
                                          &status, &err);
        assert_int_equal(status, GRPC_STATUS_UNIMPLEMENTED);
        assert_int_equal(rc, BX_EUNSUPPORTED);
        assert_null(resp);
    }
    /* The generic slot is posted again after each. */
    Boxer__Shim__V1__StateResponse *st = NULL;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_client_state(fx->cl, NULL, 5000, false, &st, &err), 0);
    boxer__shim__v1__state_response__free_unpacked(st, NULL);
}

static void
test_bad_requests_are_refused(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    void *resp = NULL;
    size_t resp_len = 0;
    int status = -1;
    /* Not a protobuf message. */
    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(shim_rpc_client_call_raw(fx->cl, SHIM_RPC_PATH_STATE, garbage, sizeof(garbage),
                                              5000, &resp, &resp_len, &status, &err),
                     BX_EINVAL);
    assert_int_equal(status, GRPC_STATUS_INVALID_ARGUMENT);
    /* Over the bound: refused before it is unpacked. */
    size_t big_len = SHIM_RPC_MAX_MESSAGE + 1;
    uint8_t *big = calloc(1, big_len);
    assert_non_null(big);
    assert_int_equal(shim_rpc_client_call_raw(fx->cl, SHIM_RPC_PATH_KILL, big, big_len, 5000, &resp,
                                              &resp_len, &status, &err),
                     BX_ETOOBIG);
    assert_int_equal(status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    free(big);
    assert_int_equal(fake_get(&fx->fake, &fx->fake.kill_calls), 0);
    /* The server still serves. */
    assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 9, false, 5000, &err), 0);
}

/* ---- Wait ---- */

struct waiter {
    pthread_t thread;
    struct shim_rpc_client *cl;
    int timeout_ms;
    int rc;
    struct bx_err err;
    Boxer__Shim__V1__ExitRecord *rec;
};

static void *
waiter_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = shim_rpc_client_wait(w->cl, EXEC_ID, w->timeout_ms, &w->rec, &w->err);
    return NULL;
}

static void
waiters_start(struct waiter *w, size_t n, struct shim_rpc_client *cl, int timeout_ms)
{
    for (size_t i = 0; i < n; i++) {
        w[i] = (struct waiter){.cl = cl, .timeout_ms = timeout_ms, .rc = 1};
        assert_int_equal(pthread_create(&w[i].thread, NULL, waiter_main, &w[i]), 0);
    }
}

static void
waiters_join(struct waiter *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
}

static void
test_wait_many_parked_then_released(void **state)
{
    struct fixture *fx = *state;
    struct waiter w[WAITERS];
    /* All of them share one client. */
    waiters_start(w, WAITERS, fx->cl, 30000);
    assert_true(eventually(fx, NULL, WAITERS));
    for (size_t i = 0; i < WAITERS; i++)
        assert_int_equal(w[i].rc, 1); /* still waiting */
    Boxer__Shim__V1__ExitRecord rec;
    exit_record_fill(&rec, 137);
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_server_post_exit(fx->srv, &rec, &err), 0);
    waiters_join(w, WAITERS);
    for (size_t i = 0; i < WAITERS; i++) {
        assert_int_equal(w[i].rc, 0);
        assert_exit_equal(w[i].rec, &rec);
        boxer__shim__v1__exit_record__free_unpacked(w[i].rec, NULL);
    }
    assert_int_equal(shim_rpc_server_waiters(fx->srv), 0);
}

static void
test_wait_after_exit_returns_at_once(void **state)
{
    struct fixture *fx = *state;
    Boxer__Shim__V1__ExitRecord rec;
    exit_record_fill(&rec, 0);
    rec.runtime_error = "";
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_server_post_exit(fx->srv, &rec, &err), 0);
    /* The record is copied: changing ours changes nothing. */
    rec.exit_code = 99;
    /* A second post is refused. */
    assert_int_equal(shim_rpc_server_post_exit(fx->srv, &rec, &err), BX_EEXIST);
    rec.exit_code = 0;
    for (int i = 0; i < 3; i++) {
        Boxer__Shim__V1__ExitRecord *got = NULL;
        int64_t t0 = now_ms();
        assert_int_equal(shim_rpc_client_wait(fx->cl, NULL, 5000, &got, &err), 0);
        assert_true(now_ms() - t0 < 5000);
        assert_exit_equal(got, &rec);
        boxer__shim__v1__exit_record__free_unpacked(got, NULL);
    }
}

static void
test_wait_deadline_then_still_serving(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__ExitRecord *got = NULL;
    /* A long waiter stays parked while a short one times out. */
    struct waiter w;
    waiters_start(&w, 1, fx->cl, 30000);
    assert_true(eventually(fx, NULL, 1));
    assert_int_equal(shim_rpc_client_wait(fx->cl, EXEC_ID, 200, &got, &err), BX_ETIMEDOUT);
    assert_null(got);
    assert_true(strncmp(err.msg, "Wait: ", 6) == 0);
    /* The expired call is gone from the server; the long one is not. */
    assert_true(eventually(fx, NULL, 1));
    Boxer__Shim__V1__StateResponse *st = NULL;
    assert_int_equal(shim_rpc_client_state(fx->cl, NULL, 5000, false, &st, &err), 0);
    boxer__shim__v1__state_response__free_unpacked(st, NULL);
    Boxer__Shim__V1__ExitRecord rec;
    exit_record_fill(&rec, 1);
    assert_int_equal(shim_rpc_server_post_exit(fx->srv, &rec, &err), 0);
    waiters_join(&w, 1);
    assert_int_equal(w.rc, 0);
    assert_exit_equal(w.rec, &rec);
    boxer__shim__v1__exit_record__free_unpacked(w.rec, NULL);
}

static void
test_stop_releases_parked_waiters(void **state)
{
    struct fixture *fx = *state;
    struct waiter w[5];
    waiters_start(w, 5, fx->cl, 30000);
    assert_true(eventually(fx, NULL, 5));
    int64_t t0 = now_ms();
    shim_rpc_server_stop(fx->srv);
    fx->srv = NULL;
    waiters_join(w, 5);
    assert_true(now_ms() - t0 < 30000);
    for (size_t i = 0; i < 5; i++) {
        assert_true(w[i].rc == BX_ENET || w[i].rc == BX_ECANCELED);
        assert_null(w[i].rec);
    }
    /* The socket is gone, and a call now fails at once. */
    struct stat st;
    assert_int_equal(lstat(fx->sock, &st), -1);
    assert_int_equal(errno, ENOENT);
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__StateResponse *resp = NULL;
    assert_int_equal(shim_rpc_client_state(fx->cl, NULL, 5000, false, &resp, &err), BX_ENET);
}

/* `test_api_rpc --wait-forever SOCK`: a client process that parks a Wait without a deadline. */
static int
wait_forever_main(const char *sock)
{
    struct shim_rpc_client *cl = NULL;
    struct bx_err err = BX_ERR_INIT;
    Boxer__Shim__V1__ExitRecord *rec = NULL;
    if (shim_rpc_client_open(sock, &cl, &err) < 0)
        return 1;
    int rc = shim_rpc_client_wait(cl, NULL, -1, &rec, &err);
    fprintf(stderr, "wait-forever: %d %s\n", rc, err.msg);
    return 1;
}

/* `test_api_rpc --serve SOCK`, for the cross-check with Python's grpcio: serves the fake, says
 * "ready", posts an exit record (exit code 7) on a line "exit" and stops at the end of stdin. */
static int
serve_main(const char *sock)
{
    static struct fake f = {.mu = PTHREAD_MUTEX_INITIALIZER};
    exit_record_fill(&f.exit, 3);
    struct shim_rpc_server *srv = NULL;
    struct bx_err err = BX_ERR_INIT;
    if (shim_rpc_server_start(sock, EXEC_ID, &fake_ops, &f, &srv, &err) < 0) {
        fprintf(stderr, "serve: %s\n", err.msg);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof(line), stdin)) {
        Boxer__Shim__V1__ExitRecord rec;
        exit_record_fill(&rec, 7);
        if (strcmp(line, "exit\n") == 0 && shim_rpc_server_post_exit(srv, &rec, &err) < 0)
            fprintf(stderr, "serve: %s\n", err.msg);
    }
    shim_rpc_server_stop(srv);
    return 0;
}

/* `test_api_rpc --call SOCK`: calls State, Kill and Stats and prints what came back, one line
 * each: "<method> <rc> <fields or err.msg>". */
static int
call_main(const char *sock)
{
    struct shim_rpc_client *cl = NULL;
    struct bx_err err = BX_ERR_INIT;
    if (shim_rpc_client_open(sock, &cl, &err) < 0)
        return 1;
    Boxer__Shim__V1__StateResponse *st = NULL;
    int rc = shim_rpc_client_state(cl, "exec-9", 5000, true, &st, &err);
    if (rc == 0)
        printf("state 0 exec=%s pid=%d bundle=%s exit_code=%d\n", st->exec_id, st->pid, st->bundle,
               st->exit ? st->exit->exit_code : -1);
    else
        printf("state %d %s\n", rc, err.msg);
    if (st)
        boxer__shim__v1__state_response__free_unpacked(st, NULL);
    rc = shim_rpc_client_kill(cl, "exec-9", 15, true, 5000, &err);
    printf("kill %d %s\n", rc, rc ? err.msg : "");
    Boxer__Shim__V1__StatsResponse *stats = NULL;
    rc = shim_rpc_client_stats(cl, "exec-9", 5000, &stats, &err);
    printf("stats %d %s\n", rc, rc ? err.msg : "");
    if (stats)
        boxer__shim__v1__stats_response__free_unpacked(stats, NULL);
    shim_rpc_client_close(cl);
    return 0;
}

static void
test_wait_of_a_dead_client_is_freed(void **state)
{
    struct fixture *fx = *state;
    char *argv[] = {"test_api_rpc", "--wait-forever", fx->sock, NULL};
    pid_t pid = -1;
    assert_int_equal(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ), 0);
    assert_true(eventually(fx, NULL, 1));
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The connection's end cancels the call, and the server drops it. */
    assert_true(eventually(fx, NULL, 0));
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 9, false, 5000, &err), 0);
}

/* ---- the client ---- */

struct caller {
    pthread_t thread;
    struct shim_rpc_client *cl;
    int failures;
};

static void *
caller_main(void *arg)
{
    struct caller *c = arg;
    for (int i = 0; i < 25; i++) {
        struct bx_err err = BX_ERR_INIT;
        Boxer__Shim__V1__StatsResponse *st = NULL;
        if (shim_rpc_client_stats(c->cl, EXEC_ID, 10000, &st, &err) == 0 && st->pids == 7)
            boxer__shim__v1__stats_response__free_unpacked(st, NULL);
        else
            c->failures++;
    }
    return NULL;
}

static void
test_client_concurrent_calls(void **state)
{
    struct fixture *fx = *state;
    struct caller c[8];
    for (size_t i = 0; i < 8; i++) {
        c[i] = (struct caller){.cl = fx->cl};
        assert_int_equal(pthread_create(&c[i].thread, NULL, caller_main, &c[i]), 0);
    }
    for (size_t i = 0; i < 8; i++) {
        pthread_join(c[i].thread, NULL);
        assert_int_equal(c[i].failures, 0);
    }
    assert_int_equal(fake_get(&fx->fake, &fx->fake.stats_calls), 8 * 25);
}

struct late_start {
    pthread_t thread;
    const char *sock;
    struct fake *fake;
    struct shim_rpc_server *srv;
    int rc;
};

static void *
late_start_main(void *arg)
{
    struct late_start *ls = arg;
    usleep(300 * 1000);
    struct bx_err err = BX_ERR_INIT;
    ls->rc = shim_rpc_server_start(ls->sock, EXEC_ID, &fake_ops, ls->fake, &ls->srv, &err);
    return NULL;
}

static void
test_wait_for_ready_reaches_a_late_server(void **state)
{
    struct fixture *fx = *state;
    char sock[PATH_MAX];
    path_in(fx, sock, "late.sock");
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_client *cl = NULL;
    assert_int_equal(shim_rpc_client_open(sock, &cl, &err), 0);
    /* Without wait_for_ready, a socket nobody listens on fails the call at once. */
    Boxer__Shim__V1__StateResponse *st = NULL;
    assert_int_equal(shim_rpc_client_state(cl, NULL, 5000, false, &st, &err), BX_ENET);
    assert_true(strncmp(err.msg, "State: ", 7) == 0);
    struct late_start ls = {.sock = sock, .fake = &fx->fake, .rc = 1};
    assert_int_equal(pthread_create(&ls.thread, NULL, late_start_main, &ls), 0);
    int rc = shim_rpc_client_state(cl, EXEC_ID, 10000, true, &st, &err);
    pthread_join(ls.thread, NULL);
    assert_int_equal(ls.rc, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(st->pid, 4242);
    boxer__shim__v1__state_response__free_unpacked(st, NULL);
    shim_rpc_client_close(cl);
    shim_rpc_server_stop(ls.srv);
}

/* ---- the socket file ---- */

static void
test_socket_is_0600_whatever_the_umask(void **state)
{
    struct fixture *fx = *state;
    struct stat st;
    assert_int_equal(lstat(fx->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    char sock[PATH_MAX];
    path_in(fx, sock, "open.sock");
    mode_t old = umask(0);
    struct shim_rpc_server *srv = NULL;
    struct bx_err err = BX_ERR_INIT;
    int rc = shim_rpc_server_start(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err);
    /* The process's umask is left alone. */
    assert_int_equal(umask(old), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(lstat(sock, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    shim_rpc_server_stop(srv);
    assert_int_equal(lstat(sock, &st), -1);
}

/* Leaves a socket file that nobody listens on at `path`. */
static void
make_stale_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
}

static void
test_socket_stale_live_and_foreign(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_server *srv = NULL;
    /* A live server's socket is not taken over. */
    assert_int_equal(shim_rpc_server_start(fx->sock, "exec-2", &fake_ops, &fx->fake, &srv, &err),
                     BX_EBUSY);
    assert_null(srv);
    /* ... and it still serves. */
    assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 9, false, 5000, &err), 0);
    /* A stale one is replaced. */
    char sock[PATH_MAX];
    path_in(fx, sock, "stale.sock");
    make_stale_socket(sock);
    assert_int_equal(shim_rpc_server_start(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err), 0);
    shim_rpc_server_stop(srv);
    srv = NULL;
    /* Anything else is left alone. */
    path_in(fx, sock, "file");
    FILE *f = fopen(sock, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(shim_rpc_server_start(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err),
                     BX_EEXIST);
    assert_int_equal(unlink(sock), 0);
    /* A path gRPC would misread, and one too long for a unix socket. */
    path_in(fx, sock, "a?b.sock");
    assert_int_equal(shim_rpc_server_start(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err),
                     BX_EINVAL);
    /* A directory that does not exist. */
    path_in(fx, sock, "missing/x.sock");
    assert_int_equal(shim_rpc_server_start(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err),
                     BX_ENOENT);
    char longp[PATH_MAX];
    snprintf(longp, sizeof(longp), "%s/%0200d", fx->dir, 0);
    assert_int_equal(shim_rpc_server_start(longp, EXEC_ID, &fake_ops, &fx->fake, &srv, &err),
                     BX_ETOOBIG);
    assert_null(srv);
}

static void
test_socket_relative_path(void **state)
{
    struct fixture *fx = *state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(fx->dir), 0);
    struct shim_rpc_server *srv = NULL;
    struct bx_err err = BX_ERR_INIT;
    int rc = shim_rpc_server_start("rel.sock", EXEC_ID, &fake_ops, &fx->fake, &srv, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    /* The server holds the absolute path: it removes the right file from any directory. */
    char sock[PATH_MAX];
    path_in(fx, sock, "rel.sock");
    struct stat st;
    assert_int_equal(lstat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    shim_rpc_server_stop(srv);
    assert_int_equal(lstat(sock, &st), -1);
}

/* ---- prepare, then serve (a spare shim's way) ---- */

/* A prepared server makes no socket; stopped without serving it frees everything. */
static void
test_prepare_then_stop(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_server *srv = NULL;
    assert_int_equal(shim_rpc_server_prepare(&srv, &err), 0);
    assert_non_null(srv);
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1); /* the fixture's own socket only */
    shim_rpc_server_stop(srv);
}

/* Serve after prepare answers as start's server does; a second serve is refused. */
static void
test_prepare_then_serve(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_server *srv = NULL;
    assert_int_equal(shim_rpc_server_prepare(&srv, &err), 0);
    char sock[PATH_MAX];
    path_in(fx, sock, "late.sock");
    assert_int_equal(shim_rpc_server_serve(srv, sock, "exec-9", &fake_ops, &fx->fake, &err), 0);
    struct stat st;
    assert_int_equal(lstat(sock, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    struct shim_rpc_client *cl = NULL;
    assert_int_equal(shim_rpc_client_open(sock, &cl, &err), 0);
    Boxer__Shim__V1__StateResponse *resp = NULL;
    assert_int_equal(shim_rpc_client_state(cl, NULL, 5000, false, &resp, &err), 0);
    assert_int_equal(resp->pid, 4242);
    boxer__shim__v1__state_response__free_unpacked(resp, NULL);
    /* the exec id given to serve is the one checked */
    assert_int_equal(shim_rpc_client_state(cl, EXEC_ID, 5000, false, &resp, &err), BX_ENOENT);
    char other[PATH_MAX];
    path_in(fx, other, "other.sock");
    assert_int_equal(shim_rpc_server_serve(srv, other, "exec-9", &fake_ops, &fx->fake, &err),
                     BX_EEXIST);
    assert_int_equal(lstat(other, &st), -1);
    shim_rpc_client_close(cl);
    shim_rpc_server_stop(srv);
    assert_int_equal(lstat(sock, &st), -1);
}

/* A serve that fails (the path) leaves the prepared server to stop, and nothing on disk. */
static void
test_prepare_then_serve_fails(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_server *srv = NULL;
    assert_int_equal(shim_rpc_server_prepare(&srv, &err), 0);
    char sock[PATH_MAX];
    path_in(fx, sock, "missing/x.sock");
    assert_int_equal(shim_rpc_server_serve(srv, sock, EXEC_ID, &fake_ops, &fx->fake, &err),
                     BX_ENOENT);
    shim_rpc_server_stop(srv);
    /* a live server's socket is not taken over either */
    assert_int_equal(shim_rpc_server_prepare(&srv, &err), 0);
    assert_int_equal(shim_rpc_server_serve(srv, fx->sock, EXEC_ID, &fake_ops, &fx->fake, &err),
                     BX_EBUSY);
    shim_rpc_server_stop(srv);
    struct stat st;
    assert_int_equal(lstat(fx->sock, &st), 0); /* the live one is still there */
    assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 9, false, 5000, &err), 0);
}

/* listen: the socket is there (0600) at once; an exit posted before any client came is what
 * the first client's Wait gets; every method is served; stop removes the socket. */
static void
test_listen_serves_from_the_first_connection(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_server *srv = NULL;
    char sock[PATH_MAX];
    path_in(fx, sock, "lazy.sock");
    assert_int_equal(shim_rpc_server_listen(sock, "exec-7", &fake_ops, &fx->fake, &srv, &err), 0);
    struct stat st;
    assert_int_equal(lstat(sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    Boxer__Shim__V1__ExitRecord rec;
    exit_record_fill(&rec, 0);
    rec.runtime_error = "";
    assert_int_equal(shim_rpc_server_post_exit(srv, &rec, &err), 0);
    assert_int_equal(shim_rpc_server_waiters(srv), 0);
    struct shim_rpc_client *cl = NULL;
    assert_int_equal(shim_rpc_client_open(sock, &cl, &err), 0);
    Boxer__Shim__V1__ExitRecord *got = NULL;
    assert_int_equal(shim_rpc_client_wait(cl, "exec-7", 5000, &got, &err), 0);
    assert_exit_equal(got, &rec);
    boxer__shim__v1__exit_record__free_unpacked(got, NULL);
    Boxer__Shim__V1__StateResponse *resp = NULL;
    assert_int_equal(shim_rpc_client_state(cl, NULL, 5000, false, &resp, &err), 0);
    assert_int_equal(resp->pid, 4242);
    boxer__shim__v1__state_response__free_unpacked(resp, NULL);
    assert_int_equal(shim_rpc_client_state(cl, EXEC_ID, 5000, false, &resp, &err), BX_ENOENT);
    /* a second client, on a new connection, is served as well */
    struct shim_rpc_client *cl2 = NULL;
    assert_int_equal(shim_rpc_client_open(sock, &cl2, &err), 0);
    assert_int_equal(shim_rpc_client_kill(cl2, NULL, 15, false, 5000, &err), 0);
    assert_int_equal(fx->fake.kill_signal, 15);
    shim_rpc_client_close(cl2);
    shim_rpc_client_close(cl);
    shim_rpc_server_stop(srv);
    assert_int_equal(lstat(sock, &st), -1);
}

/* listen fails as start does (a missing directory, a live server's socket); one that nobody
 * called stops cleanly and leaves nothing. */
static void
test_listen_fails_or_stops_unused(void **state)
{
    struct fixture *fx = *state;
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_server *srv = NULL;
    char sock[PATH_MAX];
    path_in(fx, sock, "missing/x.sock");
    assert_int_equal(shim_rpc_server_listen(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err),
                     BX_ENOENT);
    assert_null(srv);
    assert_int_equal(shim_rpc_server_listen(fx->sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err),
                     BX_EBUSY);
    assert_null(srv);
    path_in(fx, sock, "unused.sock");
    assert_int_equal(shim_rpc_server_listen(sock, EXEC_ID, &fake_ops, &fx->fake, &srv, &err), 0);
    shim_rpc_server_stop(srv);
    struct stat st;
    assert_int_equal(lstat(sock, &st), -1);
    assert_int_equal(lstat(fx->sock, &st), 0); /* the live one is still there */
    assert_int_equal(shim_rpc_client_kill(fx->cl, NULL, 9, false, 5000, &err), 0);
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--wait-forever") == 0)
        return wait_forever_main(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve_main(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--call") == 0)
        return call_main(argv[2]);
    const struct CMUnitTest tests[] = {
        FX_TEST(test_state_round_trip),
        FX_TEST(test_kill_round_trip),
        FX_TEST(test_stats_round_trip),
        FX_TEST(test_delete_round_trip_then_deleted),
        FX_TEST(test_raw_round_trip),
        FX_TEST(test_exec_id_mismatch_is_not_found),
        FX_TEST(test_callback_errors_map_to_status),
        FX_TEST(test_missing_callback_is_unimplemented),
        FX_TEST(test_unknown_method_is_unimplemented_at_once),
        FX_TEST(test_bad_requests_are_refused),
        FX_TEST(test_wait_many_parked_then_released),
        FX_TEST(test_wait_after_exit_returns_at_once),
        FX_TEST(test_wait_deadline_then_still_serving),
        FX_TEST(test_stop_releases_parked_waiters),
        FX_TEST(test_wait_of_a_dead_client_is_freed),
        FX_TEST(test_client_concurrent_calls),
        FX_TEST(test_wait_for_ready_reaches_a_late_server),
        FX_TEST(test_socket_is_0600_whatever_the_umask),
        FX_TEST(test_socket_stale_live_and_foreign),
        FX_TEST(test_socket_relative_path),
        FX_TEST(test_prepare_then_stop),
        FX_TEST(test_prepare_then_serve),
        FX_TEST(test_prepare_then_serve_fails),
        FX_TEST(test_listen_serves_from_the_first_connection),
        FX_TEST(test_listen_fails_or_stops_unused),
    };
    return cmocka_run_group_tests_name("api_rpc", tests, NULL, NULL);
}
