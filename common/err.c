/* The caller-owned error type: see common/err.h. */
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Writes "a: b" into dst; a message longer than dst is cut, which is fine for a summary. */
static void
msg_join(char *dst, size_t size, const char *a, const char *b)
{
    const char *parts[] = {a, ": ", b};
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        size_t len = strnlen(parts[i], size - 1 - n);
        memmove(dst + n, parts[i], len);
        n += len;
    }
    dst[n] = '\0';
}

int
bx_err_set(struct bx_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    err->sys_errno = 0;
    return code;
}

int
bx_err_sys(struct bx_err *err, int code, int errnum, const char *fmt, ...)
{
    if (!err)
        return code;
    char buf[BX_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    msg_join(err->msg, sizeof(err->msg), buf, strerror(errnum));
    err->code = code;
    err->sys_errno = errnum;
    return code;
}

int
bx_err_prefix(struct bx_err *err, const char *fmt, ...)
{
    if (!err)
        return BX_EINTERNAL;
    if (err->code == 0) {
        err->code = BX_EINTERNAL;
        snprintf(err->msg, sizeof(err->msg), "unknown error");
    }
    char ctx[BX_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    char old[BX_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof(old));
    msg_join(err->msg, sizeof(err->msg), ctx, old);
    return err->code;
}

void
bx_err_clear(struct bx_err *err)
{
    if (!err)
        return;
    err->code = 0;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}

const char *
bx_err_code_name(int code)
{
    switch (code) {
    case BX_OK:
        return "ok";
    case BX_EINVAL:
        return "invalid";
    case BX_ENOENT:
        return "not_found";
    case BX_EEXIST:
        return "exists";
    case BX_EIO:
        return "io";
    case BX_ENOMEM:
        return "no_memory";
    case BX_ETOOBIG:
        return "too_big";
    case BX_ETIMEDOUT:
        return "timed_out";
    case BX_ENET:
        return "network";
    case BX_EAUTH:
        return "auth";
    case BX_EDIGEST:
        return "digest_mismatch";
    case BX_EUNSUPPORTED:
        return "unsupported";
    case BX_ERUNTIME:
        return "runtime";
    case BX_EBUSY:
        return "busy";
    case BX_EPERM:
        return "not_permitted";
    case BX_ECANCELED:
        return "canceled";
    case BX_EINTERNAL:
        return "internal";
    default:
        return "unknown";
    }
}

int
bx_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0:
        return BX_OK;
    case ENOENT:
    case ENOTDIR:
        return BX_ENOENT;
    case EEXIST:
    case ENOTEMPTY:
        return BX_EEXIST;
    case ENOMEM:
        return BX_ENOMEM;
    case EFBIG:
    case ENAMETOOLONG:
    case ENOSPC:
    case EDQUOT:
        return BX_ETOOBIG;
    case ETIMEDOUT:
        return BX_ETIMEDOUT;
    case EACCES:
    case EPERM:
    case ELOOP:
    case EXDEV:
        return BX_EPERM;
    case EINVAL:
        return BX_EINVAL;
    case EBUSY:
    case EAGAIN:
        return BX_EBUSY;
    case ENOSYS:
    case EOPNOTSUPP:
        return BX_EUNSUPPORTED;
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return BX_ENET;
    default:
        return BX_EIO;
    }
}
