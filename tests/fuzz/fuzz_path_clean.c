/* libFuzzer target: bx_path_clean() on any bytes. The result must be clean whatever the input:
 * relative, no "." or ".." components, no empty components, and idempotent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_clean(const char *p)
{
    if (strcmp(p, ".") == 0)
        return;
    if (p[0] == '/')
        abort();
    const char *c = p;
    while (*c) {
        const char *end = strchrnul(c, '/');
        size_t len = (size_t)(end - c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            abort();
        c = *end ? end + 1 : end;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char out[512], again[512];
    struct bx_err err = BX_ERR_INIT;
    for (int reject = 0; reject < 2; reject++) {
        if (bx_path_clean(in, reject, out, sizeof(out), &err) != 0)
            continue;
        check_clean(out);
        if (bx_path_clean(out, true, again, sizeof(again), &err) != 0 || strcmp(out, again) != 0)
            abort();
    }
    free(in);
    return 0;
}
