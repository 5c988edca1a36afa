/* Boxer's configuration: the fields of the Getting Started guide with their defaults, the
 * registry settings, and the maximum limits a request may ask for.
 *
 * Load order: an explicit path (--config), else $BOXER_CONFIG, else ~/.boxer/config.json; a
 * missing default file means built-in defaults, a missing explicit file is an error. A file that
 * is not valid JSON, or a field of the wrong type, is an error naming the file and the line; an
 * unknown key is a warning. Not thread-safe while loading; read-only afterwards.
 */
#ifndef BOXER_COMMON_CONFIG_H
#define BOXER_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* A limit of -1 means "no limit" (null in the file). */
#define BX_UNLIMITED (-1)

struct bx_limits {
    double cpu_cores; /* <= 0: no limit */
    int64_t memory_mb;
    int64_t wall_clock_secs;
    int64_t pids_limit;
    int64_t nofile;
};

struct bx_mirror {
    char *domain; /* "docker.io" */
    char *url;    /* "http://127.0.0.1:5000" */
};

struct bx_registry_auth {
    char *registry;
    char *username;
    char *password;
};

struct bx_config {
    char *path;        /* the file that was read, NULL for built-in defaults */
    char *home;        /* absolute; default ~/.boxer */
    char *runsc_path;  /* NULL: looked up in PATH */
    char *platform;    /* gVisor platform; default "systrap" */
    char *listen_addr; /* default ":8080" */
    bool ignore_cgroups;
    uint64_t output_limit_bytes;  /* per stream; default 10485760 */
    uint64_t upload_limit_bytes;  /* default 10485760 */
    struct bx_limits defaults;    /* 1.0, 256, 30, 64, 256 */
    struct bx_limits max;         /* the most a request may ask for; default unlimited */
    int64_t max_concurrent_runs;  /* default 2 * cores */
    int64_t max_queued_runs;      /* default 64 */
    uint64_t persist_limit_bytes; /* /output copied with persist; default 104857600 */
    struct bx_mirror *mirrors;    /* registry_mirrors, in order */
    size_t n_mirrors;
    char **insecure_registries;
    size_t n_insecure;
    struct bx_registry_auth *registry_auth;
    size_t n_auth;
    int64_t registry_stall_secs; /* a stalled registry transfer fails after this; default 30 */
    char *image_platform;        /* default "linux/amd64" */
    int64_t image_tag_ttl_secs;  /* default 300 */
    uint64_t max_image_bytes;    /* unpacked size of an image; default 8 GiB */
    char *log_level;             /* default "info" */
};

/* Fills *out from the configuration the load order finds. `explicit_path` may be NULL. */
int bx_config_load(const char *explicit_path, struct bx_config *out, struct bx_err *err);

/* Fills *out from a JSON text (for tests and for `path`'s content); `name` names it in errors. */
int bx_config_parse(const char *text, size_t len, const char *name, struct bx_config *out,
                    struct bx_err *err);

void bx_config_release(struct bx_config *c);

#endif
