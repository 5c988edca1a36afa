/* One /run, from the image pull to the reply (called by an executor worker). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "httpd_internal.h"
#include "oci/spec.h"

/* Spare seconds for Wait beyond the wall clock the shim enforces itself. */
#define WAIT_MARGIN_S 120

struct run_state {
    struct boxerd *d;
    struct run_job *job;
    struct oci_image img;
    int use_fd;
    char **env;
    struct shim_launch_opts o;
    struct shim_launch l;
    struct oci_spec_file *files;
    char (*host_paths)[PATH_MAX];
    char (*ctr_paths)[4200];
    Boxer__Shim__V1__ExitRecord *rec;
};

static uint64_t
limit_u64(int64_t v, uint64_t scale)
{
    return v > 0 ? (uint64_t)v * scale : 0;
}

static void
fill_launch_opts(struct run_state *s)
{
    struct boxerd *d = s->d;
    const struct run_request *r = &s->job->run;
    const struct bx_limits *l = &r->limits;
    const char *wd =
        s->img.config.working_dir && *s->img.config.working_dir ? s->img.config.working_dir : "/";
    s->o = (struct shim_launch_opts){
        .home = d->config.home,
        .exec_id = s->job->req->exec_id,
        .rootfs = s->img.rootfs,
        .args = (const char *const *)r->cmd,
        .env = (const char *const *)s->env,
        .cwd = r->cwd ? r->cwd : wd,
        .nofile = limit_u64(l->nofile, 1),
        .runsc = d->runsc,
        .platform = d->platform,
        .wall_clock_ms = limit_u64(l->wall_clock_secs, 1000),
        .output_limit = d->config.output_limit_bytes,
        .memory_bytes = limit_u64(l->memory_mb, 1u << 20),
        .cpu_millicores = l->cpu_cores > 0 ? (uint64_t)(l->cpu_cores * 1000 + 0.5) : 0,
        .pids = limit_u64(l->pids_limit, 1),
        .ignore_cgroups = d->config.ignore_cgroups,
        .log_level = d->config.log_level,
    };
}

/* Each requested store file, hard-linked into the run directory (the inode checked now is the
 * one mounted, whatever happens to the store path meanwhile) and bound read-only at /<path>. */
static int
link_files(struct run_state *s, struct bx_err *err)
{
    char **files = s->job->run.files;
    size_t n = 0;
    while (files && files[n])
        n++;
    if (!n)
        return 0;
    s->files = calloc(n, sizeof(*s->files));
    s->host_paths = calloc(n, sizeof(*s->host_paths));
    s->ctr_paths = calloc(n, sizeof(*s->ctr_paths));
    if (!s->files || !s->host_paths || !s->ctr_paths)
        return bx_err_set(err, BX_ENOMEM, "out of memory");
    char dir[PATH_MAX];
    shim_launch_path(&s->l, "files", dir, sizeof(dir));
    if (mkdir(dir, 0711) < 0)
        return bx_err_sys(err, BX_EIO, errno, "create %s", dir);
    for (size_t i = 0; i < n; i++) {
        cleanup_close int fd = bx_open_in_root(s->d->files_fd, files[i], O_RDONLY | O_NOFOLLOW, 0,
                                               BX_RESOLVE_NO_SYMLINKS, NULL);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
            return bx_err_set(err, BX_EINVAL, "file not found: %s", files[i]);
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        snprintf(s->host_paths[i], PATH_MAX, "%s/%zu", dir, i);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, s->host_paths[i], AT_SYMLINK_FOLLOW) < 0)
            return bx_err_sys(err, BX_EIO, errno, "link %s into the run", files[i]);
        snprintf(s->ctr_paths[i], sizeof(s->ctr_paths[i]), "/%s", files[i]);
        s->files[i] = (struct oci_spec_file){s->host_paths[i], s->ctr_paths[i]};
    }
    s->o.files = s->files;
    s->o.n_files = n;
    return 0;
}

/* The captured stream, at most `max` bytes, as a JSON string. */
static json_t *
read_stream(const struct shim_launch *l, const char *name, uint64_t max)
{
    char path[PATH_MAX];
    shim_launch_path(l, name, path, sizeof(path));
    cleanup_free char *buf = NULL;
    size_t len = 0;
    struct bx_err err = BX_ERR_INIT;
    if (bx_read_file(AT_FDCWD, path, max ? max : (64u << 20), &buf, &len, &err) < 0)
        return json_string("");
    return reply_bytes_string(buf, len);
}

