/* Replies: JSON bodies, the error shape {"error": ...}, and the one table from error codes to
 * HTTP statuses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd_internal.h"

unsigned int
reply_status_of(int code)
{
    switch (code) {
    case BX_EINVAL:
        return MHD_HTTP_BAD_REQUEST;
    case BX_ENOENT:
        return MHD_HTTP_NOT_FOUND;
    case BX_ETOOBIG:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case BX_ETIMEDOUT:
        return MHD_HTTP_REQUEST_TIMEOUT;
    case BX_EBUSY:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case BX_EPERM:
        return MHD_HTTP_FORBIDDEN;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

void
reply_json(struct request *req, unsigned int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        text = strdup("{\"error\":\"out of memory\"}");
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    size_t len = text ? strlen(text) : 0;
    /* The body ends with a newline, as curl users expect. */
    char *full = text ? realloc(text, len + 2) : NULL;
    if (full) {
        full[len] = '\n';
        full[len + 1] = '\0';
        len++;
    } else {
        full = text;
    }
    if (req->response)
        MHD_destroy_response(req->response);
    req->response = MHD_create_response_from_buffer(len, full, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    req->status = status;
}

void
reply_error(struct request *req, unsigned int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_json(req, status, json_pack("{s:s%}", "error", msg, strlen(msg)));
}

/* The length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t
utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    unsigned int cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

json_t *
reply_bytes_string(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(s + i, len - i);
        if (!n)
            break;
        i += n;
    }
    if (i == len)
        return json_stringn(buf, len);
    /* Invalid bytes: each becomes U+FFFD (3 bytes). */
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        if (n) {
            memcpy(out + o, s + i, n);
            o += n, i += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}
