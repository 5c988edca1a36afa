/* boxer-shim: one process per execution, supervising `runsc run` (see shim_internal.h).
 *
 *   boxer-shim start --id ID --bundle DIR --state DIR [options]
 *       detaches (a new session: a restart of its caller does not end it), prints the status
 *       socket's path once it is ready and exits 0; or prints the error and exits 1.
 *   boxer-shim run ...   the same without detaching, for debugging.
 *   boxer-shim spare [--linked]
 *       a shim started ahead of its run: loaded and already in a session of its own, it waits
 *       on stdin (a socket) for the arguments of `start` (NUL-separated, up to EOF: the caller
 *       shuts its side down for writing, or closes it), then is that shim itself, without
 *       another fork: it says "ok" or "error: MESSAGE" on one line to its stdout once its socket
 *       is ready (or it failed), and its caller reaps it when it exits. Nothing before EOF: it
 *       exits 0. While it waits it makes gRPC's part of its status socket, for a caller that
 *       calls it at once (boxerd). --linked: the caller keeps the socket open as the run's link
 *       and waits through it (boxerctl run): the shim sends "exit" on it once the exit record is
 *       written and deletes the execution when it is closed; gRPC waits for a client.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/log.h"
#include "shim_internal.h"

static void
usage(FILE *f)
{
    fputs("usage: boxer-shim start|run --id ID --bundle DIR --state DIR [options]\n"
          "       boxer-shim spare [--linked]   (reads the arguments of start from stdin)\n"
          "  --runsc PATH            runsc binary (default: runsc in PATH)\n"
          "  --runsc-root DIR        runsc --root (default: STATE/runsc)\n"
          "  --runsc-flag FLAG       a global runsc flag, e.g. --runsc-flag=--platform=ptrace\n"
          "  --wall-clock-ms N       kill the sandbox after N ms (default: never)\n"
          "  --output-limit BYTES    cap of stdout and of stderr each (default: none)\n"
          "  --memory-bytes N        memory limit of the program (default: none)\n"
          "  --cpu-millicores N      CPU limit, 1000 = one core (default: none)\n"
          "  --pids N                guest processes and threads (default: none)\n"
          "  --ignore-cgroups        enforce no limits (the exit record says so)\n"
          "  --runsc-debug           runsc's debug logs in STATE/runsc-debug/\n"
          "  --linger-secs N         after the exit, wait N s for Delete (default 300)\n"
          "  --remove-state          once deleted (or after the linger time), unmount\n"
          "                          STATE/" SHIM_VIEW_NAME " and remove STATE itself\n"
          "  --log-level LEVEL       error, warn, info or debug (default info)\n",
          f);
}

/* The parent's side of `start`: waits for the daemon's "ok" or error line. */
static int
await_ready(int fd, const struct shim_opts *o)
{
    char buf[512];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (strncmp(buf, "ok\n", 3) == 0) {
        printf("%s/%s\n", o->state_dir, SHIM_SOCKET_NAME);
        return 0;
    }
    if (len == 0)
        fprintf(stderr, "boxer-shim: the shim died during start-up (see %s/%s)\n", o->state_dir,
                SHIM_LOG_NAME);
    else
        fprintf(stderr, "boxer-shim: %s", strncmp(buf, "error: ", 7) == 0 ? buf + 7 : buf);
    return 1;
}

/* The daemon's standard streams: nothing in, its log lines to STATE/shim.log. */
static int
daemon_stdio(const struct shim_opts *o)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", o->state_dir, SHIM_LOG_NAME);
    int logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (logfd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(logfd, 2) < 0)
        return -1;
    close(logfd);
    close(null);
    return 0;
}

/* The daemon's arguments, space-separated, in its log (debug level): a spare's came on its
 * stdin, and `ps` cannot show them. */
static void
log_args(int argc, char **argv)
{
    if (!bx_log_enabled(BX_LOG_DEBUG))
        return;
    char buf[SHIM_SPARE_MAX_BYTES + 1];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 1; i < argc && len < sizeof(buf) - 1; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i > 1 ? " " : "", argv[i]);
    bx_log_debug("arguments", "args=\"%s\"", buf);
}

/* The daemon, in a session of its own already: a spare itself, or the child of `start`. Takes
 * over `*prepared` (a spare's RPC server, or NULL) and `link_fd` (a linked spare's, or -1). */
static int
start_here(const struct shim_opts *o, int ready_fd, struct shim_rpc_server **prepared, int link_fd,
           int argc, char **argv)
{
    if (chdir("/") < 0 || daemon_stdio(o) < 0) {
        dprintf(ready_fd, "error: detach: %s\n", strerror(errno));
        if (link_fd >= 0)
            close(link_fd);
        return 1;
    }
    umask(022);
    log_args(argc, argv);
    struct shim_rpc_server *srv = *prepared;
    *prepared = NULL;
    return shim_main(o, ready_fd, srv, link_fd);
}

static int
start_detached(const struct shim_opts *o, int argc, char **argv)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        perror("boxer-shim: pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("boxer-shim: fork");
        return 1;
    }
    if (pid > 0) {
        close(ready[1]);
        return await_ready(ready[0], o);
    }
    close(ready[0]);
    if (setsid() < 0) {
        dprintf(ready[1], "error: detach: %s\n", strerror(errno));
        _exit(1);
    }
    struct shim_rpc_server *none = NULL;
    _exit(start_here(o, ready[1], &none, -1, argc, argv));
}

