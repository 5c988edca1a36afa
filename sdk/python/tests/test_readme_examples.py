"""Every example of the README (the seed's examples, as printed there) runs as written.

The README's runnable blocks are marked ``<!-- example: NAME -->``. Each runs twice:

- ``[sync]``: the block as it is, with ``client`` a BoxerClient when the block uses one without
  making it; ``http://localhost:8080`` is replaced by BOXER_URL, nothing else changes.
- ``[async]``: the same block made asynchronous mechanically (``client.<method>(`` becomes
  ``await client.<method>(``, ``with BoxerClient(`` becomes ``async with AsyncBoxerClient(``),
  in a coroutine given an AsyncBoxerClient. The ``async`` example is asynchronous already: it
  runs once, as it is.

What the example prints (its ``# ...`` comments) and the values it leaves are checked.
"""

import asyncio
import json
import re
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from boxer import AsyncBoxerClient, BoxerClient, RunResult

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES: Dict[str, str] = dict(
    re.findall(r"<!-- example: (\S+) -->\n```python\n(.*?)```", README.read_text(), re.S)
)
SEED_URL = "http://localhost:8080"


def test_the_readme_has_every_example() -> None:
    assert sorted(EXAMPLES) == sorted(CHECKS), "README examples and their checks differ"


def to_async(code: str) -> str:
    code = re.sub(
        r"\bclient\.(run|upload_file|upload_path|download_file|health)\(", r"await client.\1(", code
    )
    code = code.replace("with BoxerClient(", "async with AsyncBoxerClient(")
    code = code.replace("import BoxerClient", "import AsyncBoxerClient")
    return (
        "async def example(client):\n" + textwrap.indent(code, "    ") + "\n    return locals()\n"
    )


def run_example(name: str, kind: str, url: str) -> Dict[str, Any]:
    code = EXAMPLES[name].replace(SEED_URL, url)
    if kind == "sync":
        with BoxerClient(url) as client:
            ns: Dict[str, Any] = {"client": client, "__name__": "example"}
            exec(compile(code, f"README:{name}", "exec"), ns)
            return ns
    if name == "async":  # asynchronous already
        ns = {"__name__": "example"}
        exec(compile(code, f"README:{name}", "exec"), ns)
        return ns
    ns = {"__name__": "example"}
    exec(compile(to_async(code), f"README:{name}[async]", "exec"), ns)

    async def main() -> Dict[str, Any]:
        async with AsyncBoxerClient(url) as client:
            return await ns["example"](client)

    return asyncio.run(main())


# --- what each example must print and leave ----------------------------------------------------


def hello_world(ns: Dict[str, Any], out: str) -> None:
    assert out == "hello world\n\n"  # print() of stdout "hello world\n"
    if "result" in ns:
        assert isinstance(ns["result"], RunResult) and ns["result"].exit_code == 0


def quick_start(ns: Dict[str, Any], out: str) -> None:
    lines = out.split("\n")
    assert lines[:4] == ["hello world", "", "", "0"], out  # stdout, stderr (empty), exit_code
    assert re.fullmatch(r"\d+", lines[4]) and lines[5:] == [""], out  # wall_ms, e.g. 312
    r = ns["result"]
    assert (r.stdout, r.stderr, r.exit_code) == ("hello world\n", "", 0)
    assert isinstance(r.wall_ms, int) and r.wall_ms >= 0


def upload_script(ns: Dict[str, Any], out: str) -> None:
    r = ns["result"]
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hello from /script.py\n", "")


def upload_directory(ns: Dict[str, Any], out: str) -> None:
    assert ns["paths"] == ["proj/lib/util.py", "proj/main.py"]
    r = ns["result"]
    assert (r.exit_code, r.stdout, r.stderr) == (0, "util says hello\n", "")


def download_output(ns: Dict[str, Any], out: str) -> None:
    assert out == """b'{"message": "hello world", "value": 42}'\n"""
    assert json.loads(ns["data"]) == {"message": "hello world", "value": 42}
    assert ns["result"].exit_code == 0


def limits(ns: Dict[str, Any], out: str) -> None:
    r = ns["result"]
    assert (r.exit_code, r.stdout) == (0, "done\n")
    assert ns["limits"].to_dict() == {"cpu_cores": 0.5, "memory_mb": 128, "wall_clock_secs": 10}


def errors(ns: Dict[str, Any], out: str) -> None:
    assert out == "execution timed out\n"


CHECKS: Dict[str, Callable[[Dict[str, Any], str], None]] = {
    "quick-start": quick_start,
    "python": hello_world,
    "node": hello_world,
    "perl": hello_world,
    "upload-script": upload_script,
    "upload-directory": upload_directory,
    "download-output": download_output,
    "limits": limits,
    "async": hello_world,
    "errors": errors,
}

# The files the examples open in their working directory.
SCRIPT_PY = 'import os\nprint("hello from", os.path.abspath(__file__))\n'
MAIN_PY = (
    "import os, sys\n"
    "sys.path.insert(0, os.path.dirname(__file__))\n"
    "from lib.util import hello\n"
    "hello()\n"
)
UTIL_PY = 'def hello():\n    print("util says hello")\n'


def prepare(name: str, tmp: Path) -> None:
    (tmp / "script.py").write_text(SCRIPT_PY)
    code = re.search(r'code = """(.*?)"""', EXAMPLES["download-output"], re.S)
    assert code, "the download example defines code"
    (tmp / "compute.py").write_text(code.group(1))
    (tmp / "proj" / "lib").mkdir(parents=True)
    (tmp / "proj" / "main.py").write_text(MAIN_PY)
    (tmp / "proj" / "lib" / "util.py").write_text(UTIL_PY)


PARAMS = [
    pytest.param(name, kind, id=f"{name}-{kind}")
    for name in CHECKS
    for kind in ("sync", "async")
    if not (name == "async" and kind == "sync")
]


@pytest.mark.parametrize("name,kind", PARAMS)
def test_readme_example(
    name: str, kind: str, boxer_url: str, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    prepare(name, tmp_path)
    monkeypatch.chdir(tmp_path)
    ns = run_example(name, kind, boxer_url)
    out = capsys.readouterr().out
    CHECKS[name](ns, out)
