/* Image references, parsed and normalised as Docker does.
 *
 *   python:3.12-slim                -> docker.io/library/python:3.12-slim
 *   python                          -> docker.io/library/python:latest
 *   ghcr.io/org/tool@sha256:<hex>   -> digest only, no tag
 *   127.0.0.1:5000/a/b:1            -> a registry with a port, nested paths
 *   localhost/x, index.docker.io/x  -> "localhost" is a registry; index.docker.io is docker.io
 *
 * The first component is a registry when it holds a '.' or a ':' or is "localhost", or (as in
 * Docker, since a path may not) an upper-case letter; otherwise the reference is on docker.io,
 * and a single-component path gets "library/" in front. IPv6 registries are written
 * "[::1]:5000"; a port is 1-65535. A 64-hex-digit string (an image id) is refused. Paths
 * follow the distribution grammar (lower-case alphanumerics separated by '.', '_', "__" or
 * runs of '-'); tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digests are sha256:<64 lower hex>.
 * The whole name is at most 255 characters. Pure functions, thread-safe.
 */
#ifndef BOXER_OCI_REF_H
#define BOXER_OCI_REF_H

#include <stddef.h>

#include "common/err.h"
#include "oci/digest.h"

#define OCI_REF_DOMAIN_MAX 256
#define OCI_REF_PATH_MAX 256
#define OCI_REF_TAG_MAX 129

struct oci_ref {
    char domain[OCI_REF_DOMAIN_MAX]; /* "docker.io", "ghcr.io", "127.0.0.1:5000" */
    char path[OCI_REF_PATH_MAX];     /* "library/python" */
    char tag[OCI_REF_TAG_MAX];       /* "3.12-slim"; "" when only a digest was given */
    char digest[OCI_DIGEST_MAX];     /* "sha256:<hex>" or "" */
};

/* Parses `s` into *out. A tag defaults to "latest" unless a digest is given. An invalid
 * reference is BX_EINVAL with a message that names what is wrong; a digest algorithm other than
 * sha256 is BX_EUNSUPPORTED. */
int oci_ref_parse(const char *s, struct oci_ref *out, struct bx_err *err);

/* Writes the canonical form "domain/path[:tag][@digest]" into buf; returns the length it
 * needed (as snprintf). */
int oci_ref_format(const struct oci_ref *ref, char *buf, size_t size);

/* The host to send API requests to: "registry-1.docker.io" for docker.io, else the domain. */
const char *oci_ref_api_host(const struct oci_ref *ref);

#endif
