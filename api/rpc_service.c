/* The Shim service as it looks on the wire: its methods, and one table mapping Boxer's error
 * codes to gRPC status codes in both directions (see api/shim_rpc.h). */
#include <stdio.h>
#include <string.h>

#include "rpc_internal.h"

const struct rpc_method rpc_methods[RPC_METHOD_COUNT] = {
    {RPC_METHOD_STATE, "State", SHIM_RPC_PATH_STATE, &boxer__shim__v1__state_request__descriptor,
     &boxer__shim__v1__state_response__descriptor},
    {RPC_METHOD_WAIT, "Wait", SHIM_RPC_PATH_WAIT, &boxer__shim__v1__wait_request__descriptor,
     &boxer__shim__v1__wait_response__descriptor},
    {RPC_METHOD_KILL, "Kill", SHIM_RPC_PATH_KILL, &boxer__shim__v1__kill_request__descriptor,
     &boxer__shim__v1__kill_response__descriptor},
    {RPC_METHOD_DELETE, "Delete", SHIM_RPC_PATH_DELETE,
     &boxer__shim__v1__delete_request__descriptor, &boxer__shim__v1__delete_response__descriptor},
    {RPC_METHOD_STATS, "Stats", SHIM_RPC_PATH_STATS, &boxer__shim__v1__stats_request__descriptor,
     &boxer__shim__v1__stats_response__descriptor},
};

static const struct {
    int code;
    grpc_status_code status;
} status_map[] = {
    {BX_ENOENT, GRPC_STATUS_NOT_FOUND},
    {BX_EINVAL, GRPC_STATUS_INVALID_ARGUMENT},
    {BX_EBUSY, GRPC_STATUS_FAILED_PRECONDITION},
    {BX_EUNSUPPORTED, GRPC_STATUS_UNIMPLEMENTED},
    {BX_ETIMEDOUT, GRPC_STATUS_DEADLINE_EXCEEDED},
    {BX_EPERM, GRPC_STATUS_PERMISSION_DENIED},
    {BX_ETOOBIG, GRPC_STATUS_RESOURCE_EXHAUSTED},
    {BX_ECANCELED, GRPC_STATUS_CANCELLED},
    {BX_ENET, GRPC_STATUS_UNAVAILABLE},
    {BX_EEXIST, GRPC_STATUS_ALREADY_EXISTS},
};

#define STATUS_MAP_LEN (sizeof(status_map) / sizeof(status_map[0]))

grpc_status_code
rpc_status_from_bx(int code)
{
    if (code == 0)
        return GRPC_STATUS_OK;
    for (size_t i = 0; i < STATUS_MAP_LEN; i++) {
        if (status_map[i].code == code)
            return status_map[i].status;
    }
    return GRPC_STATUS_INTERNAL;
}

int
rpc_status_to_bx(grpc_status_code status)
{
    if (status == GRPC_STATUS_OK)
        return 0;
    for (size_t i = 0; i < STATUS_MAP_LEN; i++) {
        if (status_map[i].status == status)
            return status_map[i].code;
    }
    return BX_EINTERNAL;
}

const char *
rpc_status_name(grpc_status_code status)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if ((unsigned)status < sizeof(names) / sizeof(names[0]))
        return names[status];
    return "UNKNOWN";
}

gpr_timespec
rpc_deadline_from_ms(int timeout_ms)
{
    if (timeout_ms < 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

int
rpc_address(const char *path, char *buf, size_t size, struct bx_err *err)
{
    if (!path || !path[0])
        return bx_err_set(err, BX_EINVAL, "no socket path");
    /* gRPC 1.51 parses targets as URIs, not alike on both ends: the server decodes '%41' as
     * 'A', the client ends the path at '?' or '#' (the server binds them as they are). A leading
     * "//", where a URI has its authority, is refused too. */
    if (strpbrk(path, "%?#") || strncmp(path, "//", 2) == 0)
        return bx_err_set(err, BX_EINVAL, "socket path %s is not usable as a gRPC target", path);
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return bx_err_set(err, BX_ETOOBIG, "socket path %s is longer than a unix socket allows",
                          path);
    snprintf(buf, size, "unix:%s", path);
    return 0;
}
