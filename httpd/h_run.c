/* POST /run: validated here, executed by the executor while the connection is suspended. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "httpd_internal.h"

void
h_run(struct request *req)
{
    struct bx_err err = BX_ERR_INIT;
    struct run_job *job = calloc(1, sizeof(*job));
    if (!job)
        return reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (run_request_parse(req->body ? req->body : "", req->body_len, &req->d->config, &job->run,
                          &err) < 0) {
        free(job);
        return reply_error(req, reply_status_of(err.code), "%s", err.msg);
    }
    shim_exec_id_new(req->exec_id, sizeof(req->exec_id));
    job->req = req;
    req->job = job;
    /* Suspended before it is queued: the worker's resume can never come first. */
    req->suspended = true;
    MHD_suspend_connection(req->conn);
    if (executor_submit(req->d->exec, job, &err) < 0) {
        req->job = NULL;
        run_request_release(&job->run);
        free(job);
        reply_error(req, reply_status_of(err.code), "%s", err.msg);
        req->suspended = false;
        MHD_resume_connection(req->conn);
    }
}
