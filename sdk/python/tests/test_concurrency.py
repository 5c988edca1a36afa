"""Many runs at once: asyncio.gather on one AsyncBoxerClient, threads on one BoxerClient."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from boxer import AsyncBoxerClient, BoxerClient, ResourceLimits

N = 20
# Bounded: every run has a short wall clock, and the whole batch a deadline.
LIMITS = ResourceLimits(wall_clock_secs=60, memory_mb=64)
DEADLINE = 240


def job(i):
    return ("busybox", ["sh", "-c", f"sleep 0.5; echo run-{i}; echo err-{i} >&2"])


def check(results):
    assert [(r.exit_code, r.stdout, r.stderr) for r in results] == [
        (0, f"run-{i}\n", f"err-{i}\n") for i in range(N)
    ]
    assert len({r.exec_id for r in results}) == N


async def test_concurrent_runs_async(boxer_url):
    async with AsyncBoxerClient(boxer_url) as client:

        async def one(i):
            image, cmd = job(i)
            return await client.run(image, cmd, limits=LIMITS)

        start = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(N))), DEADLINE)
        check(results)

        # uploads, runs and downloads interleaved
        async def roundtrip(i):
            path = await client.upload_file(
                f"sdk-tests/concurrent/{i}.txt", f"payload {i}\n".encode()
            )
            r = await client.run(
                "busybox",
                ["sh", "-c", f"cat /{path} > /output/copy.txt"],
                files=[path],
                persist=True,
                limits=LIMITS,
            )
            return await client.download_file(f"output/{r.exec_id}/copy.txt")

        copies = await asyncio.wait_for(asyncio.gather(*(roundtrip(i) for i in range(N))), DEADLINE)
        assert copies == [f"payload {i}\n".encode() for i in range(N)]
        print(f"{2 * N} concurrent runs in {time.monotonic() - start:.1f} s")


def test_concurrent_runs_sync(boxer_url):
    with BoxerClient(boxer_url) as client, ThreadPoolExecutor(N) as pool:

        def one(i):
            image, cmd = job(i)
            return client.run(image, cmd, limits=LIMITS)

        futures = [pool.submit(one, i) for i in range(N)]
        check([f.result(timeout=DEADLINE) for f in futures])

        def roundtrip(i):
            path = client.upload_file(
                f"sdk-tests/concurrent-sync/{i}.txt", f"payload {i}\n".encode()
            )
            r = client.run(
                "busybox",
                ["sh", "-c", f"cat /{path} > /output/copy.txt"],
                files=[path],
                persist=True,
                limits=LIMITS,
            )
            return client.download_file(f"output/{r.exec_id}/copy.txt")

        futures = [pool.submit(roundtrip, i) for i in range(N)]
        assert [f.result(timeout=DEADLINE) for f in futures] == [
            f"payload {i}\n".encode() for i in range(N)
        ]
