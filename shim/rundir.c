/* A run directory's removal, the same for the shim (--remove-state), boxerd's reconcile and
 * `boxerctl delete`: the overlay view a launcher mounted in it is unmounted (it may not be
 * mounted), then everything is removed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mount.h>

#include "common/fs.h"
#include "common/log.h"
#include "shim_internal.h"

int
shim_run_dir_remove(const char *dir, struct bx_err *err)
{
    char view[PATH_MAX + 16];
    snprintf(view, sizeof(view), "%s/%s", dir, SHIM_VIEW_NAME);
    if (umount2(view, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
        bx_log_warn("cannot unmount the run's view", "path=%s errno=%d", view, errno);
    return bx_rm_rf(AT_FDCWD, dir, err);
}
