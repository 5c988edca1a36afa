/* boxerctl's shared state: the parsed global options and what commands open lazily. */
#ifndef BOXER_CTL_INTERNAL_H
#define BOXER_CTL_INTERNAL_H

#include <stdbool.h>

#include "common/config.h"
#include "common/err.h"
#include "oci/image.h"
#include "oci/registry.h"

struct ctl {
    struct bx_config config;
    bool json;            /* --json: machine-readable output */
    const char *platform; /* --platform, else the config's image_platform */
    struct oci_registry *registry;
    struct oci_store *store;
};

/* Opens the registry client and the image store of the configured home. */
int ctl_open_store(struct ctl *c, struct bx_err *err);

/* Image commands (cmd_image.c). Each returns the process's exit status. */
int ctl_cmd_pull(struct ctl *c, int argc, char **argv);
int ctl_cmd_images(struct ctl *c, int argc, char **argv);
int ctl_cmd_rmi(struct ctl *c, int argc, char **argv);
int ctl_cmd_gc(struct ctl *c, int argc, char **argv);

/* Shim commands (cmd_shim.c): the executions under home/run, each served by a boxer-shim. */
int ctl_cmd_ps(struct ctl *c, int argc, char **argv);
int ctl_cmd_state(struct ctl *c, int argc, char **argv);
int ctl_cmd_wait(struct ctl *c, int argc, char **argv);
int ctl_cmd_kill(struct ctl *c, int argc, char **argv);
int ctl_cmd_logs(struct ctl *c, int argc, char **argv);
int ctl_cmd_delete(struct ctl *c, int argc, char **argv);

/* boxerctl run (cmd_run.c): pull, bundle, shim, wait, output, exit code; no boxerd. */
int ctl_cmd_run(struct ctl *c, int argc, char **argv);

/* The state directory of the execution `id`: <home>/run/<id>. BX_EINVAL for an id that is not
 * one (it must be usable as a path component). */
int ctl_run_dir(const struct ctl *c, const char *id, char *buf, size_t size, struct bx_err *err);

/* Prints "boxerctl: <msg>" on stderr; returns 1. */
int ctl_fail(const struct bx_err *err);

/* "12.3 MB" */
const char *ctl_human_bytes(uint64_t n, char *buf, size_t size);

#endif
