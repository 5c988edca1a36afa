/* Libraries loaded on first use. libcurl and libarchive (and the ~40 libraries they pull in)
 * are needed only to download and unpack an image, libcrypto only to check what was downloaded;
 * a run of a cached image needs none of them. Linked normally, they cost every boxerctl start
 * ~12 ms of dynamic linking (libcrypto alone ~2 ms) and boxerd a few MB of resident memory. So
 * liboci calls them through the stubs in lazy_curl.c, lazy_archive.c and lazy_crypto.c, which
 * load the library with dlopen() when one of its functions is first
 * called and forward to it. The stubs have the libraries' own names and prototypes (the
 * compiler checks them against the headers), so the callers are unchanged. */
#ifndef BOXER_OCI_LAZY_H
#define BOXER_OCI_LAZY_H

#include <stdbool.h>

/* One library: its soname, the names of the functions wanted, where their addresses go. */
struct lazy_lib {
    const char *soname;
    const char *const *names;
    void **slots;
    unsigned n;
    bool loaded;     /* every function found */
    char error[256]; /* why not, when !loaded */
};

/* Loads `lib` once (any number of threads may call this); true when every function was found.
 * A failure is logged once and kept in lib->error. */
bool lazy_load(struct lazy_lib *lib);

/* For a stub that cannot report an error: the library is needed now, so a failure to load it
 * (a broken installation) ends the process with the reason. */
void lazy_need(struct lazy_lib *lib);

/* X-macro helpers for a library's list of function names. */
#define LAZY_INDEX(name) LAZY_I_##name,
#define LAZY_NAME(name) #name,
/* Defines `lib`, the struct lazy_lib of `soname` for the functions NAMES(X) lists (X-macro). */
#define LAZY_LIB(lib, soname, NAMES)                                                               \
    enum { NAMES(LAZY_INDEX) lib##_n };                                                            \
    static const char *const lib##_names[] = {NAMES(LAZY_NAME)};                                   \
    static void *lib##_slots[lib##_n];                                                             \
    static struct lazy_lib lib = {soname, lib##_names, lib##_slots, lib##_n, false, ""}
/* `name` of `lib` as a pointer to a function of prototype `ret params`. */
#define LAZY_FN(lib, ret, name, params) ((ret(*) params)(lib).slots[LAZY_I_##name])
/* A stub that forwards to the loaded function (the library is loaded first). */
#define LAZY_FORWARD(lib, ret, name, params, args)                                                 \
    ret name params                                                                                \
    {                                                                                              \
        lazy_need(&(lib));                                                                         \
        return LAZY_FN(lib, ret, name, params) args;                                               \
    }
#define LAZY_FORWARD_VOID(lib, name, params, args)                                                 \
    void name params                                                                               \
    {                                                                                              \
        lazy_need(&(lib));                                                                         \
        LAZY_FN(lib, void, name, params) args;                                                     \
    }

#endif
