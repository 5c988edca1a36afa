"""The Python SDK of Boxer, the sandboxed code-execution service.

::

    from boxer import BoxerClient

    with BoxerClient("http://localhost:8080") as client:
        result = client.run(image="python:3.12-slim", cmd=["python3", "-c", "print('hello world')"])
        print(result.stdout)  # hello world

:class:`BoxerClient` is synchronous, :class:`AsyncBoxerClient` its asyncio twin. Runs return a
:class:`RunResult`; :class:`ResourceLimits` sets per-run limits; errors are :class:`BoxerError`
and its subclasses.
"""

from .async_client import AsyncBoxerClient
from .client import BoxerClient
from .errors import (
    BoxerAPIError,
    BoxerConnectionError,
    BoxerError,
    BoxerOutputLimitError,
    BoxerTimeoutError,
)
from .models import ResourceLimits, RunResult

__version__ = "0.1.0"

__all__ = [
    "AsyncBoxerClient",
    "BoxerAPIError",
    "BoxerClient",
    "BoxerConnectionError",
    "BoxerError",
    "BoxerOutputLimitError",
    "BoxerTimeoutError",
    "ResourceLimits",
    "RunResult",
    "__version__",
]
