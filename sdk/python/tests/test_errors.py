"""Each error class with its real trigger: 400, 404, 408, 413, 500, 507 and no server at all."""

import pickle
import time

import pytest

import re

from conftest import UPLOAD_LIMIT
from boxer import (
    AsyncBoxerClient,
    BoxerAPIError,
    BoxerClient,
    BoxerConnectionError,
    BoxerError,
    BoxerOutputLimitError,
    BoxerTimeoutError,
    ResourceLimits,
)

SH = "busybox"


def test_the_hierarchy():
    assert issubclass(BoxerAPIError, BoxerError) and issubclass(BoxerConnectionError, BoxerError)
    assert issubclass(BoxerTimeoutError, BoxerAPIError) and issubclass(
        BoxerOutputLimitError, BoxerAPIError
    )
    assert not issubclass(BoxerConnectionError, BoxerAPIError)
    e = BoxerTimeoutError(
        "execution timed out after 1000ms",
        408,
        exec_id="boxer-x",
        stdout="a",
        stderr="",
        wall_ms=1001,
    )
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is BoxerTimeoutError and str(again) == str(e)
    assert (again.status_code, again.exec_id, again.stdout, again.wall_ms) == (
        408,
        "boxer-x",
        "a",
        1001,
    )


async def test_400_a_file_that_is_not_in_the_store(client):
    with pytest.raises(BoxerAPIError) as e:
        await client.run(SH, ["true"], files=["sdk-tests/no/such/file.txt"])
    assert type(e.value) is BoxerAPIError
    assert e.value.status_code == 400
    assert str(e.value) == "file not found: sdk-tests/no/such/file.txt"


async def test_400_an_invalid_request(client):
    with pytest.raises(BoxerAPIError) as e:
        await client.run("", ["true"])
    assert e.value.status_code == 400 and str(e.value)
    with pytest.raises(BoxerAPIError) as e:
        await client.run(SH, [])
    assert e.value.status_code == 400


@pytest.mark.parametrize("path", ["../escape.txt", "output/forged.txt", "/abs.txt", ""])
async def test_400_an_invalid_upload_path(client, path):
    with pytest.raises(BoxerAPIError) as e:
        await client.upload_file(path, b"x")
    assert type(e.value) is BoxerAPIError and e.value.status_code == 400 and str(e.value)


async def test_download_errors(client):
    with pytest.raises(BoxerAPIError) as e:
        await client.download_file("sdk-tests/never/uploaded.txt")
    assert (e.value.status_code, str(e.value)) == (404, "file not found")
    with pytest.raises(BoxerAPIError) as e:
        await client.download_file("../../etc/passwd")
    assert e.value.status_code == 400


async def test_408_wall_clock(client):
    start = time.monotonic()
    with pytest.raises(BoxerTimeoutError) as e:
        await client.run(SH, ["sleep", "30"], limits=ResourceLimits(wall_clock_secs=1))
    elapsed = time.monotonic() - start
    err = e.value
    assert err.status_code == 408
    assert str(err) == "execution timed out after 1000ms"
    assert err.exec_id and err.exec_id.startswith("boxer-")
    assert (err.stdout, err.stderr) == ("", "")
    assert isinstance(err.wall_ms, int) and err.wall_ms >= 1000
    assert elapsed < 25, f"the run was not stopped at its wall clock ({elapsed:.1f} s)"


async def test_408_keeps_the_partial_output(client):
    # 3 s: time for the sandbox to start and the command to print, however busy the machine
    with pytest.raises(BoxerTimeoutError) as e:
        await client.run(
            SH,
            ["sh", "-c", "echo started; echo on stderr >&2; sleep 60; echo never"],
            limits=ResourceLimits(wall_clock_secs=3),
        )
    err = e.value
    assert (err.status_code, str(err)) == (408, "execution timed out after 3000ms")
    assert (err.stdout, err.stderr) == ("started\n", "on stderr\n")
    assert isinstance(err.exec_id, str) and isinstance(err.wall_ms, int) and err.wall_ms >= 3000


async def test_507_stdout_flood(client):
    with pytest.raises(BoxerOutputLimitError) as e:
        await client.run(SH, ["sh", "-c", "echo first line; yes"])
    err = e.value
    assert err.status_code == 507
    m = re.fullmatch(r"output limit exceeded: limit=(\d+) bytes", str(err))
    assert m, str(err)
    limit = int(m.group(1))
    assert err.exec_id and err.exec_id.startswith("boxer-")
    assert err.stdout is not None and err.stdout.startswith("first line\ny\ny\n")
    assert len(err.stdout) <= limit and err.stderr == ""
    assert isinstance(err.wall_ms, int)
    # exactly the limit is fine, one byte more is not
    flood = "head -c {} /dev/zero | tr '\\0' a"
    r = await client.run(SH, ["sh", "-c", flood.format(limit)])
    assert r.exit_code == 0 and r.stdout == "a" * limit
    with pytest.raises(BoxerOutputLimitError):
        await client.run(SH, ["sh", "-c", flood.format(limit + 1)])


async def test_507_stderr_flood(client):
    with pytest.raises(BoxerOutputLimitError) as e:
        await client.run(SH, ["sh", "-c", "echo out; yes err >&2"])
    err = e.value
    assert err.status_code == 507 and err.stdout == "out\n"
    assert err.stderr is not None and err.stderr.startswith("err\nerr\n")


async def test_413_upload_over_the_limit(client, unique):
    with pytest.raises(BoxerAPIError) as e:
        await client.upload_file(f"{unique}/too-big", b"x" * (UPLOAD_LIMIT + 1))
    assert type(e.value) is BoxerAPIError and e.value.status_code == 413
    assert str(e.value) == f"upload exceeds the limit of {UPLOAD_LIMIT} bytes"
    assert (
        await client.upload_file(f"{unique}/just-fits", b"y" * UPLOAD_LIMIT)
        == f"{unique}/just-fits"
    )
    with pytest.raises(BoxerAPIError) as e:
        await client.download_file(f"{unique}/too-big")
    assert e.value.status_code == 404


async def test_500_image_that_cannot_be_pulled(client):
    # a registry address nobody listens on: the pull fails at once, nothing is fetched
    with pytest.raises(BoxerAPIError) as e:
        await client.run("127.0.0.1:9/sdk-test/no-such-image:1", ["true"])
    assert type(e.value) is BoxerAPIError and e.value.status_code == 500
    assert str(e.value).startswith("image pull failed")


async def test_connection_refused_names_the_url(make_client, closed_url):
    c = make_client(closed_url)
    with pytest.raises(BoxerError) as e:
        await c.run(SH, ["true"])
    assert type(e.value) is BoxerConnectionError and not isinstance(e.value, BoxerAPIError)
    assert f"{closed_url}/run" in str(e.value) and e.value.url == f"{closed_url}/run"
    with pytest.raises(BoxerConnectionError, match=re.escape(f"{closed_url}/healthz")):
        await c.health()
    with pytest.raises(
        BoxerConnectionError, match=re.escape(f"{closed_url}/files?path=a+b%2Fc.txt")
    ):
        await c.download_file("a b/c.txt")
    with pytest.raises(BoxerConnectionError, match=re.escape(f"{closed_url}/files")):
        await c.upload_file("x.txt", b"x")


async def test_client_timeout(make_client, boxer_url):
    # an answer slower than the client's timeout: a BoxerConnectionError that says so
    c = make_client(boxer_url, timeout=1)
    start = time.monotonic()
    with pytest.raises(BoxerConnectionError, match="timeout of 1 s"):
        await c.run(SH, ["sleep", "5"])
    assert time.monotonic() - start < 4
