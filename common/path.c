/* Lexical path cleaning: see bx_path_clean() in common/fs.h. Kept alone so it can be fuzzed. */
#include <string.h>

#include "common/fs.h"

int
bx_path_clean(const char *in, bool reject_dotdot, char *out, size_t out_size, struct bx_err *err)
{
    if (!in || !out || out_size < 2)
        return bx_err_set(err, BX_EINVAL, "path: no room to clean into");
    size_t n = 0; /* bytes used in out, no trailing slash */
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;
        if (len == 2 && start[0] == '.' && start[1] == '.') {
            if (reject_dotdot)
                return bx_err_set(err, BX_EINVAL, "path may not contain '..'");
            /* Climb one component; at the start there is nothing above to climb to. */
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        size_t need = n + (n ? 1 : 0) + len;
        if (need + 1 > out_size)
            return bx_err_set(err, BX_ETOOBIG, "path too long");
        if (n)
            out[n++] = '/';
        memcpy(out + n, start, len);
        n += len;
    }
    if (n == 0)
        out[n++] = '.';
    out[n] = '\0';
    return 0;
}
