"""What BoxerClient and AsyncBoxerClient share: request bodies, answers, uploads, tree walks."""

from __future__ import annotations

import asyncio
import io
import os
import posixpath
import secrets
from typing import (
    IO,
    Any,
    AsyncIterator,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import httpx

from .errors import (
    BoxerAPIError,
    BoxerConnectionError,
    BoxerError,
    BoxerOutputLimitError,
    BoxerTimeoutError,
)
from .models import ResourceLimits, RunResult

DEFAULT_BASE_URL = "http://localhost:8080"
# A run's answer comes when the run ends: the server's default wall clock is 30 s, plus the
# image pull on first use. Raise it for runs with a longer wall_clock_secs.
DEFAULT_TIMEOUT = 300.0

Content = Union[bytes, bytearray, memoryview, IO[bytes]]
EnvArg = Union[Mapping[str, str], Sequence[str], None]
LimitsArg = Union[ResourceLimits, Mapping[str, Any], None]
PathArg = Union[str, "os.PathLike[str]"]

_CHUNK = 64 * 1024


def normalize_base_url(base_url: str) -> str:
    if not isinstance(base_url, str) or not base_url:
        raise TypeError("base_url must be a non-empty string such as 'http://localhost:8080'")
    return base_url.rstrip("/")


def make_timeout(timeout: Optional[float]) -> httpx.Timeout:
    return httpx.Timeout(timeout)


def url_of(base_url: str, path: str, params: Optional[Mapping[str, str]] = None) -> str:
    return str(httpx.URL(base_url + path, params=params))


# --- requests -----------------------------------------------------------------------------------


def run_body(
    image: str,
    cmd: Sequence[str],
    env: EnvArg,
    cwd: Optional[str],
    limits: LimitsArg,
    files: Optional[Iterable[str]],
    persist: bool,
) -> Dict[str, Any]:
    """The JSON body of POST /run."""
    if not isinstance(image, str):
        raise TypeError(f"image must be a string, not {type(image).__name__}")
    if isinstance(cmd, (str, bytes)):
        raise TypeError(
            "cmd must be a list of strings, e.g. ['python3', '-c', 'print(1)'], not a string"
        )
    body: Dict[str, Any] = {"image": image, "cmd": list(cmd)}
    if env is not None:
        if isinstance(env, Mapping):
            body["env"] = [f"{k}={v}" for k, v in env.items()]
        elif isinstance(env, (str, bytes)):
            raise TypeError("env must be a mapping or a list of 'KEY=VALUE' strings, not a string")
        else:
            body["env"] = list(env)
    if cwd is not None:
        body["cwd"] = cwd
    if limits is not None:
        if isinstance(limits, ResourceLimits):
            sent = limits.to_dict()
        elif isinstance(limits, Mapping):
            # through ResourceLimits: a misspelled key is a TypeError here, not a limit the
            # server ignores
            sent = ResourceLimits(**limits).to_dict()
        else:
            raise TypeError(f"limits must be a ResourceLimits, not {type(limits).__name__}")
        if sent:
            body["limits"] = sent
    if files is not None:
        if isinstance(files, (str, bytes)):
            raise TypeError("files must be a list of store paths, not a string")
        body["files"] = list(files)
    if persist:
        body["persist"] = True
    return body


class Upload:
    """One POST /files body: multipart/form-data with the fields ``path`` and ``file``, streamed.

    bytes are sent as they are; a binary file object is read in 64 KiB chunks from its current
    position. The Content-Length is given when the size is known (bytes, regular files, seekable
    objects); otherwise the body goes chunked.
    """

    def __init__(self, remote_path: str, content: Content) -> None:
        if not isinstance(remote_path, str):
            raise TypeError(f"remote_path must be a string, not {type(remote_path).__name__}")
        self.remote_path = remote_path
        boundary = "boxer-" + secrets.token_hex(16)
        filename = posixpath.basename(remote_path.rstrip("/")) or "file"
        # Quoted as HTML5 forms do; the server does not use the file name.
        filename = (
            filename.replace("\\", "\\\\")
            .replace('"', "%22")
            .replace("\r", "%0D")
            .replace("\n", "%0A")
        )
        path_part = f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\n'
        file_part = (
            f"\r\n--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        self.head = path_part.encode() + remote_path.encode("utf-8") + file_part.encode("utf-8")
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.data: Optional[bytes] = None
        self.fileobj: Optional[IO[bytes]] = None
        self.size: Optional[int] = None
        if isinstance(content, (bytes, bytearray, memoryview)):
            self.data = bytes(content)
            self.size = len(self.data)
        elif isinstance(content, str):
            raise TypeError(
                "content must be bytes or a binary file object, not str "
                "(encode it, or open the file in 'rb' mode)"
            )
        elif hasattr(content, "read"):
            # (read() returning anything but bytes is refused too, as the upload goes)
            if isinstance(content, io.TextIOBase):
                raise TypeError("content is a text-mode file: open it in binary mode ('rb')")
            self.fileobj = content
            self.size = _remaining_size(content)
        else:
            raise TypeError(
                f"content must be bytes or a binary file object, not {type(content).__name__}"
            )

    @property
    def headers(self) -> Dict[str, str]:
        h = {"Content-Type": self.content_type}
        if self.size is not None:
            h["Content-Length"] = str(len(self.head) + self.size + len(self.tail))
        return h

    def _want(self, sent: int) -> int:
        return _CHUNK if self.size is None else min(_CHUNK, self.size - sent)

    @staticmethod
    def _check_chunk(chunk: Any) -> None:
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"the file object's read() returned {type(chunk).__name__}, not bytes")

    def _check_end(self, sent: int) -> None:
        if self.size is not None and sent != self.size:
            raise BoxerError(
                f"the file for {self.remote_path!r} ended after {sent} of {self.size} bytes"
            )

    def __iter__(self) -> Iterator[bytes]:
        """The body for httpx.Client (pass iter(upload))."""
        yield self.head
        if self.data is not None:
            if self.data:
                yield self.data
        else:
            assert self.fileobj is not None
            sent = 0
            while self.size is None or sent < self.size:
                chunk = self.fileobj.read(self._want(sent))
                if not chunk:
                    break
                self._check_chunk(chunk)
                sent += len(chunk)
                yield bytes(chunk)
            self._check_end(sent)
        yield self.tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body for httpx.AsyncClient (pass upload.__aiter__()): the same parts as
        __iter__, each step run off the event loop (file reads may block)."""
        it = iter(self)
        loop = asyncio.get_running_loop()
        while (chunk := await loop.run_in_executor(None, next, it, None)) is not None:
            yield chunk


def _remaining_size(f: Any) -> Optional[int]:
    """Bytes left from the current position of a file object, None when it cannot be known
    without reading (pipes, sockets, streams)."""
    try:
        if hasattr(f, "seekable") and not f.seekable():
            return None
        pos = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(pos)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    if not isinstance(pos, int) or not isinstance(end, int):
        return None
    return max(0, end - pos)


def upload_plan(local_path: PathArg, remote_prefix: Optional[str]) -> List[Tuple[str, str]]:
    """(local file, store path) for upload_path(): a file, or every regular file of a tree."""
    local = os.fspath(local_path)
    if remote_prefix is not None and not isinstance(remote_prefix, str):
        raise TypeError(f"remote_prefix must be a string, not {type(remote_prefix).__name__}")
    if os.path.isdir(local):
        prefix = (
            os.path.basename(os.path.abspath(local))
            if remote_prefix is None
            else remote_prefix.rstrip("/")
        )
        plan = []
        for dirpath, _, filenames in os.walk(local, onerror=_raise):
            rel_dir = os.path.relpath(dirpath, local)
            parts = [] if rel_dir == "." else rel_dir.split(os.sep)
            for name in filenames:
                path = os.path.join(dirpath, name)
                if not os.path.isfile(path):  # FIFOs, sockets, devices, dangling links
                    continue
                plan.append(
                    (
                        path,
                        posixpath.join(prefix, *parts, name)
                        if prefix
                        else posixpath.join(*parts, name),
                    )
                )
        return sorted(plan, key=lambda p: p[1])
    if os.path.isfile(local):
        name = os.path.basename(local)
        prefix = "" if remote_prefix is None else remote_prefix.rstrip("/")
        return [(local, posixpath.join(prefix, name) if prefix else name)]
    if os.path.exists(local):
        raise ValueError(f"{local} is neither a regular file nor a directory")
    raise FileNotFoundError(f"no such file or directory: {local}")


def _raise(e: OSError) -> None:
    raise e


# --- answers ------------------------------------------------------------------------------------


def connection_error(
    exc: httpx.TransportError, method: str, url: str, timeout: httpx.Timeout
) -> BoxerConnectionError:
    if isinstance(exc, httpx.ConnectTimeout):
        msg = f"cannot reach the Boxer server at {url}: connection timed out"
    elif isinstance(exc, httpx.TimeoutException):
        msg = (
            f"no answer from the Boxer server to {method} {url} within the client's timeout of "
            f"{timeout.read} s (BoxerClient(timeout=...) must exceed the run's wall clock)"
        )
    elif isinstance(exc, httpx.ConnectError):
        msg = f"cannot reach the Boxer server at {url}: {exc}"
    else:
        msg = f"{method} {url} failed: {type(exc).__name__}: {exc}"
    return BoxerConnectionError(msg, url)


def error_from(resp: httpx.Response) -> BoxerAPIError:
    status = resp.status_code
    body: Optional[Dict[str, Any]] = None
    try:
        parsed = resp.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    message = body.get("error") if body else None
    if not isinstance(message, str) or not message:
        text = resp.text.strip()[:200] if resp.content else ""
        message = f"HTTP {status} {resp.reason_phrase}" + (f": {text}" if text else "")

    def opt(name: str, typ: type) -> Any:
        v = body.get(name) if body else None
        return v if isinstance(v, typ) and not isinstance(v, bool) else None

    cls = {408: BoxerTimeoutError, 507: BoxerOutputLimitError}.get(status, BoxerAPIError)
    return cls(
        message,
        status,
        exec_id=opt("exec_id", str),
        stdout=opt("stdout", str),
        stderr=opt("stderr", str),
        wall_ms=opt("wall_ms", int),
        body=body,
    )


def json_of(resp: httpx.Response) -> Any:
    if resp.status_code // 100 != 2:
        raise error_from(resp)
    try:
        return resp.json()
    except ValueError:
        raise BoxerError(
            f"{resp.request.method} {resp.request.url}: HTTP {resp.status_code} "
            f"with a body that is not JSON: {resp.text[:200]!r}"
        ) from None


def run_result(resp: httpx.Response) -> RunResult:
    data = json_of(resp)
    if not isinstance(data, dict):
        raise BoxerError(
            f"POST {resp.request.url}: the answer is not a JSON object: {resp.text[:200]!r}"
        )
    try:
        return RunResult.from_dict(data)
    except ValueError as e:
        raise BoxerError(
            f"POST {resp.request.url}: unexpected answer ({e}): {resp.text[:200]!r}"
        ) from None


def upload_result(resp: httpx.Response, remote_path: str) -> str:
    data = json_of(resp)
    path = data.get("path") if isinstance(data, dict) else None
    if not isinstance(path, str):
        raise BoxerError(
            f"POST {resp.request.url} ({remote_path!r}): no path in the answer: {resp.text[:200]!r}"
        )
    return path


def download_result(resp: httpx.Response) -> bytes:
    if resp.status_code // 100 != 2:
        raise error_from(resp)
    return resp.content
