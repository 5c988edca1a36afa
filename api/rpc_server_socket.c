/* The server's socket file: where it may be created, and that it is a socket of mode 0600 from
 * the moment it exists. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "rpc_server_internal.h"

#define RPC_SOCKET_MODE 0600

/* Whether a server listens on the socket at `path`. Only a refused connection proves it dead:
 * anything else (accepted, backlog full, no permission to try) counts as alive. */
static bool
socket_is_live(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
        return true;
    return errno != ECONNREFUSED && errno != ENOENT;
}

/* Checks that the socket's directory exists, so that a missing one is our error, not gRPC's. */
static int
socket_dir_check(const char *path, struct bx_err *err)
{
    cleanup_free char *dir = strdup(path);
    if (!dir)
        return bx_err_set(err, BX_ENOMEM, "socket path");
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "socket directory %s", dir);
    if (!S_ISDIR(st.st_mode))
        return bx_err_set(err, BX_ENOENT, "socket directory %s is not a directory", dir);
    return 0;
}

static int
socket_clear_stale(const char *path, struct bx_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return socket_dir_check(path, err);
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "stat %s", path);
    }
    if (!S_ISSOCK(st.st_mode))
        return bx_err_set(err, BX_EEXIST, "%s exists and is not a socket", path);
    if (socket_is_live(path))
        return bx_err_set(err, BX_EBUSY, "%s: another server listens on it", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "remove stale socket %s", path);
    return 0;
}

int
rpc_socket_prepare(const char *path, char **out, struct bx_err *err)
{
    *out = NULL;
    cleanup_free char *abs = NULL;
    if (path[0] == '/') {
        abs = strdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return bx_err_sys(err, bx_err_from_errno(errno), errno, "socket %s: getcwd", path);
        if (asprintf(&abs, "%s/%s", cwd, path) < 0)
            abs = NULL;
    }
    if (!abs)
        return bx_err_set(err, BX_ENOMEM, "socket path");
    char addr[RPC_ADDRESS_MAX];
    int rc = rpc_address(abs, addr, sizeof(addr), err);
    if (rc < 0)
        return rc;
    rc = socket_clear_stale(abs, err);
    if (rc < 0)
        return rc;
    *out = steal_ptr(&abs);
    return 0;
}

bool
rpc_socket_private_umask(mode_t *old)
{
    if (unshare(CLONE_FS) < 0)
        return false;
    *old = umask(0777 & ~RPC_SOCKET_MODE);
    return true;
}

int
rpc_socket_secure(const char *path, struct stat *out, struct bx_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "stat socket %s", path);
    if (!S_ISSOCK(st.st_mode))
        return bx_err_set(err, BX_EEXIST, "%s is not the server's socket", path);
    *out = st;
    if ((st.st_mode & 07777) == RPC_SOCKET_MODE)
        return 0;
    if (fchmodat(AT_FDCWD, path, RPC_SOCKET_MODE, AT_SYMLINK_NOFOLLOW) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "chmod socket %s", path);
    return 0;
}

int
rpc_socket_listen(const char *path, struct bx_err *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return bx_err_set(err, BX_ETOOBIG, "socket path too long: %s", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "socket");
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        return bx_err_sys(err, bx_err_from_errno(e), e, "listen on %s", path);
    }
    return fd;
}

void
rpc_socket_remove(const char *path, const struct stat *bound)
{
    struct stat st;
    if (!S_ISSOCK(bound->st_mode))
        return;
    if (lstat(path, &st) == 0 && st.st_dev == bound->st_dev && st.st_ino == bound->st_ino)
        unlink(path);
}
