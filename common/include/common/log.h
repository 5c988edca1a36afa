/* Logging: one line per event on stderr (or a chosen fd), in key=value form:
 *
 *   ts=2026-11-23T09:19:05.123Z level=info prog=boxerd req=r-12 msg="request done" status=200
 *
 * `msg` is quoted for the caller; the rest of the line is the caller's format, which must itself
 * be key=value pairs (use bx_log_quote() for values that may hold spaces or quotes). Each line is
 * written with one write(2), so lines of concurrent threads never interleave. A thread may carry
 * tags (exec=, req=) that are added to every line it logs. Never log request bodies, credentials
 * or a sandbox's output: those are data, not logs. Thread-safe after bx_log_init().
 */
#ifndef BOXER_COMMON_LOG_H
#define BOXER_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum bx_log_level {
    BX_LOG_ERROR = 0,
    BX_LOG_WARN = 1,
    BX_LOG_INFO = 2,
    BX_LOG_DEBUG = 3,
};

/* Sets the program name shown as prog= and the threshold (default "boxer", info). Call once,
 * before threads start. */
void bx_log_init(const char *prog, enum bx_log_level level);

void bx_log_set_level(enum bx_log_level level);
enum bx_log_level bx_log_get_level(void);
bool bx_log_enabled(enum bx_log_level level);

/* Sends lines to `fd` instead of stderr (the fd stays the caller's). */
void bx_log_set_fd(int fd);

/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 for anything else. */
int bx_log_level_parse(const char *s, enum bx_log_level *out);

/* Sets this thread's tags: `exec` and `req` are printed on every line it logs; NULL clears. */
void bx_log_set_exec(const char *exec_id);
void bx_log_set_req(const char *req_id);

/* Quotes `s` as a log value into buf when it holds spaces, quotes, '=' or control characters
 * ("a b" -> "\"a b\""); returns buf, truncated to fit. */
const char *bx_log_quote(char *buf, size_t size, const char *s);

void bx_log_write(enum bx_log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define bx_log_error(msg, ...) bx_log_write(BX_LOG_ERROR, (msg), "" __VA_ARGS__)
#define bx_log_warn(msg, ...) bx_log_write(BX_LOG_WARN, (msg), "" __VA_ARGS__)
#define bx_log_info(msg, ...) bx_log_write(BX_LOG_INFO, (msg), "" __VA_ARGS__)
#define bx_log_debug(msg, ...)                                                                     \
    do {                                                                                           \
        if (bx_log_enabled(BX_LOG_DEBUG))                                                          \
            bx_log_write(BX_LOG_DEBUG, (msg), "" __VA_ARGS__);                                     \
    } while (0)

#endif