static void
make_reply(struct run_state *s)
{
    struct run_job *job = s->job;
    const Boxer__Shim__V1__ExitRecord *r = s->rec;
    const char *id = job->req->exec_id;
    uint64_t limit = s->d->config.output_limit_bytes;
    json_t *out = read_stream(&s->l, "stdout", limit);
    json_t *errs = read_stream(&s->l, "stderr", limit);
    if (r->runtime_error && *r->runtime_error) {
        job->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        job->body = json_pack("{s:s, s:s, s:o, s:o}", "error", r->runtime_error, "exec_id", id,
                              "stdout", out, "stderr", errs);
    } else if (r->timed_out) {
        char msg[96];
        snprintf(msg, sizeof(msg), "execution timed out after %lldms",
                 (long long)job->run.limits.wall_clock_secs * 1000);
        job->status = MHD_HTTP_REQUEST_TIMEOUT;
        job->body = json_pack("{s:s, s:s, s:o, s:o, s:I}", "error", msg, "exec_id", id, "stdout",
                              out, "stderr", errs, "wall_ms", (json_int_t)r->wall_ms);
    } else if (r->stdout_overflow || r->stderr_overflow) {
        char msg[96];
        snprintf(msg, sizeof(msg), "output limit exceeded: limit=%llu bytes",
                 (unsigned long long)limit);
        job->status = MHD_HTTP_INSUFFICIENT_STORAGE;
        job->body = json_pack("{s:s, s:s, s:o, s:o, s:I}", "error", msg, "exec_id", id, "stdout",
                              out, "stderr", errs, "wall_ms", (json_int_t)r->wall_ms);
    } else {
        job->status = MHD_HTTP_OK;
        job->body = json_pack("{s:s, s:i, s:o, s:o, s:I}", "exec_id", id, "exit_code", r->exit_code,
                              "stdout", out, "stderr", errs, "wall_ms", (json_int_t)r->wall_ms);
    }
}

static void
fail(struct run_job *job, int code, const char *prefix, const char *msg)
{
    char text[1024];
    snprintf(text, sizeof(text), "%s%s", prefix, msg);
    job->status = reply_status_of(code);
    job->body = json_pack("{s:s, s:s}", "error", text, "exec_id", job->req->exec_id);
}

static int
run_steps(struct run_state *s, struct bx_err *err)
{
    struct run_job *job = s->job;
    if (oci_store_pull(s->d->store, job->run.image, NULL, NULL, &s->img, err) < 0) {
        if (err->code == BX_EINVAL)
            fail(job, BX_EINVAL, "", err->msg);
        else
            fail(job, BX_EINTERNAL, "image pull failed: ", err->msg);
        return -1;
    }
    s->use_fd = oci_store_use(s->d->store, s->img.digest, err);
    if (s->use_fd < 0 || oci_env_merge((const char *const *)s->img.config.env,
                                       (const char *const *)job->run.env, &s->env, err) < 0)
        return err->code;
    fill_launch_opts(s);
    if (shim_launch_prepare_dirs(&s->o, &s->l, err) < 0 || link_files(s, err) < 0 ||
        shim_launch_write_bundle(&s->o, &s->l, err) < 0 || shim_launch_start(&s->o, &s->l, err) < 0)
        return err->code;
    int64_t wall = job->run.limits.wall_clock_secs;
    int timeout_ms = wall > 0 ? (int)((wall + WAIT_MARGIN_S) * 1000) : -1;
    if (shim_launch_wait(&s->l, timeout_ms, &s->rec, err) < 0)
        return err->code;
    make_reply(s);
    if (job->run.persist && !s->rec->runtime_error[0]) {
        char out[PATH_MAX];
        shim_launch_path(&s->l, "output", out, sizeof(out));
        struct bx_err perr = BX_ERR_INIT;
        if (persist_output(s->d->files_fd, out, job->req->exec_id, s->d->config.persist_limit_bytes,
                           &perr) < 0)
            bx_log_warn("persist incomplete", "error=\"%s\"", perr.msg);
    }
    return 0;
}

void
executor_run_job(struct boxerd *d, struct run_job *job)
{
    struct run_state s = {.d = d, .job = job, .use_fd = -1};
    bx_log_set_exec(job->req->exec_id);
    struct bx_err err = BX_ERR_INIT;
    if (run_steps(&s, &err) < 0 && !job->body) {
        bx_log_error("run failed", "error=\"%s\"", err.msg);
        fail(job, err.code == BX_EINVAL ? BX_EINVAL : BX_EINTERNAL, "", err.msg);
    }
    /* The client has its answer before the sandbox is deleted and the run directory removed
     * (about 20 ms: the Delete call, the unmount, the removal). From here on the request and
     * the job belong to the server thread: only this function's own state is touched. */
    server_resume(job->req);
    job = NULL;
    if (s.rec)
        boxer__shim__v1__exit_record__free_unpacked(s.rec, NULL);
    shim_launch_teardown(&s.l, false);
    shim_launch_spare_refill(); /* for the next run, now that this one has its answer */
    if (s.use_fd >= 0)
        close(s.use_fd);
    oci_env_free(s.env);
    oci_image_release(&s.img);
    free(s.files), free(s.host_paths), free(s.ctr_paths);
}
