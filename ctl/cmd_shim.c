/* boxerctl's shim commands: ps, state, wait, kill, logs, delete. Each talks to the boxer-shim
 * of one execution over its status socket (home/run/<id>/shim.sock), and falls back to the
 * exit record on disk when the shim is gone. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "ctl_internal.h"
#include "shim/launch.h"
#include "shim_internal.h"

#define SHIM_ANSWER_MS 1000

/* What is known of one execution. */
struct exec_view {
    char id[65];
    const char *status; /* created, running, stopped, unknown */
    bool shim_gone;
    int pid;
    bool has_record;
    struct shim_record rec;
};

static const char *
status_name(Boxer__Shim__V1__Status s)
{
    switch (s) {
    case BOXER__SHIM__V1__STATUS__STATUS_CREATED:
        return "created";
    case BOXER__SHIM__V1__STATUS__STATUS_RUNNING:
        return "running";
    case BOXER__SHIM__V1__STATUS__STATUS_STOPPED:
        return "stopped";
    default:
        return "unknown";
    }
}

static void
record_from_pb(const Boxer__Shim__V1__ExitRecord *pb, struct shim_record *r)
{
    *r = (struct shim_record){
        .exit_code = pb->exit_code,
        .signal = pb->signal,
        .timed_out = pb->timed_out,
        .oom_killed = pb->oom_killed,
        .stdout_overflow = pb->stdout_overflow,
        .stderr_overflow = pb->stderr_overflow,
        .limits_enforced = pb->limits_enforced,
        .started_unix_ms = pb->started_unix_ms,
        .finished_unix_ms = pb->finished_unix_ms,
        .wall_ms = pb->wall_ms,
        .pid = pb->pid,
        .stdout_bytes = pb->stdout_bytes,
        .stderr_bytes = pb->stderr_bytes,
    };
    snprintf(r->runtime_error, sizeof(r->runtime_error), "%s",
             pb->runtime_error ? pb->runtime_error : "");
}

static int
open_client(const char *dir, struct shim_rpc_client **cl, struct bx_err *err)
{
    char sock[PATH_MAX];
    snprintf(sock, sizeof(sock), "%s/%s", dir, SHIM_SOCKET_NAME);
    return shim_rpc_client_open(sock, cl, err);
}

/* Fills v from the shim, or from exit.json when the shim does not answer. BX_ENOENT when there
 * is no such execution. */
static int
exec_view_load(const struct ctl *c, const char *id, struct exec_view *v, struct bx_err *err)
{
    char dir[PATH_MAX];
    memset(v, 0, sizeof(*v));
    snprintf(v->id, sizeof(v->id), "%s", id);
    if (ctl_run_dir(c, id, dir, sizeof(dir), err) < 0)
        return err->code;
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return bx_err_set(err, BX_ENOENT, "no such execution: %s", id);
    struct shim_rpc_client *cl = NULL;
    Boxer__Shim__V1__StateResponse *st = NULL;
    struct bx_err rerr = BX_ERR_INIT;
    if (open_client(dir, &cl, &rerr) == 0 &&
        shim_rpc_client_state(cl, id, SHIM_ANSWER_MS, false, &st, &rerr) == 0) {
        v->status = status_name(st->status);
        v->pid = st->pid;
        if (st->exit) {
            v->has_record = true;
            record_from_pb(st->exit, &v->rec);
        }
        boxer__shim__v1__state_response__free_unpacked(st, NULL);
    } else {
        v->shim_gone = true;
        v->has_record = shim_record_read(dfd, &v->rec, NULL) == 0;
        v->status = v->has_record ? "stopped" : "unknown";
        v->pid = v->has_record ? v->rec.pid : 0;
    }
    shim_rpc_client_close(cl);
    return 0;
}

static json_t *
record_json(const struct shim_record *r)
{
    cleanup_free char *text = shim_record_to_json(r);
    return text ? json_loads(text, 0, NULL) : json_null();
}

static json_t *
exec_view_json(const struct exec_view *v)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "id", v->id, "status", v->status, "pid", v->pid);
    if (v->shim_gone)
        json_object_set_new(o, "shim", json_string("gone"));
    if (v->has_record)
        json_object_set_new(o, "exit", record_json(&v->rec));
    return o;
}

static void
flags_of(const struct shim_record *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", r->timed_out ? "timeout," : "", r->oom_killed ? "oom," : "",
             r->stdout_overflow ? "stdout-overflow," : "",
             r->stderr_overflow ? "stderr-overflow," : "",
             r->runtime_error[0] ? "runtime-error," : "");
    size_t n = strlen(buf);
    if (n)
        buf[n - 1] = '\0';
    else
        snprintf(buf, size, "-");
}

