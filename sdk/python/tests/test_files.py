"""Files in (upload_file, upload_path) and out (persist, download_file)."""

import hashlib
import io
import json
import os
import threading

import pytest

from boxer import BoxerAPIError

SH = "busybox"
ALL_BYTES = bytes(range(256))


async def test_upload_bytes_and_download(client, unique):
    data = ALL_BYTES * 64 + b"\r\n--not-a-boundary--\r\n"
    assert await client.upload_file(f"{unique}/data.bin", data) == f"{unique}/data.bin"
    assert await client.download_file(f"{unique}/data.bin") == data


async def test_upload_empty(client, unique):
    assert await client.upload_file(f"{unique}/empty", b"") == f"{unique}/empty"
    assert await client.download_file(f"{unique}/empty") == b""


async def test_upload_a_file_object(client, unique, tmp_path):
    data = (
        os.urandom(3 * 1024 * 1024 // 4) * 4 + b"tail"
    )  # several chunks, not a multiple of 64 KiB
    (tmp_path / "big.bin").write_bytes(data)
    with open(tmp_path / "big.bin", "rb") as f:
        await client.upload_file(f"{unique}/big.bin", f)
    assert await client.download_file(f"{unique}/big.bin") == data


async def test_upload_reads_from_the_current_position(client, unique):
    f = io.BytesIO(b"HEADERpayload")
    f.read(6)
    await client.upload_file(f"{unique}/rest", f)
    assert await client.download_file(f"{unique}/rest") == b"payload"


async def test_upload_a_stream_of_unknown_size(client, unique):
    # A pipe: no size before it is read whole, so the body goes chunked.
    r, w = os.pipe()
    data = os.urandom(300 * 1024)

    def writer():
        with os.fdopen(w, "wb") as f:
            f.write(data)

    t = threading.Thread(target=writer)
    t.start()
    with os.fdopen(r, "rb") as f:
        await client.upload_file(f"{unique}/piped", f)
    t.join()
    assert await client.download_file(f"{unique}/piped") == data


async def test_upload_replaces(client, unique):
    await client.upload_file(f"{unique}/f.txt", b"first version, longer")
    await client.upload_file(f"{unique}/f.txt", b"second")
    assert await client.download_file(f"{unique}/f.txt") == b"second"


async def test_upload_wants_bytes(client, unique, tmp_path):
    (tmp_path / "t.txt").write_text("text")
    with open(tmp_path / "t.txt") as f, pytest.raises(TypeError, match="binary"):
        await client.upload_file(f"{unique}/t.txt", f)
    with pytest.raises(TypeError):
        await client.upload_file(f"{unique}/t.txt", "a str")


async def test_nested_path_is_mounted_read_only(client, unique):
    path = await client.upload_file(f"{unique}/a/b/c/data.txt", b"deep data\n")
    r = await client.run(SH, ["cat", f"/{path}"], files=[path])
    assert (r.exit_code, r.stdout) == (0, "deep data\n")
    r = await client.run(SH, ["sh", "-c", f"echo x >> /{path}"], files=[path])
    assert r.exit_code != 0
    assert await client.download_file(path) == b"deep data\n"


async def test_upload_path_a_file(client, unique, tmp_path):
    (tmp_path / "hello.txt").write_bytes(b"hello file\n")
    paths = await client.upload_path(tmp_path / "hello.txt", remote_prefix=unique)
    assert paths == [f"{unique}/hello.txt"]
    r = await client.run(SH, ["cat", f"/{unique}/hello.txt"], files=paths)
    assert r.stdout == "hello file\n"
    # without a prefix: its name, at the top of the store
    (tmp_path / "sdk-test-single.txt").write_bytes(b"top\n")
    assert await client.upload_path(str(tmp_path / "sdk-test-single.txt")) == [
        "sdk-test-single.txt"
    ]
    assert await client.download_file("sdk-test-single.txt") == b"top\n"


def make_tree(root):
    """A tree with nested directories, an empty one, binary content, odd names and links."""
    main = "import sys\nsys.path.insert(0, '/' + sys.argv[1])\n"
    main += "from pkg.sub.mod import VALUE\nprint(VALUE)\n"
    files = {
        "main.py": main.encode(),
        "pkg/__init__.py": b"",
        "pkg/sub/__init__.py": b"",
        "pkg/sub/mod.py": b"VALUE = 'from a nested module'\n",
        "data/blob.bin": ALL_BYTES * 100,
        "data/with space.txt": b"spaced\n",
        "data/deeper/still/leaf.txt": b"leaf\n",
    }
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    (root / "empty-dir").mkdir()
    os.symlink("data/with space.txt", root / "link-to-file.txt")  # followed: uploaded as a file
    os.symlink("data", root / "link-to-dir")  # not followed
    files["link-to-file.txt"] = files["data/with space.txt"]
    return files


async def test_upload_path_a_tree(client, unique, tmp_path):
    tree = tmp_path / "project"
    files = make_tree(tree)
    prefix = f"{unique}/proj"
    paths = await client.upload_path(tree, remote_prefix=prefix)
    assert paths == sorted(f"{prefix}/{rel}" for rel in files)  # in order, and nothing else
    # Every file is where it belongs in the sandbox, with its bytes.
    listing = 'find . -type f | while read -r f; do echo "$(md5sum < "$f" | cut -c1-32) $f"; done'
    r = await client.run(SH, ["sh", "-c", listing], cwd=f"/{prefix}", files=paths)
    assert r.exit_code == 0, r.stderr
    want = sorted(f"{hashlib.md5(c).hexdigest()} ./{rel}" for rel, c in files.items())
    assert sorted(r.stdout.splitlines()) == want
    # A program in the tree imports its nested modules.
    r = await client.run("python:3.12-slim", ["python3", f"/{prefix}/main.py", prefix], files=paths)
    assert (r.exit_code, r.stdout) == (0, "from a nested module\n"), r.stderr
    for rel, content in files.items():
        assert await client.download_file(f"{prefix}/{rel}") == content


async def test_upload_path_a_tree_under_its_name(client, tmp_path):
    tree = tmp_path / "sdk-test-tree"
    (tree / "x" / "y").mkdir(parents=True)
    (tree / "x" / "y" / "z.txt").write_bytes(b"z\n")
    (tree / "a.txt").write_bytes(b"a\n")
    assert await client.upload_path(str(tree)) == ["sdk-test-tree/a.txt", "sdk-test-tree/x/y/z.txt"]
    assert await client.download_file("sdk-test-tree/x/y/z.txt") == b"z\n"


async def test_upload_path_missing(client, tmp_path):
    with pytest.raises(FileNotFoundError):
        await client.upload_path(tmp_path / "nope")


async def test_persist_and_download(client):
    code = (
        "import os, json\n"
        "os.makedirs('/output/sub/dir', exist_ok=True)\n"
        "json.dump({'ok': True}, open('/output/result.json', 'w'))\n"
        "open('/output/sub/dir/data.bin', 'wb').write(bytes(range(256)))\n"
    )
    r = await client.run("python:3.12-slim", ["python3", "-c", code], persist=True)
    assert r.exit_code == 0, r.stderr
    assert json.loads(await client.download_file(f"output/{r.exec_id}/result.json")) == {"ok": True}
    assert await client.download_file(f"output/{r.exec_id}/sub/dir/data.bin") == ALL_BYTES


async def test_without_persist_nothing_is_kept(client):
    r = await client.run(SH, ["sh", "-c", "echo 42 > /output/result.txt"])
    assert r.exit_code == 0
    with pytest.raises(BoxerAPIError) as e:
        await client.download_file(f"output/{r.exec_id}/result.txt")
    assert e.value.status_code == 404 and str(e.value) == "file not found"


async def test_file_workflow_of_the_api_docs(client, tmp_path):
    # seed 000: upload workspace/script.py, run it at /workspace/script.py
    (tmp_path / "script.py").write_bytes(
        b"import os\nprint('hello from', os.path.abspath(__file__))\n"
    )
    with open(tmp_path / "script.py", "rb") as f:
        assert await client.upload_file("workspace/script.py", f) == "workspace/script.py"
    r = await client.run(
        "python:3.12-slim", ["python3", "/workspace/script.py"], files=["workspace/script.py"]
    )
    assert (r.exit_code, r.stdout) == (0, "hello from /workspace/script.py\n")
