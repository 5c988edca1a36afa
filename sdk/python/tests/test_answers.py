"""How the clients read the server's answers, including the ones a live boxerd does not give
(a proxy's HTML error, a malformed body): each against httpx's MockTransport, no server."""
import asyncio
import io
import pickle
from typing import Any, Callable

import httpx
import pytest

from boxer import (
    AsyncBoxerClient,
    BoxerAPIError,
    BoxerClient,
    BoxerError,
    BoxerOutputLimitError,
    BoxerTimeoutError,
)

URL = "http://boxer.test"


def sync_client(handler: Callable[[httpx.Request], httpx.Response]) -> BoxerClient:
    c = BoxerClient(URL)
    c._http = httpx.Client(base_url=URL, transport=httpx.MockTransport(handler))
    return c


def async_call(handler: Callable[[httpx.Request], httpx.Response], call: Any) -> Any:
    async def go() -> Any:
        c = AsyncBoxerClient(URL)
        c._http = httpx.AsyncClient(base_url=URL, transport=httpx.MockTransport(handler))
        try:
            return await call(c)
        finally:
            await c.close()

    return asyncio.run(go())


def answer(status: int, **kwargs: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, **kwargs)


def test_an_html_error_page_is_an_api_error_with_its_text() -> None:
    c = sync_client(answer(502, text="<html>bad gateway</html>"))
    with pytest.raises(BoxerAPIError) as e:
        c.run("busybox", ["true"])
    assert e.value.status_code == 502
    assert "<html>bad gateway</html>" in str(e.value)


def test_a_full_queue_is_a_503_api_error_with_the_servers_message() -> None:
    msg = "too many runs: 4 running and 64 queued"
    with pytest.raises(BoxerAPIError) as e:
        sync_client(answer(503, json={"error": msg})).run("busybox", ["true"])
    assert e.value.status_code == 503 and e.value.message == msg


def test_408_and_507_keep_the_partial_output_and_survive_pickling() -> None:
    body = {"error": "execution timed out after 2000ms", "exec_id": "boxer-1",
            "stdout": "partial", "stderr": ""}
    with pytest.raises(BoxerTimeoutError) as e:
        sync_client(answer(408, json=body)).run("busybox", ["sleep", "9"])
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is BoxerTimeoutError and vars(again) == vars(e.value)
    assert again.stdout == "partial" and again.exec_id == "boxer-1"
    body["error"] = "output limit exceeded: limit=10 bytes"
    with pytest.raises(BoxerOutputLimitError):
        sync_client(answer(507, json=body)).run("busybox", ["yes"])


def test_a_run_answer_with_a_float_or_a_missing_field_is_refused() -> None:
    good = {"exec_id": "boxer-1", "exit_code": 0, "stdout": "", "stderr": "", "wall_ms": 312}
    assert sync_client(answer(200, json=good)).run("busybox", ["true"]).wall_ms == 312
    for bad in ({**good, "wall_ms": 312.0}, {k: v for k, v in good.items() if k != "exit_code"}):
        with pytest.raises(BoxerError, match="unexpected answer"):
            sync_client(answer(200, json=bad)).run("busybox", ["true"])
    with pytest.raises(BoxerError):
        sync_client(answer(200, text="not json")).run("busybox", ["true"])


def test_an_upload_answer_without_its_path_is_refused() -> None:
    with pytest.raises(BoxerError, match="no path in the answer"):
        sync_client(answer(200, json={})).upload_file("a.txt", b"x")
    with pytest.raises(BoxerError, match="no path in the answer"):
        async_call(answer(200, json={"ok": True}), lambda c: c.upload_file("a.txt", b"x"))


def test_a_misspelled_limit_is_a_type_error_not_a_limit_the_server_ignores() -> None:
    sent = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={"error": "unused"})

    with pytest.raises(TypeError):
        sync_client(handler).run("busybox", ["true"], limits={"memory": 64})
    assert not sent  # refused before anything was sent


def test_the_async_upload_streams_the_same_body_as_the_sync_one() -> None:
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.headers["content-type"].split("boundary=")[0], request.read()))
        return httpx.Response(200, json={"path": "a.txt"})

    data = b"0123456789" * 10000
    assert sync_client(handler).upload_file("a.txt", io.BytesIO(data)) == "a.txt"
    assert async_call(handler, lambda c: c.upload_file("a.txt", io.BytesIO(data))) == "a.txt"
    assert bodies[0][0] == bodies[1][0]
    # the same parts apart from the boundary string; the file's bytes whole in both
    assert all(data in b for _, b in bodies)
