/* boxerd's internals: the HTTP server (server.c), the route handlers (h_*.c), the run request
 * (run_request.c), the executor that runs requests through boxer-shims (executor.c), the file
 * store (store.c), persisting /output (persist.c) and the start-up reconciliation
 * (reconcile.c). */
#ifndef BOXER_HTTPD_INTERNAL_H
#define BOXER_HTTPD_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "oci/image.h"
#include "oci/registry.h"
#include "shim/launch.h"

#define HTTPD_JSON_MAX_BYTES (1u << 20)
#define HTTPD_MAX_FILES 256
#define HTTPD_MAX_ENV 4096
#define HTTPD_MAX_ARGS 4096

struct executor;

/* The daemon: configuration and what every handler shares. */
struct boxerd {
    struct bx_config config;
    const char *runsc;    /* configured path or "runsc" */
    const char *platform; /* probed at start-up */
    char files_dir[4096]; /* home/files: the file store */
    int files_fd;
    char swagger_dir[4096]; /* the Swagger UI's assets; "" when not installed */
    char openapi_path[4096];
    struct oci_registry *registry;
    struct oci_store *store;
    struct executor *exec;
    struct MHD_Daemon *mhd;
    bool stopping;
};

/* ---- one HTTP request (server.c) ---- */

enum httpd_body_kind { BODY_NONE, BODY_JSON, BODY_UPLOAD };

struct request {
    struct boxerd *d;
    struct MHD_Connection *conn;
    char id[16]; /* req=<id> in the logs */
    const char *method;
    const char *url;
    int64_t started_ms;
    /* A JSON body, read whole up to HTTPD_JSON_MAX_BYTES. */
    char *body;
    size_t body_len;
    bool body_too_big;
    /* An upload (files.c) */
    struct upload *upload;
    /* The answer, once known: queued on the next call of the access handler. */
    struct MHD_Response *response;
    unsigned int status;
    char exec_id[SHIM_EXEC_ID_SIZE];
    struct run_job *job; /* a /run being executed */
    bool suspended;
    bool answered;
};

/* Replies: each makes req->response and req->status. */
void reply_json(struct request *req, unsigned int status, json_t *body); /* steals body */
void reply_error(struct request *req, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The HTTP status for a BX_E* code (one table for the whole daemon). */
unsigned int reply_status_of(int code);
/* A JSON string of any bytes: invalid UTF-8 is replaced by U+FFFD, so a program's output
 * always makes valid JSON. */
json_t *reply_bytes_string(const char *buf, size_t len);

int server_start(struct boxerd *d, struct bx_err *err);
void server_stop(struct boxerd *d);
/* Resumes a request suspended while its run executed (thread-safe). */
void server_resume(struct request *req);

/* ---- handlers ---- */

void h_healthz(struct request *req);
void h_run(struct request *req);
void h_files_get(struct request *req);
void h_files_delete(struct request *req);
/* POST /files streams: upload_begin on the first call, upload_data with each chunk, upload_end
 * when the body is complete (it replies). */
int h_files_upload_begin(struct request *req);
void h_files_upload_data(struct request *req, const char *data, size_t size);
void h_files_upload_end(struct request *req);
void h_files_upload_free(struct request *req);
void h_swagger(struct request *req);
void h_openapi(struct request *req);

/* ---- the run request (run_request.c) ---- */

struct run_request {
    char *image;
    char **cmd;              /* NULL-terminated */
    char **env;              /* NULL-terminated, may be NULL */
    char *cwd;               /* NULL: the image's WorkingDir, else "/" */
    struct bx_limits limits; /* resolved: request, else defaults; -1 or 0: unlimited */
    char **files;            /* cleaned store paths, NULL-terminated, may be NULL */
    bool persist;
};

/* Validates a /run body against the configuration. BX_EINVAL with a message for the client
 * (400). Does not check that files exist (the store does). */
int run_request_parse(const char *body, size_t len, const struct bx_config *cfg,
                      struct run_request *out, struct bx_err *err);
void run_request_release(struct run_request *r);

/* ---- the file store (store.c) ---- */

/* Cleans and checks a store path from a client: relative, no "..", no NUL, not empty.
 * `for_write`: also refuses paths under output/ (written only by runs). */
int store_path_check(const char *in, bool for_write, char *out, size_t size, struct bx_err *err);

/* ---- the executor (executor.c) ---- */

struct run_job {
    struct request *req; /* resumed when done */
    struct run_request run;
    /* The outcome */
    unsigned int status;
    json_t *body;
};

int executor_new(struct boxerd *d, struct executor **out, struct bx_err *err);
/* Queues a job; BX_EBUSY when the queue is full. */
int executor_submit(struct executor *e, struct run_job *job, struct bx_err *err);
/* Lets the running jobs finish within `grace_s`, then stops them; frees the executor. */
void executor_shutdown(struct executor *e, int grace_s);
/* Runs one job to its end (in a worker thread). */
void executor_run_job(struct boxerd *d, struct run_job *job);

/* ---- persisting /output (persist.c) ---- */

/* Copies the regular files under `output_dir` into the store at output/<exec_id>/, keeping
 * subdirectories, never following a symlink, at most `limit` bytes in all. */
int persist_output(int store_fd, const char *output_dir, const char *exec_id, uint64_t limit,
                   struct bx_err *err);

/* ---- start-up (reconcile.c) ---- */

/* Ends what a previous boxerd left in home/run: live shims are deleted, their views
 * unmounted, their cgroups and directories removed. */
void reconcile_runs(struct boxerd *d);

#endif
