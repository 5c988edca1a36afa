"""AsyncBoxerClient: the asyncio client of the Boxer API, method for method BoxerClient's."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Type

import httpx

from . import _base
from ._base import Content, EnvArg, LimitsArg, PathArg
from .models import RunResult

__all__ = ["AsyncBoxerClient"]

# upload_path() sends this many files at a time.
_UPLOAD_CONCURRENCY = 8


class AsyncBoxerClient:
    """An asyncio client of a Boxer server: every method of :class:`~boxer.BoxerClient`, awaitable.

    ::

        async with AsyncBoxerClient("http://localhost:8080") as client:
            result = await client.run(image="python:3.12-slim", cmd=["python3", "-c", "print(1)"])

    Many runs can be awaited at once (``asyncio.gather``); the server queues what it cannot run
    yet and answers 503 (:class:`~boxer.BoxerAPIError`) when its queue is full.

    Args:
        base_url: the server's address.
        timeout: seconds to wait for each answer (``None``: no limit); must exceed the wall clock
            of the runs you start, plus the time to pull their image the first time.
    """

    def __init__(
        self,
        base_url: str = _base.DEFAULT_BASE_URL,
        timeout: Optional[float] = _base.DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = _base.normalize_base_url(base_url)
        self.timeout = timeout
        self._timeout = _base.make_timeout(timeout)
        # As many connections as runs in flight: each POST /run holds one until the run ends.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
        )

    # --- lifecycle --------------------------------------------------------------------------------

    async def close(self) -> None:
        """Closes the client's connections. The client cannot be used afterwards."""
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> "AsyncBoxerClient":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncBoxerClient({self.base_url!r})"

    # --- the API ----------------------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, params: Optional[Mapping[str, str]] = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, params=params, **kwargs)
        except httpx.TransportError as e:
            raise _base.connection_error(
                e, method, _base.url_of(self.base_url, path, params), self._timeout
            ) from e

    async def health(self) -> Dict[str, Any]:
        """Checks that the server can run sandboxes (``GET /healthz``); see
        :meth:`BoxerClient.health <boxer.BoxerClient.health>`."""
        data = _base.json_of(await self._request("GET", "/healthz"))
        return data if isinstance(data, dict) else {"ok": data}

    async def run(
        self,
        image: str,
        cmd: Sequence[str],
        *,
        env: EnvArg = None,
        cwd: Optional[str] = "/",
        limits: LimitsArg = None,
        files: Optional[Iterable[str]] = None,
        persist: bool = False,
    ) -> RunResult:
        """Runs ``cmd`` in a new sandbox of ``image`` and waits for it to end (``POST /run``);
        the arguments, result and errors are those of
        :meth:`BoxerClient.run <boxer.BoxerClient.run>`."""
        body = _base.run_body(image, cmd, env, cwd, limits, files, persist)
        return _base.run_result(await self._request("POST", "/run", json=body))

    async def upload_file(self, remote_path: str, content: Content) -> str:
        """Stores ``content`` (bytes or a binary file object, streamed) at ``remote_path`` in the
        file store and returns the store path; see
        :meth:`BoxerClient.upload_file <boxer.BoxerClient.upload_file>`."""
        up = _base.Upload(remote_path, content)
        resp = await self._request("POST", "/files", content=up.__aiter__(), headers=up.headers)
        return _base.upload_result(resp, remote_path)

    async def upload_path(
        self, local_path: PathArg, remote_prefix: Optional[str] = None
    ) -> List[str]:
        """Uploads a local file or directory tree (a few files at a time) and returns the store
        paths, ready for ``files``; see
        :meth:`BoxerClient.upload_path <boxer.BoxerClient.upload_path>`."""
        plan = _base.upload_plan(local_path, remote_prefix)
        sem = asyncio.Semaphore(_UPLOAD_CONCURRENCY)

        async def one(local: str, remote: str) -> str:
            async with sem:
                with open(local, "rb") as f:
                    return await self.upload_file(remote, f)

        # gather does not cancel the others when one fails: done here, so that a failed tree
        # upload leaves nothing running
        tasks = [asyncio.ensure_future(one(local, remote)) for local, remote in plan]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            raise

    async def download_file(self, path: str) -> bytes:
        """Reads a file of the store, such as ``output/<exec_id>/result.json``; see
        :meth:`BoxerClient.download_file <boxer.BoxerClient.download_file>`."""
        return _base.download_result(await self._request("GET", "/files", params={"path": path}))
