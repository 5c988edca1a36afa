"""POST /run through run(): the result, exit codes, env, cwd, limits; and health()."""

import re

import pytest

from boxer import BoxerAPIError, ResourceLimits, RunResult

EXEC_ID = re.compile(r"boxer-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SH = "busybox"


async def test_health(client):
    assert await client.health() == {"ok": True}


async def test_result_fields(client):
    r = await client.run("python:3.12-slim", ["python3", "-c", "print(42)"])
    assert isinstance(r, RunResult)
    assert EXEC_ID.fullmatch(r.exec_id)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "42\n", "")
    assert type(r.exit_code) is int and type(r.wall_ms) is int and r.wall_ms >= 0
    r2 = await client.run("python:3.12-slim", ["python3", "-c", "print(42)"])
    assert r2.exec_id != r.exec_id


async def test_exit_code_stdout_stderr(client):
    r = await client.run(SH, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.exit_code, r.stdout, r.stderr) == (3, "out\n", "err\n")


async def test_killed_by_a_signal_is_128_plus_signal(client):
    r = await client.run(SH, ["sh", "-c", "kill -TERM $$"])
    assert r.exit_code == 143


async def test_output_not_utf8_is_replaced(client):
    r = await client.run(SH, ["printf", "a\\377b"])
    assert (r.exit_code, r.stdout) == (0, "a\ufffdb")


async def test_env_as_a_mapping(client):
    r = await client.run(
        SH,
        ["sh", "-c", 'echo "$FOO|$EMPTY|$SPACED|$PATH"'],
        env={"FOO": "bar", "EMPTY": "", "SPACED": "a b=c"},
    )
    assert r.stdout == "bar||a b=c|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"


async def test_env_as_a_list(client):
    r = await client.run(SH, ["sh", "-c", 'echo "$FOO"'], env=["FOO=from-list"])
    assert r.stdout == "from-list\n"


async def test_cwd(client):
    assert (await client.run(SH, ["pwd"])).stdout == "/\n"  # the default, "/", is sent
    assert (await client.run(SH, ["pwd"], cwd="/tmp")).stdout == "/tmp\n"
    # None: the server chooses (the image's WorkingDir, "/" for the test images)
    assert (await client.run(SH, ["pwd"], cwd=None)).stdout == "/\n"


async def test_cwd_relative_is_refused(client):
    with pytest.raises(BoxerAPIError) as e:
        await client.run(SH, ["pwd"], cwd="tmp")
    assert e.value.status_code == 400 and "cwd" in str(e.value)


async def test_limits_only_what_is_set(client):
    assert ResourceLimits(nofile=150).to_dict() == {"nofile": 150}
    assert ResourceLimits().to_dict() == {}
    r = await client.run(SH, ["sh", "-c", "ulimit -n"], limits=ResourceLimits(nofile=150))
    assert r.stdout == "150\n"
    # nothing set: the server's defaults (no "limits" sent)
    r = await client.run(SH, ["sh", "-c", "ulimit -n"], limits=ResourceLimits())
    assert r.exit_code == 0 and r.stdout.strip().isdigit() and r.stdout != "150\n"


async def test_limits_memory_and_pids(client):
    big = "b = bytearray(300 * 1024 * 1024); print('allocated')"
    r = await client.run(
        "python:3.12-slim", ["python3", "-c", big], limits=ResourceLimits(memory_mb=64)
    )
    assert r.exit_code != 0 and "allocated" not in r.stdout
    forks = ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait; echo done"]
    r = await client.run(SH, forks, limits=ResourceLimits(pids_limit=4))
    assert r.exit_code != 0 and r.stdout == ""
    r = await client.run(SH, forks, limits=ResourceLimits(pids_limit=32))
    assert (r.exit_code, r.stdout) == (0, "done\n")


async def test_limits_as_a_mapping(client):
    r = await client.run(SH, ["sh", "-c", "ulimit -n"], limits={"nofile": 120, "memory_mb": None})
    assert r.stdout == "120\n"


async def test_limits_negative_is_refused(client):
    with pytest.raises(BoxerAPIError) as e:
        await client.run(SH, ["true"], limits=ResourceLimits(memory_mb=-1))
    assert e.value.status_code == 400


async def test_cmd_must_be_a_list(client):
    with pytest.raises(TypeError):
        await client.run(SH, "echo hi")
    with pytest.raises(TypeError):
        await client.run(SH, ["true"], files="script.py")
