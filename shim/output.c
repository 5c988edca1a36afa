/* Capping the sandbox's output: the first `cap` bytes of each stream are kept, the rest is
 * counted as overflow (and makes the shim stop the sandbox at once). */
#include <errno.h>
#include <string.h>

#include "common/fs.h"
#include "shim_internal.h"

int
shim_output_take(struct shim_output *o, const void *buf, size_t len, struct bx_err *err)
{
    size_t keep = len;
    if (o->cap && o->kept + len > o->cap) {
        keep = (size_t)(o->cap - o->kept);
        o->overflow = true;
    }
    if (keep && bx_write_all(o->fd, buf, keep) < 0)
        return bx_err_sys(err, BX_EIO, errno, "write output");
    o->kept += keep;
    return 0;
}

void
shim_tail_append(char *tail, size_t size, size_t *len, const char *buf, size_t n)
{
    size_t cap = size - 1;
    if (n >= cap) {
        memcpy(tail, buf + n - cap, cap);
        *len = cap;
    } else {
        if (*len + n > cap) {
            size_t drop = *len + n - cap;
            memmove(tail, tail + drop, *len - drop);
            *len -= drop;
        }
        memcpy(tail + *len, buf, n);
        *len += n;
    }
    tail[*len] = '\0';
}
