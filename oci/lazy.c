/* dlopen()-on-first-use of the libraries liboci needs only to pull (see lazy.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "lazy.h"

static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

bool
lazy_load(struct lazy_lib *lib)
{
    if (__atomic_load_n(&lib->loaded, __ATOMIC_ACQUIRE))
        return true;
    pthread_mutex_lock(&lazy_lock);
    if (!lib->loaded && !lib->error[0]) {
        void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        const char *missing = NULL;
        for (unsigned i = 0; h && i < lib->n && !missing; i++)
            if (!(lib->slots[i] = dlsym(h, lib->names[i])))
                missing = lib->names[i];
        if (!h)
            snprintf(lib->error, sizeof(lib->error), "cannot load %s: %s", lib->soname, dlerror());
        else if (missing)
            snprintf(lib->error, sizeof(lib->error), "%s has no %s", lib->soname, missing);
        else
            __atomic_store_n(&lib->loaded, true, __ATOMIC_RELEASE);
        if (!lib->loaded)
            bx_log_error("a library is missing", "error=\"%s\"", lib->error);
    }
    bool ok = lib->loaded;
    pthread_mutex_unlock(&lazy_lock);
    return ok;
}

void
lazy_need(struct lazy_lib *lib)
{
    if (lazy_load(lib))
        return;
    fprintf(stderr, "boxer: %s\n", lib->error);
    abort();
}
