"""BoxerClient: the synchronous client of the Boxer API."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Type

import httpx

from . import _base
from ._base import Content, EnvArg, LimitsArg, PathArg
from .models import RunResult

__all__ = ["BoxerClient"]


class BoxerClient:
    """A synchronous client of a Boxer server.

    Use it as a context manager, or call :meth:`close` when done::

        with BoxerClient("http://localhost:8080") as client:
            result = client.run(image="python:3.12-slim", cmd=["python3", "-c", "print(1)"])

    One client can be shared by several threads.

    Args:
        base_url: the server's address.
        timeout: seconds to wait for each answer (``None``: no limit). A run answers when it
            ends, so this must exceed the wall clock of the runs you start, plus the time to
            pull their image the first time.

    Every method raises :class:`~boxer.BoxerAPIError` (or its subclasses
    :class:`~boxer.BoxerTimeoutError` and :class:`~boxer.BoxerOutputLimitError`) when the server
    answers with an error, and :class:`~boxer.BoxerConnectionError` (a
    :class:`~boxer.BoxerError`) when it cannot be reached.
    """

    def __init__(
        self,
        base_url: str = _base.DEFAULT_BASE_URL,
        timeout: Optional[float] = _base.DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = _base.normalize_base_url(base_url)
        self.timeout = timeout
        self._timeout = _base.make_timeout(timeout)
        self._http = httpx.Client(base_url=self.base_url, timeout=self._timeout)

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the client's connections. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> "BoxerClient":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BoxerClient({self.base_url!r})"

    # --- the API ----------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, params: Optional[Mapping[str, str]] = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            return self._http.request(method, path, params=params, **kwargs)
        except httpx.TransportError as e:
            raise _base.connection_error(
                e, method, _base.url_of(self.base_url, path, params), self._timeout
            ) from e

    def health(self) -> Dict[str, Any]:
        """Checks that the server can run sandboxes (``GET /healthz``).

        Returns:
            The server's answer, ``{"ok": True}``.

        Raises:
            BoxerAPIError: the server answered but is not healthy (for example runsc is
                missing); the message says why.
        """
        data = _base.json_of(self._request("GET", "/healthz"))
        return data if isinstance(data, dict) else {"ok": data}

    def run(
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
        """Runs ``cmd`` in a new sandbox of ``image`` and waits for it to end (``POST /run``).

        Args:
            image: an image reference (``"python:3.12-slim"``); pulled on first use.
            cmd: the program and its arguments (no shell: use ``["sh", "-c", "..."]`` for one).
            env: environment variables, a mapping (``{"DEBUG": "1"}``) or a list of
                ``"KEY=VALUE"`` strings. They override the image's; ``PATH`` is kept.
            cwd: the working directory, an absolute path. ``None`` lets the server choose: the
                image's WorkingDir, else ``/``.
            limits: a :class:`~boxer.ResourceLimits` (or a mapping of the same keys); the server's
                defaults apply to what is not set.
            files: store paths (from :meth:`upload_file` / :meth:`upload_path`) to mount read-only
                in the sandbox, each at ``/`` + its path.
            persist: keep what the command writes under ``/output/``: it is stored at
                ``output/<exec_id>/<relative path>``, for :meth:`download_file`.

        Returns:
            The run's :class:`~boxer.RunResult`, whatever its exit code.

        Raises:
            BoxerTimeoutError: the run went over its wall clock (408).
            BoxerOutputLimitError: stdout or stderr went over the output limit (507).
            BoxerAPIError: the request was refused (400: e.g. a file in ``files`` is not in the
                store), the image could not be pulled or the sandbox failed (500), the queue is
                full (503).
            BoxerConnectionError: the server could not be reached or did not answer in time.
        """
        body = _base.run_body(image, cmd, env, cwd, limits, files, persist)
        return _base.run_result(self._request("POST", "/run", json=body))

    def upload_file(self, remote_path: str, content: Content) -> str:
        """Stores ``content`` at ``remote_path`` in the file store (``POST /files``).

        A run that lists ``remote_path`` in ``files`` sees it, read-only, at ``/<remote_path>``.
        An existing file at that path is replaced.

        Args:
            remote_path: a relative store path such as ``"script.py"`` or
                ``"workspace/data/input.csv"``; not under ``output/``.
            content: bytes, or a binary file object (read from its current position and
                streamed, never loaded whole).

        Returns:
            The store path, as the server normalized it.

        Raises:
            BoxerAPIError: 400 for an invalid path, 413 when the content is over the server's
                upload limit.
        """
        up = _base.Upload(remote_path, content)
        resp = self._request("POST", "/files", content=iter(up), headers=up.headers)
        return _base.upload_result(resp, remote_path)

    def upload_path(self, local_path: PathArg, remote_prefix: Optional[str] = None) -> List[str]:
        """Uploads a local file, or every regular file of a local directory tree.

        A file goes to ``<remote_prefix>/<its name>``; a directory's files go to
        ``<remote_prefix>/<path relative to the directory>``. Without ``remote_prefix``, a file
        goes to ``<its name>`` and a directory's files under the directory's name. Symbolic links
        to files are followed, to directories not.

        Example: with ``proj/main.py`` and ``proj/lib/util.py``, ``upload_path("proj")`` returns
        ``["proj/lib/util.py", "proj/main.py"]``, mounted at ``/proj/...`` when passed as
        ``files``.

        Returns:
            The store paths, ready to pass as ``files`` to :meth:`run`.
        """
        stored = []
        for local, remote in _base.upload_plan(local_path, remote_prefix):
            with open(local, "rb") as f:
                stored.append(self.upload_file(remote, f))
        return stored

    def download_file(self, path: str) -> bytes:
        """Reads a file of the store (``GET /files?path=...``), such as
        ``output/<exec_id>/result.json`` after a run with ``persist=True``.

        Raises:
            BoxerAPIError: 404 when there is no such file, 400 for an invalid path.
        """
        return _base.download_result(self._request("GET", "/files", params={"path": path}))
