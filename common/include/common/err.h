/* The error type every fallible Boxer function fills (crun's convention, caller-owned).
 *
 * A function returns 0 or a negative BX_E* code and fills the `struct bx_err` passed last. While
 * an error unwinds, each level adds its context in front with bx_err_prefix(), so that the top
 * sees "pull python:3.12-slim: fetch blob sha256:ab..: HTTP 503". A function either returns an
 * error or logs it, never both. All functions here are thread-safe; `err` may be NULL.
 */
#ifndef BOXER_COMMON_ERR_H
#define BOXER_COMMON_ERR_H

#include <stddef.h>

enum bx_err_code {
    BX_OK = 0,
    BX_EINVAL = -1,        /* invalid input from the caller or the outside */
    BX_ENOENT = -2,        /* something named does not exist */
    BX_EEXIST = -3,        /* something exists that must not */
    BX_EIO = -4,           /* a file-system or device operation failed */
    BX_ENOMEM = -5,        /* out of memory */
    BX_ETOOBIG = -6,       /* a size bound was passed */
    BX_ETIMEDOUT = -7,     /* a deadline passed */
    BX_ENET = -8,          /* a network operation failed */
    BX_EAUTH = -9,         /* authentication was refused */
    BX_EDIGEST = -10,      /* content did not match its digest */
    BX_EUNSUPPORTED = -11, /* a valid but unsupported request or platform */
    BX_ERUNTIME = -12,     /* the sandbox runtime failed */
    BX_EBUSY = -13,        /* a resource is in use or a queue is full */
    BX_EPERM = -14,        /* not allowed */
    BX_ECANCELED = -15,    /* stopped on request */
    BX_EINTERNAL = -16,    /* a bug or an impossible state */
};

#define BX_ERR_MSG_MAX 256

struct bx_err {
    int code;      /* 0 or an enum bx_err_code */
    int sys_errno; /* the errno behind the error, 0 when there is none */
    char msg[BX_ERR_MSG_MAX];
};

#define BX_ERR_INIT                                                                                \
    {                                                                                              \
        0, 0,                                                                                      \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Sets the error (replacing any earlier one) and returns `code`, so `return bx_err_set(...)`. */
int bx_err_set(struct bx_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like bx_err_set(), with ": <strerror(errnum)>" appended and sys_errno set to `errnum`. */
int bx_err_sys(struct bx_err *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Puts "<context>: " in front of the message and returns the error's code (BX_EINTERNAL when
 * the error was never set, so a forgotten bx_err_set() cannot turn into success). */
int bx_err_prefix(struct bx_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void bx_err_clear(struct bx_err *err);

/* A stable lower-case name for a code ("invalid", "not_found", ...); never NULL. */
const char *bx_err_code_name(int code);

/* The BX_E* code that best describes an errno value (ENOENT -> BX_ENOENT, ...). */
int bx_err_from_errno(int errnum);

#endif