static void
print_record_line(const struct shim_record *r)
{
    char flags[128];
    flags_of(r, flags, sizeof(flags));
    printf("exit_code=%d signal=%d wall_ms=%lld stdout_bytes=%llu stderr_bytes=%llu flags=%s",
           r->exit_code, r->signal, (long long)r->wall_ms, (unsigned long long)r->stdout_bytes,
           (unsigned long long)r->stderr_bytes, flags);
    if (r->runtime_error[0])
        printf(" runtime_error=\"%s\"", r->runtime_error);
    putchar('\n');
}

static int
print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

static int
exit_status_of(const struct shim_record *r)
{
    return r->exit_code < 0 ? 255 : r->exit_code > 255 ? 255 : r->exit_code;
}

static int
id_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ctl_cmd_ps(struct ctl *c, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fputs("usage: boxerctl ps\n", stderr);
        return 2;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/run", c->config.home);
    cleanup_dir DIR *d = bx_opendir_at(AT_FDCWD, dir);
    char *ids[4096];
    size_t n = 0;
    struct dirent *de;
    char probe[PATH_MAX];
    while (d && n < 4096 && (de = readdir(d)) != NULL)
        if (de->d_type == DT_DIR && ctl_run_dir(c, de->d_name, probe, sizeof(probe), NULL) == 0)
            ids[n++] = strdup(de->d_name);
    qsort(ids, n, sizeof(*ids), id_cmp);
    json_t *arr = c->json ? json_array() : NULL;
    if (!c->json)
        printf("%-44s %-22s %8s %5s %8s  %s\n", "ID", "STATUS", "PID", "EXIT", "WALL", "FLAGS");
    for (size_t i = 0; i < n; i++) {
        struct exec_view v;
        if (ids[i] && exec_view_load(c, ids[i], &v, NULL) == 0) {
            if (arr) {
                json_array_append_new(arr, exec_view_json(&v));
            } else {
                char status[40], code[16] = "-", wall[24] = "-", flags[128] = "-";
                snprintf(status, sizeof(status), "%s%s", v.status,
                         v.shim_gone ? " (shim gone)" : "");
                if (v.has_record) {
                    snprintf(code, sizeof(code), "%d", v.rec.exit_code);
                    snprintf(wall, sizeof(wall), "%lld", (long long)v.rec.wall_ms);
                    flags_of(&v.rec, flags, sizeof(flags));
                }
                printf("%-44s %-22s %8d %5s %8s  %s\n", v.id, status, v.pid, code, wall, flags);
            }
        }
        free(ids[i]);
    }
    return arr ? print_json(arr) : 0;
}

static int
one_id(int argc, char **argv, const char *usage)
{
    if (argc != 2) {
        fprintf(stderr, "usage: boxerctl %s\n", usage);
        return -1;
    }
    (void)argv;
    return 0;
}

int
ctl_cmd_state(struct ctl *c, int argc, char **argv)
{
    if (one_id(argc, argv, "state ID") < 0)
        return 2;
    struct exec_view v;
    struct bx_err err = BX_ERR_INIT;
    if (exec_view_load(c, argv[1], &v, &err) < 0)
        return ctl_fail(&err);
    if (c->json)
        return print_json(exec_view_json(&v));
    printf("id: %s\nstatus: %s%s\npid: %d\n", v.id, v.status, v.shim_gone ? " (shim gone)" : "",
           v.pid);
    if (v.has_record) {
        printf("exit: ");
        print_record_line(&v.rec);
    }
    return 0;
}

static int
report_record(const struct ctl *c, const struct shim_record *r)
{
    if (c->json)
        print_json(record_json(r));
    else
        print_record_line(r);
    return exit_status_of(r);
}

int
ctl_cmd_wait(struct ctl *c, int argc, char **argv)
{
    int timeout_ms = -1;
    if (argc == 4 && strcmp(argv[2], "--timeout") == 0) {
        timeout_ms = atoi(argv[3]) * 1000;
        argc = 2;
    }
    if (one_id(argc, argv, "wait ID [--timeout SECS]") < 0)
        return 2;
    char dir[PATH_MAX];
    struct bx_err err = BX_ERR_INIT;
    if (ctl_run_dir(c, argv[1], dir, sizeof(dir), &err) < 0)
        return ctl_fail(&err);
    struct shim_rpc_client *cl = NULL;
    Boxer__Shim__V1__ExitRecord *pb = NULL;
    struct shim_record r;
    int rc = open_client(dir, &cl, &err);
    if (rc == 0)
        rc = shim_wait_exit(cl, dir, argv[1], timeout_ms, &pb, &err);
    shim_rpc_client_close(cl);
    if (rc == 0) {
        record_from_pb(pb, &r);
        boxer__shim__v1__exit_record__free_unpacked(pb, NULL);
        return report_record(c, &r);
    }
    /* The shim is gone: its record on disk. */
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rc == BX_ENET && dfd >= 0 && shim_record_read(dfd, &r, NULL) == 0)
        return report_record(c, &r);
    if (dfd < 0)
        bx_err_set(&err, BX_ENOENT, "no such execution: %s", argv[1]);
    return ctl_fail(&err);
}

