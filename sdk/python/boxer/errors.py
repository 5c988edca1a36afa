"""Exceptions raised by the Boxer clients.

::

    BoxerError                      every error of this package
    ├── BoxerConnectionError        no HTTP answer: the server could not be reached, or did not
    │                               answer within the client's timeout
    └── BoxerAPIError               the server answered with an error status (``status_code``)
        ├── BoxerTimeoutError       408: the run's wall clock ran out
        └── BoxerOutputLimitError   507: stdout or stderr went over the output limit

The message of a :class:`BoxerAPIError` (``str(e)``) is the server's ``error`` field. When the
server says which run failed, and what it printed before it was stopped (always the case for 408
and 507), ``exec_id``, ``stdout``, ``stderr`` and ``wall_ms`` hold it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = [
    "BoxerError",
    "BoxerConnectionError",
    "BoxerAPIError",
    "BoxerTimeoutError",
    "BoxerOutputLimitError",
]


class BoxerError(Exception):
    """Base class of every exception raised by the Boxer SDK."""


class BoxerConnectionError(BoxerError):
    """The server could not be reached, or did not answer in time.

    Attributes:
        url: the URL of the request that failed.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.url))


class BoxerAPIError(BoxerError):
    """The server answered with an error status.

    ``str(e)`` is the server's ``error`` message.

    Attributes:
        status_code: the HTTP status (400, 404, 408, 413, 500, 503, 507, ...).
        message: the server's ``error`` field.
        exec_id: the run's id, when the error concerns a run that was started.
        stdout: what the run wrote to stdout before it was stopped (``None`` when not given).
        stderr: what the run wrote to stderr before it was stopped (``None`` when not given).
        wall_ms: how long the run ran, in milliseconds (``None`` when not given).
        body: the whole JSON error body (``None`` when the body was not JSON).
    """

    def __init__(
        self,
        message: str,
        status_code: int,
        *,
        exec_id: Optional[str] = None,
        stdout: Optional[str] = None,
        stderr: Optional[str] = None,
        wall_ms: Optional[int] = None,
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.exec_id = exec_id
        self.stdout = stdout
        self.stderr = stderr
        self.wall_ms = wall_ms
        self.body = body

    def __reduce__(self) -> Any:
        kwargs = {
            "exec_id": self.exec_id,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "wall_ms": self.wall_ms,
            "body": self.body,
        }
        return (_rebuild_api_error, (type(self), self.message, self.status_code, kwargs))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BoxerTimeoutError(BoxerAPIError):
    """408: the run went over its wall-clock limit and was killed.

    ``stdout``/``stderr`` hold what it printed until then; ``exec_id`` names the run.
    """


class BoxerOutputLimitError(BoxerAPIError):
    """507: the run's stdout or stderr went over the server's ``output_limit_bytes``.

    ``stdout``/``stderr`` hold the output up to the limit; ``exec_id`` names the run.
    """


def _rebuild_api_error(cls: type, message: str, status_code: int, kwargs: Dict[str, Any]) -> Any:
    return cls(message, status_code, **kwargs)
