#!/usr/bin/python3
"""Cross-check of the shim RPC glue against another gRPC stack: Python's grpcio (Debian's
python3-grpcio) calls the C server, and the C client calls a grpcio server.

    test_api_rpc_grpcio.py PATH/TO/test_api_rpc

test_api_rpc --serve SOCK and --call SOCK are the C ends. Messages are written and read by hand
on the protobuf wire (no protoc needed). Exits 77 (skip) when grpcio is not installed.
"""
import concurrent.futures
import os
import subprocess
import sys
import tempfile
import time

try:
    import grpc
except ImportError:
    print("SKIP: python3-grpcio is not installed (apt-get install python3-grpcio)")
    sys.exit(77)

SERVICE = "/boxer.shim.v1.Shim/"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string_field(num, s):
    data = s.encode() if isinstance(s, str) else s
    return varint(num << 3 | 2) + varint(len(data)) + data


def varint_field(num, n):
    return varint(num << 3) + varint(n)


def decode(buf):
    """{field number: value} of a message's varint and length-delimited fields."""
    fields, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            fields[num], i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            fields[num], i = buf[i : i + n], i + n
        else:
            raise ValueError(f"wire type {wire}")
    return fields


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def expect_status(call, code, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        assert e.code() == code, (e.code(), e.details())
        return e.details()
    raise AssertionError(f"expected {code}")


def python_calls_c(exe, tmp):
    sock = os.path.join(tmp, "c.sock")
    proc = subprocess.Popen([exe, "--serve", sock], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        with grpc.insecure_channel("unix:" + sock) as ch:
            state = ch.unary_unary(SERVICE + "State")
            resp = decode(state(string_field(1, "exec-1"), timeout=5))
            assert resp[1] == b"exec-1" and resp[3] == 4242, resp
            assert resp[4] == b"/run/boxer/exec-1/bundle", resp
            assert decode(resp[5])[1] == 3, resp
            details = expect_status(state, grpc.StatusCode.NOT_FOUND, string_field(1, "x"),
                                    timeout=5)
            assert "not served here" in details, details
            t0 = time.monotonic()
            expect_status(ch.unary_unary(SERVICE + "Exec"), grpc.StatusCode.UNIMPLEMENTED, b"",
                          timeout=5)
            expect_status(ch.unary_unary("/other.Service/State"), grpc.StatusCode.UNIMPLEMENTED,
                          b"", timeout=5)
            assert time.monotonic() - t0 < 4, "UNIMPLEMENTED should come at once"
            expect_status(state, grpc.StatusCode.RESOURCE_EXHAUSTED,
                          string_field(1, b"x" * 70000), timeout=5)
            kill = ch.unary_unary(SERVICE + "Kill")
            assert kill(varint_field(2, 9) + varint_field(3, 1), timeout=5) == b""
            wait = ch.unary_unary(SERVICE + "Wait")
            expect_status(wait, grpc.StatusCode.DEADLINE_EXCEEDED, b"", timeout=0.2)
            pending = wait.future(b"", timeout=10)
            time.sleep(0.2)
            assert not pending.done()
            proc.stdin.write("exit\n")
            proc.stdin.flush()
            record = decode(decode(pending.result())[1])
            assert record[1] == 7 and record[12] == b"runsc: exit status 128", record
            assert decode(decode(wait(b"", timeout=5))[1])[1] == 7
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def c_calls_python(exe, tmp):
    def state(request, context):
        assert decode(request)[1] == b"exec-9"
        record = varint_field(1, 5)
        return (string_field(1, "exec-9") + varint_field(3, 99) + string_field(4, "/b")
                + string_field(5, record))

    def kill(request, context):
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the sandbox is paused")

    handler = grpc.method_handlers_generic_handler("boxer.shim.v1.Shim", {
        "State": grpc.unary_unary_rpc_method_handler(state),
        "Kill": grpc.unary_unary_rpc_method_handler(kill),
    })
    sock = os.path.join(tmp, "py.sock")
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2),
                         handlers=[handler])
    server.add_insecure_port("unix:" + sock)
    server.start()
    try:
        out = subprocess.run([exe, "--call", sock], capture_output=True, text=True, timeout=60,
                             check=True).stdout.splitlines()
    finally:
        server.stop(0).wait()
    assert out[0] == "state 0 exec=exec-9 pid=99 bundle=/b exit_code=5", out
    assert out[1] == "kill -13 Kill: the sandbox is paused", out  # BX_EBUSY
    assert out[2].startswith("stats -11 Stats: "), out  # BX_EUNSUPPORTED


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="rpc-grpcio.") as tmp:
        python_calls_c(exe, tmp)
        c_calls_python(exe, tmp)
    print(f"ok: grpcio {grpc.__version__} and the C glue agree")


if __name__ == "__main__":
    main()
