/* libcurl, loaded when liboci first talks to a registry (see lazy.h). */
#include <stdarg.h>

#define CURL_DISABLE_TYPECHECK /* the stubs below are the functions, not the checking macros */
#include <curl/curl.h>

#include "lazy.h"

/* libcurl 7 and 8 are both soname 4. */
#if LIBCURL_VERSION_MAJOR != 7 && LIBCURL_VERSION_MAJOR != 8
#error "libcurl's soname is not libcurl.so.4 for this version"
#endif

#define CURL_NAMES(X)                                                                              \
    X(curl_global_init)                                                                            \
    X(curl_easy_init)                                                                              \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_reset)                                                                             \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_strerror)                                                                          \
    X(curl_free)                                                                                   \
    X(curl_share_init)                                                                             \
    X(curl_share_setopt)                                                                           \
    X(curl_share_cleanup)                                                                          \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_url)                                                                                    \
    X(curl_url_cleanup)                                                                            \
    X(curl_url_get)                                                                                \
    X(curl_url_set)

LAZY_LIB(curl_lib, "libcurl.so.4", CURL_NAMES);

/* The first calls of every path: a library that cannot be loaded is their error. */
CURLcode
curl_global_init(long flags)
{
    if (!lazy_load(&curl_lib))
        return CURLE_FAILED_INIT;
    return LAZY_FN(curl_lib, CURLcode, curl_global_init, (long))(flags);
}

const char *
curl_easy_strerror(CURLcode code)
{
    if (!lazy_load(&curl_lib))
        return curl_lib.error;
    return LAZY_FN(curl_lib, const char *, curl_easy_strerror, (CURLcode))(code);
}

LAZY_FORWARD(curl_lib, CURL *, curl_easy_init, (void), ())
LAZY_FORWARD_VOID(curl_lib, curl_easy_cleanup, (CURL * h), (h))
LAZY_FORWARD_VOID(curl_lib, curl_easy_reset, (CURL * h), (h))
LAZY_FORWARD(curl_lib, CURLcode, curl_easy_perform, (CURL * h), (h))
LAZY_FORWARD_VOID(curl_lib, curl_free, (void *p), (p))
LAZY_FORWARD(curl_lib, CURLSH *, curl_share_init, (void), ())
LAZY_FORWARD(curl_lib, CURLSHcode, curl_share_cleanup, (CURLSH * sh), (sh))
LAZY_FORWARD(curl_lib, struct curl_slist *, curl_slist_append,
             (struct curl_slist * list, const char *data), (list, data))
LAZY_FORWARD_VOID(curl_lib, curl_slist_free_all, (struct curl_slist * list), (list))
LAZY_FORWARD(curl_lib, CURLU *, curl_url, (void), ())
LAZY_FORWARD_VOID(curl_lib, curl_url_cleanup, (CURLU * u), (u))
LAZY_FORWARD(curl_lib, CURLUcode, curl_url_get,
             (CURLU * u, CURLUPart what, char **part, unsigned int flags), (u, what, part, flags))
LAZY_FORWARD(curl_lib, CURLUcode, curl_url_set,
             (CURLU * u, CURLUPart what, const char *part, unsigned int flags),
             (u, what, part, flags))

/* The variadic ones pass their one argument on with the type libcurl reads for the option: an
 * option's number says its type (curl.h's CURLOPTTYPE_* bases). */
CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
    lazy_need(&curl_lib);
    CURLcode (*fn)(CURL *, CURLoption, ...) =
        LAZY_FN(curl_lib, CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...));
    va_list ap;
    va_start(ap, opt);
    CURLcode rc;
    if (opt < CURLOPTTYPE_OBJECTPOINT)
        rc = fn(h, opt, va_arg(ap, long));
    else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
        rc = fn(h, opt, va_arg(ap, void *));
    else if (opt < CURLOPTTYPE_OFF_T)
        rc = fn(h, opt, va_arg(ap, void (*)(void)));
    else if (opt < CURLOPTTYPE_BLOB)
        rc = fn(h, opt, va_arg(ap, curl_off_t));
    else
        rc = fn(h, opt, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

/* Every CURLINFO_* takes a pointer. */
CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    lazy_need(&curl_lib);
    va_list ap;
    va_start(ap, info);
    void *p = va_arg(ap, void *);
    va_end(ap);
    return LAZY_FN(curl_lib, CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...))(h, info, p);
}

/* SHARE and UNSHARE take an int, the lock functions a function, USERDATA a pointer. */
CURLSHcode
curl_share_setopt(CURLSH *sh, CURLSHoption opt, ...)
{
    lazy_need(&curl_lib);
    CURLSHcode (*fn)(CURLSH *, CURLSHoption, ...) =
        LAZY_FN(curl_lib, CURLSHcode, curl_share_setopt, (CURLSH *, CURLSHoption, ...));
    va_list ap;
    va_start(ap, opt);
    CURLSHcode rc;
    if (opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE)
        rc = fn(sh, opt, va_arg(ap, int));
    else if (opt == CURLSHOPT_LOCKFUNC || opt == CURLSHOPT_UNLOCKFUNC)
        rc = fn(sh, opt, va_arg(ap, void (*)(void)));
    else
        rc = fn(sh, opt, va_arg(ap, void *));
    va_end(ap);
    return rc;
}
