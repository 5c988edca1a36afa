/* A registry client over libcurl: manifests and blobs of the distribution API, with the
 * mirrors, plain-HTTP registries and credentials users of docker and containerd configure.
 *
 * For a reference on <domain>, the client tries each mirror configured for <domain> in order,
 * then the registry itself (https://<domain>, registry-1.docker.io for docker.io; plain HTTP
 * when the registry is listed as insecure or is on loopback, as docker allows by default).
 * Authentication follows the challenge of a 401: Basic with configured credentials, or the
 * Bearer token flow (the token is cached until it expires). Network errors and 5xx are retried
 * with backoff; a blob transfer cut off midway resumes with a Range request, so what was already
 * delivered to the sink is never delivered twice. Redirects are followed (at most 5), and
 * credentials are never sent to another host than the one they were meant for.
 *
 * Every size read from the network is bounded before memory is allocated for it, and every
 * byte is checked against its digest: a manifest fetched by digest, and every blob.
 *
 * A client is thread-safe: many threads may fetch through one client at once, sharing its
 * connections and tokens.
 */
#ifndef BOXER_OCI_REGISTRY_H
#define BOXER_OCI_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "oci/manifest.h"
#include "oci/ref.h"

struct oci_mirror {
    const char *domain; /* "docker.io" */
    const char *url;    /* "http://127.0.0.1:5000" (http:// is plain HTTP) */
};

struct oci_registry_auth {
    const char *domain; /* a registry's domain as in references: "docker.io", "ghcr.io:443" */
    const char *username;
    const char *password;
};

struct oci_registry_opts {
    const struct oci_mirror *mirrors; /* tried in array order for their domain */
    size_t n_mirrors;
    const char *const *insecure; /* "host[:port]" allowed over plain HTTP */
    size_t n_insecure;
    const struct oci_registry_auth *auth; /* checked before docker's config */
    size_t n_auth;
    /* docker's config.json; NULL: $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
    const char *docker_config;
    long connect_timeout_ms; /* 0: 10 s */
    long stall_timeout_s;    /* a transfer under 1 byte/s for this long fails; 0: 30 s */
    int attempts;            /* per endpoint, on network errors and 5xx; 0: 3 */
    long backoff_ms;         /* first retry delay, doubled each time; 0: 200 ms */
};

struct oci_registry;

/* Creates a client; the options are copied. */
int oci_registry_new(const struct oci_registry_opts *opts, struct oci_registry **out,
                     struct bx_err *err);
void oci_registry_free(struct oci_registry *r);

struct oci_fetched_manifest {
    char *body; /* owned, NUL-terminated */
    size_t len;
    char content_type[128];
    char digest[OCI_DIGEST_MAX]; /* sha256 of the body */
};
void oci_fetched_manifest_release(struct oci_fetched_manifest *m);

/* Fetches the manifest `reference` (a tag or a digest) of ref's repository, with the full Accept
 * list. By digest, the body must hash to it (BX_EDIGEST otherwise). At most
 * OCI_MANIFEST_MAX_BYTES. BX_ENOENT when no endpoint has it. */
int oci_registry_fetch_manifest(struct oci_registry *r, const struct oci_ref *ref,
                                const char *reference, struct oci_fetched_manifest *out,
                                struct bx_err *err);

/* Receives a blob's bytes in order, each exactly once. A non-zero return aborts the fetch with
 * that code. */
typedef int (*oci_blob_sink_fn)(void *ctx, const void *data, size_t len);

/* Streams the blob `desc` of ref's repository into the sink, hashing as it goes. More bytes than
 * desc->size, fewer, or a digest mismatch fail the fetch (BX_EDIGEST names the blob). */
int oci_registry_fetch_blob(struct oci_registry *r, const struct oci_ref *ref,
                            const struct oci_descriptor *desc, oci_blob_sink_fn sink, void *ctx,
                            struct bx_err *err);

#endif
