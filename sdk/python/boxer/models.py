"""The values the Boxer API takes and returns: :class:`ResourceLimits` and :class:`RunResult`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Optional

__all__ = ["ResourceLimits", "RunResult"]


@dataclass
class ResourceLimits:
    """Per-run resource limits (the ``limits`` object of ``POST /run``).

    Only the fields that are set (not ``None``) are sent; the server applies its configured
    default to the others. ``0`` also means the configured default; the server refuses a
    negative value (400) and a value over its configured maximum.

    Attributes:
        cpu_cores: CPU time as a number of cores (``0.5`` is half of one core).
        memory_mb: memory limit in MiB.
        wall_clock_secs: the run is killed after this many seconds (the call then raises
            :class:`~boxer.BoxerTimeoutError`).
        pids_limit: maximum number of processes and threads in the sandbox.
        nofile: maximum number of open files per process.
    """

    cpu_cores: Optional[float] = None
    memory_mb: Optional[int] = None
    wall_clock_secs: Optional[int] = None
    pids_limit: Optional[int] = None
    nofile: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object sent to the server: the fields that are set, and only those."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class RunResult:
    """The outcome of a run that the server completed (HTTP 200).

    A result does not mean the command succeeded: check :attr:`exit_code`.

    Attributes:
        exec_id: the run's id (``boxer-<uuid4>``); files it wrote to ``/output`` are stored at
            ``output/<exec_id>/...`` when it ran with ``persist=True``.
        exit_code: the command's exit status, or 128 + the signal number when a signal ended it.
        stdout: what the command wrote to stdout (bytes that are not UTF-8 are replaced).
        stderr: what the command wrote to stderr.
        wall_ms: the run's wall-clock time in milliseconds.
    """

    exec_id: str
    exit_code: int
    stdout: str
    stderr: str
    wall_ms: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunResult":
        """Builds a result from the JSON body of a ``POST /run`` 200 answer.

        Raises:
            ValueError: a field is missing or has the wrong type.
        """
        types = {"exec_id": str, "exit_code": int, "stdout": str, "stderr": str, "wall_ms": int}
        values: Dict[str, Any] = {}
        for name, typ in types.items():
            value = data.get(name)
            # bool is an int in Python, not in JSON
            if not isinstance(value, typ) or isinstance(value, bool):
                raise ValueError(f"field {name!r} is {value!r}, not a {typ.__name__}")
            values[name] = value
        return cls(**values)
