"""Fixtures of the SDK's tests. They run against a live boxerd whose address is in BOXER_URL;
without it every test is skipped, with that reason.

Most tests run twice, ``[sync]`` with BoxerClient and ``[async]`` with AsyncBoxerClient: the
``client`` fixture gives either, and a test awaits every call (the sync client's calls are wrapped
in coroutines, and run as they are, blocking).
"""

import os
import socket
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # the async variants would silently be skipped: refuse to run instead
    raise ImportError(
        "the Boxer SDK tests need pytest-asyncio (Debian: apt-get install python3-pytest-asyncio)"
    ) from None

from boxer import AsyncBoxerClient, BoxerClient

BOXER_URL = os.environ.get("BOXER_URL", "").rstrip("/")
SKIP_REASON = (
    "BOXER_URL is not set: these tests need a live boxerd (BOXER_URL=http://localhost:8080)"
)

# The server's upload_limit_bytes (the 413 test sends one byte more): its default.
UPLOAD_LIMIT = int(os.environ.get("BOXER_UPLOAD_LIMIT", "10485760"))


class SyncAsAsync:
    """A BoxerClient whose methods are awaitable: one test body for both clients."""

    kind = "sync"

    def __init__(self, client: BoxerClient) -> None:
        self.sync = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


def pytest_collection_modifyitems(config: Any, items: Any) -> None:
    # The SDK's documented behaviour (seed 004): without BOXER_URL all tests are skipped.
    if BOXER_URL:
        return
    for item in items:
        item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture
def boxer_url() -> str:
    return BOXER_URL


@pytest_asyncio.fixture(params=["sync", "async"])
async def make_client(request: Any) -> Any:
    """make_client(url, **kwargs): a BoxerClient (wrapped, awaitable) or an AsyncBoxerClient;
    each is closed after the test."""
    made = []

    def make(url: str, **kwargs: Any) -> Any:
        if request.param == "sync":
            c: Any = SyncAsAsync(BoxerClient(url, **kwargs))
        else:
            c = AsyncBoxerClient(url, **kwargs)
            c.kind = "async"
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


@pytest_asyncio.fixture
async def client(make_client: Any, boxer_url: str) -> Any:
    """The client of the test's variant on BOXER_URL."""
    return make_client(boxer_url)


@pytest.fixture
def closed_url() -> Any:
    """http://127.0.0.1:<a port nobody listens on>: held bound but not listening for the test,
    so connections to it are refused and nobody else can take it meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    s.close()


@pytest.fixture
def unique(request: Any) -> str:
    """A store prefix of this test alone (tests share one server's store)."""
    name = request.node.name.replace("[", "-").replace("]", "")
    return f"sdk-tests/{os.getpid()}/{name}"
