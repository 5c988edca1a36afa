/* Fuzzes POST /run's body validation: any bytes either give a request whose strings are NUL-free
 * and whose limits are not negative, or BX_EINVAL with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bx_config cfg;
    static int loaded;
    if (!loaded) {
        struct bx_err e = BX_ERR_INIT;
        const char *text = "{\"max_limits\": {\"memory_mb\": 1024}}";
        if (bx_config_parse(text, strlen(text), "fuzz", &cfg, &e) < 0)
            abort();
        loaded = 1;
    }
    struct run_request r;
    struct bx_err err = BX_ERR_INIT;
    if (run_request_parse((const char *)data, size, &cfg, &r, &err) == 0) {
        if (!r.image || !r.image[0] || !r.cmd || !r.cmd[0] || !r.cmd[0][0])
            abort();
        if (r.limits.memory_mb > 1024 || r.limits.cpu_cores < 0)
            abort();
        for (char **f = r.files; f && *f; f++)
            if ((*f)[0] == '/' || strstr(*f, ".."))
                abort();
        run_request_release(&r);
    } else if (err.code != BX_EINVAL || !err.msg[0]) {
        abort();
    }
    return 0;
}
