/* The exit record: what happened to an execution, as JSON in exit.json. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "shim_internal.h"

#define RECORD_MAX_BYTES (64u << 10)

char *
shim_record_to_json(const struct shim_record *r)
{
    json_auto_t *o = json_pack(
        "{s:i, s:i, s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:i, s:I, s:I, s:s}", "exit_code",
        r->exit_code, "signal", r->signal, "timed_out", r->timed_out, "oom_killed", r->oom_killed,
        "stdout_overflow", r->stdout_overflow, "stderr_overflow", r->stderr_overflow,
        "limits_enforced", r->limits_enforced, "started_unix_ms", (json_int_t)r->started_unix_ms,
        "finished_unix_ms", (json_int_t)r->finished_unix_ms, "wall_ms", (json_int_t)r->wall_ms,
        "pid", r->pid, "stdout_bytes", (json_int_t)r->stdout_bytes, "stderr_bytes",
        (json_int_t)r->stderr_bytes, "runtime_error", r->runtime_error);
    return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

int
shim_record_from_json(const char *text, size_t len, struct shim_record *r, struct bx_err *err)
{
    json_error_t jerr;
    json_auto_t *o = json_loadb(text, len, 0, &jerr);
    if (!o)
        return bx_err_set(err, BX_EINVAL, "exit record: %s", jerr.text);
    memset(r, 0, sizeof(*r));
    json_int_t started = 0, finished = 0, wall = 0, out = 0, errb = 0;
    int code = 0, sig = 0, pid = 0, to = 0, oom = 0, oo = 0, eo = 0, enf = 0;
    const char *rt = "";
    if (json_unpack_ex(
            o, &jerr, 0, "{s:i, s:i, s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:i, s:I, s:I, s:s}",
            "exit_code", &code, "signal", &sig, "timed_out", &to, "oom_killed", &oom,
            "stdout_overflow", &oo, "stderr_overflow", &eo, "limits_enforced", &enf,
            "started_unix_ms", &started, "finished_unix_ms", &finished, "wall_ms", &wall, "pid",
            &pid, "stdout_bytes", &out, "stderr_bytes", &errb, "runtime_error", &rt) < 0)
        return bx_err_set(err, BX_EINVAL, "exit record: %s", jerr.text);
    *r = (struct shim_record){
        .exit_code = code,
        .signal = sig,
        .timed_out = to,
        .oom_killed = oom,
        .stdout_overflow = oo,
        .stderr_overflow = eo,
        .limits_enforced = enf,
        .started_unix_ms = started,
        .finished_unix_ms = finished,
        .wall_ms = wall,
        .pid = pid,
        .stdout_bytes = (uint64_t)out,
        .stderr_bytes = (uint64_t)errb,
    };
    snprintf(r->runtime_error, sizeof(r->runtime_error), "%s", rt);
    return 0;
}

int
shim_record_write(int dirfd, const struct shim_record *r, struct bx_err *err)
{
    cleanup_free char *text = shim_record_to_json(r);
    if (!text)
        return bx_err_set(err, BX_ENOMEM, "exit record: out of memory");
    /* Atomic, not durable: the fsyncs (1-2 ms between the exit and the Wait's answer) would
     * only keep a record across a host crash, after which boxerd removes the run anyway. */
    return bx_write_file_replace(dirfd, SHIM_RECORD_NAME, text, strlen(text), 0644, err);
}

int
shim_record_read(int dirfd, struct shim_record *r, struct bx_err *err)
{
    cleanup_free char *text = NULL;
    size_t len = 0;
    int rc = bx_read_file(dirfd, SHIM_RECORD_NAME, RECORD_MAX_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    return shim_record_from_json(text, len, r, err);
}

/* runsc reports its own failures as "running container: ..." (or "creating container: ...") on
 * stderr and exits with 128. Returns the start of that line in `tail`, or NULL. */
static const char *
runsc_failure_line(const char *tail)
{
    static const char *const prefixes[] = {"running container: ", "creating container: ",
                                           "starting container: ", "loading container: "};
    const char *line = tail;
    const char *found = NULL;
    while (line && *line) {
        for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
            if (strncmp(line, prefixes[i], strlen(prefixes[i])) == 0)
                found = line;
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return found;
}

void
shim_record_set_status(struct shim_record *r, int ws, const char *stderr_tail)
{
    r->signal = 0;
    r->runtime_error[0] = '\0';
    if (WIFSIGNALED(ws)) {
        /* runsc itself was killed (by the shim, or by the OOM killer). */
        r->signal = WTERMSIG(ws);
        r->exit_code = 128 + r->signal;
        return;
    }
    r->exit_code = WEXITSTATUS(ws);
    const char *line = stderr_tail ? runsc_failure_line(stderr_tail) : NULL;
    /* A program that cannot be started is the program's failure, as a shell reports it
     * (127: not found, 126: not executable); runsc's message stays in stderr. */
    if (r->exit_code == 128 && line && strstr(line, "creating process: failed to load")) {
        r->exit_code = strstr(line, "no such file or directory") ? 127 : 126;
        return;
    }
    if (r->exit_code == 128 && line) {
        size_t n = strcspn(line, "\n");
        snprintf(r->runtime_error, sizeof(r->runtime_error), "runsc: %.*s", (int)n, line);
        return;
    }
    /* runsc exits with 128 + N when the program was ended by signal N, as a shell reports it. */
    if (r->exit_code > 128 && r->exit_code < 128 + NSIG)
        r->signal = r->exit_code - 128;
}
