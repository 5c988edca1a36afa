/* The HTTP layer of the registry client: one request at a time over a shared pool of curl
 * handles and connections. Private to oci/. Thread-safe. */
#ifndef BOXER_OCI_HTTP_INTERNAL_H
#define BOXER_OCI_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "oci/digest.h"
#include "oci/registry.h"

struct http_client;

int http_client_new(long connect_timeout_ms, long stall_timeout_s, struct http_client **out,
                    struct bx_err *err);
void http_client_free(struct http_client *c);

struct http_request {
    const char *url;
    const char *accept;        /* Accept header, or NULL */
    const char *authorization; /* Authorization header value for url's origin only, or NULL */
    uint64_t range_from;       /* > 0: ask for bytes from this offset on */
    size_t max_body;           /* bound on a body kept in memory */
    oci_blob_sink_fn sink;     /* when set, a 2xx body streams here instead of memory */
    void *sink_ctx;
    uint64_t max_sink_bytes; /* bound on what the sink may receive in total, counting range_from */
};

struct http_response {
    long status;
    char content_type[128];
    char www_authenticate[1024];
    char url[2048]; /* the URL that answered, after redirects */
    char *body;     /* owned, NUL-terminated: the body when not streamed (errors included) */
    size_t len;
    uint64_t sunk; /* bytes the sink received (after skipping what range_from covered) */
};
void http_response_release(struct http_response *resp);

/* Performs a GET, following up to 5 redirects and dropping `authorization` when one leads to
 * another origin. Returns 0 with resp filled for any HTTP status; an error only when no status
 * came back (BX_ENET, BX_ETIMEDOUT for a stall), a bound was passed (BX_ETOOBIG), or the sink
 * refused (its code). A 200 answered to a range request is skipped up to range_from, so the
 * sink sees each byte once. */
int http_get(struct http_client *c, const struct http_request *req, struct http_response *resp,
             struct bx_err *err);

/* Percent-encodes s into out for a query string; returns out. */
const char *http_query_escape(const char *s, char *out, size_t size);

#endif