/* A spare that cannot start: the message on stderr (its caller's log) and as its ready line. */
static int
spare_fail(const char *msg)
{
    fprintf(stderr, "boxer-shim: spare: %s\n", msg);
    dprintf(STDOUT_FILENO, "error: %s\n", msg);
    return 2;
}

/* `spare`: the arguments of `start` from stdin, as an argv of `boxer-shim start ...` in static
 * storage. 0 with *argc = 0 when stdin ended empty (the spare was let go). */
static int
spare_args(int *argc, char ***argv)
{
    static char buf[SHIM_SPARE_MAX_BYTES + 2]; /* one more than a spare takes: "too long" */
    static char *args[SHIM_SPARE_MAX_ARGS + 2];
    size_t len = 0;
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (len += (size_t)n) == sizeof(buf) - 1)
            return -1;
    }
    *argc = 0;
    if (len == 0)
        return 0;
    buf[len] = '\0';
    args[(*argc)++] = "boxer-shim";
    for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
        if (*argc == SHIM_SPARE_MAX_ARGS + 1)
            return -1;
        args[(*argc)++] = buf + i;
    }
    args[*argc] = NULL;
    *argv = args;
    return 0;
}

/* main's work; *prepared is a spare's RPC server until shim_main takes it over. */
static int
shim_cmd(int argc, char **argv, struct shim_rpc_server **prepared)
{
    /* gRPC logs its own errors to stderr (the shim's log) unless told otherwise. */
    setenv("GRPC_VERBOSITY", getenv("GRPC_VERBOSITY") ? getenv("GRPC_VERBOSITY") : "ERROR", 1);
    int ready_fd = -1, link_fd = -1;
    if (argc >= 2 && strcmp(argv[1], "spare") == 0) {
        bool linked = argc == 3 && strcmp(argv[2], "--linked") == 0;
        if (argc > 2 && !linked)
            return spare_fail("spare takes no option but --linked");
        /* Leave the caller's session now, while waiting: no fork is left for the run. */
        if (setsid() < 0)
            return spare_fail("setsid failed: a spare must not lead a process group");
        /* Everything of gRPC that does not need the socket's path (its threads, the server) is
         * made now, while nothing waits for it, not beside `runsc run`'s own start-up. Its
         * threads are made with the shim's signals blocked (a thread inherits the mask); this
         * thread takes them as before until it is the shim. */
        sigset_t set, old;
        shim_signals(&set);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        struct bx_err perr = BX_ERR_INIT;
        /* A linked spare's caller hands it the arguments at once and does not call it. */
        int prc = linked ? 0 : shim_rpc_server_prepare(prepared, &perr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (prc < 0) {
            char msg[sizeof(perr.msg) + 64];
            snprintf(msg, sizeof(msg), "cannot prepare its RPC server: %s", perr.msg);
            return spare_fail(msg);
        }
        char *word = argv[1];
        if (spare_args(&argc, &argv) < 0)
            return spare_fail("cannot read its arguments (too long or too many?)");
        if (argc == 0)
            return 0;
        if (strcmp(argv[1], "start") != 0)
            return spare_fail("the arguments must be those of start");
        if (linked && (link_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) < 0)
            return spare_fail("cannot keep its link");
        /* stdin was the caller's socket: the rest reads /dev/null, as a spawned `start` does */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0)
            return spare_fail("cannot open /dev/null");
        close(null);
        /* stdout is the ready line's pipe; daemon_stdio() points it at /dev/null later */
        ready_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (ready_fd < 0)
            return spare_fail("cannot keep its stdout");
        memcpy(word, "start", 5); /* what `ps` shows: it is no spare any more */
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    struct shim_opts o;
    struct bx_err err = BX_ERR_INIT;
    if (shim_opts_parse(argc, argv, &o, &err) < 0) {
        fprintf(stderr, "boxer-shim: %s\n", err.msg);
        if (ready_fd >= 0)
            dprintf(ready_fd, "error: %s\n", err.msg);
        else
            usage(stderr);
        return 2;
    }
    enum bx_log_level level = BX_LOG_INFO;
    if (bx_log_level_parse(o.log_level, &level) < 0) {
        fprintf(stderr, "boxer-shim: --log-level: unknown level %s\n", o.log_level);
        if (ready_fd >= 0)
            dprintf(ready_fd, "error: --log-level: unknown level %s\n", o.log_level);
        return 2;
    }
    bx_log_init("boxer-shim", level);
    bx_log_set_exec(o.exec_id);
    if (ready_fd >= 0)
        return start_here(&o, ready_fd, prepared, link_fd, argc, argv);
    if (o.foreground)
        return shim_main(&o, -1, NULL, -1);
    return start_detached(&o, argc, argv);
}

int
main(int argc, char **argv)
{
    struct shim_rpc_server *prepared = NULL;
    int rc = shim_cmd(argc, argv, &prepared);
    shim_rpc_server_stop(prepared); /* a spare let go or refused before it became the shim */
    return rc;
}
