/* Start-up (and the end of a shutdown's grace period): whatever is in home/run belongs to no
 * client any more. Live shims are told to delete their sandbox; views are unmounted; cgroups
 * and run directories removed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "httpd_internal.h"
#include "shim_internal.h"

static void
reconcile_one(const char *run_dir, const char *id)
{
    char dir[PATH_MAX], sock[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/%s", run_dir, id);
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    pid_t pid = shim_pid_alive(dfd);
    if (pid) {
        snprintf(sock, sizeof(sock), "%s/%s", dir, SHIM_SOCKET_NAME);
        struct shim_rpc_client *cl = NULL;
        Boxer__Shim__V1__ExitRecord *rec = NULL;
        struct bx_err err = BX_ERR_INIT;
        if (shim_rpc_client_open(sock, &cl, &err) < 0 ||
            shim_rpc_client_delete(cl, id, 15000, &rec, &err) < 0) {
            bx_log_warn("a shim does not answer; killing it", "exec=%s pid=%d error=\"%s\"", id,
                        (int)pid, err.msg);
            kill(pid, SIGKILL);
        }
        if (rec)
            boxer__shim__v1__exit_record__free_unpacked(rec, NULL);
        shim_rpc_client_close(cl);
    }
    shim_cgroup_remove_stale(id, dir);
    struct bx_err err = BX_ERR_INIT;
    if (shim_run_dir_remove(dir, &err) < 0)
        bx_log_warn("cannot remove a run directory", "exec=%s error=\"%s\"", id, err.msg);
    else
        bx_log_info("removed a run left behind", "exec=%s shim_was_alive=%d", id, pid != 0);
}

void
reconcile_runs(struct boxerd *d)
{
    char run_dir[PATH_MAX];
    snprintf(run_dir, sizeof(run_dir), "%s/run", d->config.home);
    cleanup_dir DIR *dir = bx_opendir_at(AT_FDCWD, run_dir);
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.' || de->d_type != DT_DIR)
            continue;
        reconcile_one(run_dir, de->d_name);
    }
}
