/* key=value logging: see common/log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"

#define LOG_LINE_MAX 4096
#define LOG_TAG_MAX 80

static const char *log_prog = "boxer";
static atomic_int log_level = BX_LOG_INFO;
static atomic_int log_fd = STDERR_FILENO;
static _Thread_local char log_exec[LOG_TAG_MAX];
static _Thread_local char log_req[LOG_TAG_MAX];

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
bx_log_init(const char *prog, enum bx_log_level level)
{
    if (prog && *prog)
        log_prog = prog;
    bx_log_set_level(level);
}

void
bx_log_set_level(enum bx_log_level level)
{
    if (level < BX_LOG_ERROR)
        level = BX_LOG_ERROR;
    if (level > BX_LOG_DEBUG)
        level = BX_LOG_DEBUG;
    atomic_store(&log_level, level);
}

enum bx_log_level
bx_log_get_level(void)
{
    return (enum bx_log_level)atomic_load(&log_level);
}

bool
bx_log_enabled(enum bx_log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

void
bx_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

int
bx_log_level_parse(const char *s, enum bx_log_level *out)
{
    for (size_t i = 0; s && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum bx_log_level)i;
            return 0;
        }
    }
    return -1;
}

static void
set_tag(char *tag, const char *value)
{
    if (!value) {
        tag[0] = '\0';
        return;
    }
    snprintf(tag, LOG_TAG_MAX, "%s", value);
}

void
bx_log_set_exec(const char *exec_id)
{
    set_tag(log_exec, exec_id);
}

void
bx_log_set_req(const char *req_id)
{
    set_tag(log_req, req_id);
}

static bool
needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return true;
    }
    return false;
}

const char *
bx_log_quote(char *buf, size_t size, const char *s)
{
    if (size == 0)
        return buf;
    if (!s)
        s = "";
    if (!needs_quotes(s)) {
        snprintf(buf, size, "%s", s);
        return buf;
    }
    size_t n = 0;
    /* Room is kept for the closing quote and the NUL. */
    buf[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 6 < size; p++) {
        if (*p == '"' || *p == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)*p;
        } else if (*p == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else if (*p < ' ' || *p == 0x7f) {
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *p);
        } else {
            buf[n++] = (char)*p;
        }
    }
    if (size >= 2 && n + 1 < size)
        buf[n++] = '"';
    buf[n < size ? n : size - 1] = '\0';
    return buf;
}

static size_t append(char *line, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t
append(char *line, size_t n, const char *fmt, ...)
{
    if (n >= LOG_LINE_MAX)
        return n;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line + n, LOG_LINE_MAX - n, fmt, ap);
    va_end(ap);
    if (w < 0)
        return n;
    n += (size_t)w;
    return n < LOG_LINE_MAX ? n : LOG_LINE_MAX - 1;
}

void
bx_log_write(enum bx_log_level level, const char *msg, const char *fmt, ...)
{
    if (!bx_log_enabled(level))
        return;
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n = append(line, n, ".%03ldZ level=%s prog=%s", ts.tv_nsec / 1000000L,
               level_names[level < 0 || level > BX_LOG_DEBUG ? BX_LOG_ERROR : level], log_prog);
    char q[512];
    if (log_req[0])
        n = append(line, n, " req=%s", bx_log_quote(q, sizeof(q), log_req));
    if (log_exec[0])
        n = append(line, n, " exec=%s", bx_log_quote(q, sizeof(q), log_exec));
    n = append(line, n, " msg=%s", bx_log_quote(q, sizeof(q), msg));
    if (fmt && *fmt) {
        n = append(line, n, " ");
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
        if (w > 0)
            n = n + (size_t)w < sizeof(line) ? n + (size_t)w : sizeof(line) - 1;
    }
    /* A line never holds a raw newline: a caller's value cannot forge another line. */
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    (void)bx_write_all(atomic_load(&log_fd), line, n);
}
