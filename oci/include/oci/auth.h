/* Registry authentication pieces that need no network: WWW-Authenticate challenges and the
 * credentials a user configured (Boxer's registry_auth and ~/.docker/config.json). The token
 * flow itself lives in the registry client. Pure functions, thread-safe.
 */
#ifndef BOXER_OCI_AUTH_H
#define BOXER_OCI_AUTH_H

#include <stddef.h>

#include "common/err.h"

enum oci_auth_scheme {
    OCI_AUTH_NONE,
    OCI_AUTH_BASIC,
    OCI_AUTH_BEARER,
};

struct oci_challenge {
    enum oci_auth_scheme scheme;
    char realm[512];
    char service[256];
    char scope[512];
};

/* Parses one WWW-Authenticate header value: `Bearer realm="https://auth.docker.io/token",
 * service="registry.docker.io",scope="repository:library/python:pull"` or `Basic
 * realm="..."`. The scheme is case-insensitive; parameter values may be quoted (with \"
 * escapes) or bare tokens; unknown parameters are ignored. A Bearer challenge needs a realm,
 * an http(s) URL. A header holding several challenges yields its first Bearer one, else its
 * first Basic one. BX_EINVAL for anything malformed, BX_EUNSUPPORTED for another scheme. */
int oci_challenge_parse(const char *header, struct oci_challenge *out, struct bx_err *err);

struct oci_credentials {
    char username[256];
    char password[1024]; /* a password or an identity token */
};

/* The username that marks `password` as an identity token (an OAuth2 refresh token for the
 * token server), as docker's credential helpers mark it. */
#define OCI_IDENTITY_TOKEN_USER "<token>"

/* Finds credentials for `domain` ("docker.io", "127.0.0.1:5000") in a docker config.json body
 * (`{"auths": {"<key>": {"auth": base64("user:pass")} | {"username", "password"}}}`). Keys are
 * matched as docker does: the domain itself, with or without a scheme and a "/v1/" or "/v2/"
 * path, and for docker.io also "https://index.docker.io/v1/". An "identitytoken" wins over
 * "auth", which wins over "username"/"password"; an identity token comes back as the password
 * with the username OCI_IDENTITY_TOKEN_USER. BX_ENOENT when there are none (credential helpers,
 * "credsStore" and "credHelpers", are not run). Errors never quote a credential. */
int oci_docker_config_lookup(const char *body, size_t len, const char *domain,
                             struct oci_credentials *out, struct bx_err *err);

#endif