static int
signal_parse(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"KILL", SIGKILL}, {"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
                {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"STOP", SIGSTOP},
                {"CONT", SIGCONT}, {"ALRM", SIGALRM}, {"PIPE", SIGPIPE}};
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (*s && !*end)
        return n > 0 && n < NSIG ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
        if (strcasecmp(s, sigs[i].name) == 0)
            return sigs[i].sig;
    return -1;
}

int
ctl_cmd_kill(struct ctl *c, int argc, char **argv)
{
    bool all = false;
    const char *pos[2] = {NULL, "KILL"};
    int npos = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = true;
        else if (npos < 2)
            pos[npos++] = argv[i];
        else
            bad = 1;
    }
    const char *id = pos[0];
    int sig = signal_parse(pos[1]);
    if (!id || sig < 0 || bad) {
        fputs("usage: boxerctl kill ID [SIGNAL] [--all]\n", stderr);
        return 2;
    }
    char dir[PATH_MAX];
    struct bx_err err = BX_ERR_INIT;
    struct shim_rpc_client *cl = NULL;
    int rc = ctl_run_dir(c, id, dir, sizeof(dir), &err);
    if (rc == 0)
        rc = open_client(dir, &cl, &err);
    if (rc == 0)
        rc = shim_rpc_client_kill(cl, id, (uint32_t)sig, all, 20000, &err);
    shim_rpc_client_close(cl);
    return rc < 0 ? ctl_fail(&err) : 0;
}

int
ctl_cmd_logs(struct ctl *c, int argc, char **argv)
{
    bool err_stream = argc == 3 && strcmp(argv[2], "--stderr") == 0;
    if (argc != 2 && !err_stream) {
        fputs("usage: boxerctl logs ID [--stderr]\n", stderr);
        return 2;
    }
    char dir[PATH_MAX];
    struct bx_err err = BX_ERR_INIT;
    if (ctl_run_dir(c, argv[1], dir, sizeof(dir), &err) < 0)
        return ctl_fail(&err);
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_close int fd = dfd < 0 ? -1
                                   : openat(dfd, err_stream ? SHIM_STDERR_NAME : SHIM_STDOUT_NAME,
                                            O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        bx_err_set(&err, BX_ENOENT, "no such execution: %s", argv[1]);
        return ctl_fail(&err);
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (bx_write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
            return 1;
    return n < 0 ? 1 : 0;
}

int
ctl_cmd_delete(struct ctl *c, int argc, char **argv)
{
    bool force = argc == 3 && strcmp(argv[2], "--force") == 0;
    if (argc != 2 && !force) {
        fputs("usage: boxerctl delete ID [--force]\n", stderr);
        return 2;
    }
    const char *id = argv[1];
    char dir[PATH_MAX];
    struct bx_err err = BX_ERR_INIT;
    if (ctl_run_dir(c, id, dir, sizeof(dir), &err) < 0)
        return ctl_fail(&err);
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        bx_err_set(&err, BX_ENOENT, "no such execution: %s", id);
        return ctl_fail(&err);
    }
    struct shim_rpc_client *cl = NULL;
    Boxer__Shim__V1__ExitRecord *pb = NULL;
    int rc = open_client(dir, &cl, &err);
    if (rc == 0)
        rc = shim_rpc_client_delete(cl, id, 30000, &pb, &err);
    shim_rpc_client_close(cl);
    int status = 0;
    if (rc == 0) {
        struct shim_record r;
        record_from_pb(pb, &r);
        boxer__shim__v1__exit_record__free_unpacked(pb, NULL);
        report_record(c, &r);
    } else {
        pid_t pid = shim_pid_alive(dfd);
        if (pid && !force) {
            fprintf(stderr,
                    "boxerctl: the shim (pid %d) is alive but does not answer (%s); "
                    "delete --force kills it\n",
                    (int)pid, err.msg);
            return 1;
        }
        if (pid)
            kill(pid, SIGKILL);
    }
    shim_cgroup_remove_stale(id, dir);
    /* (with boxerctl run's overlay view, when its run was interrupted) */
    if (shim_run_dir_remove(dir, &err) < 0)
        status = ctl_fail(&err);
    return status;
}
