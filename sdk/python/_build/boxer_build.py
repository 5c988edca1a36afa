"""The boxer-sdk package's own PEP 517/660 build backend, standard library only.

pip builds a package in an isolated environment holding only the backend's requirements. With
setuptools as the backend, `pip install -e sdk/python` would first fetch setuptools from an index,
which an offline machine cannot do. This backend needs nothing: it writes the wheel (or, for an
editable install, a wheel holding a .pth file that points at this directory) itself.
"""

import base64
import hashlib
import os
import zipfile

NAME = "boxer_sdk"
VERSION = "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "py3-none-any"

METADATA = f"""Metadata-Version: 2.1
Name: boxer-sdk
Version: {VERSION}
Summary: Python client for Boxer, the sandboxed code-execution service
Requires-Python: >=3.9
Requires-Dist: httpx>=0.23
Provides-Extra: dev
Requires-Dist: pytest>=7; extra == "dev"
Requires-Dist: pytest-asyncio>=0.20; extra == "dev"
"""

WHEEL = f"""Wheel-Version: 1.0
Generator: boxer_build
Root-Is-Purelib: true
Tag: {TAG}
"""


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, files):
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = dict(files)
    files[f"{dist_info}/METADATA"] = METADATA.encode()
    files[f"{dist_info}/WHEEL"] = WHEEL.encode()
    files[f"{dist_info}/top_level.txt"] = b"boxer\n"
    record = [_record_line(p, d) for p, d in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    name = f"{NAME}-{VERSION}-{TAG}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return name


def _package_files():
    files = {}
    pkg = os.path.join(ROOT, "boxer")
    for entry in sorted(os.listdir(pkg)):
        full = os.path.join(pkg, entry)
        if os.path.isfile(full) and (entry.endswith(".py") or entry == "py.typed"):
            with open(full, "rb") as f:
                files[f"boxer/{entry}"] = f.read()
    return files


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _package_files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, {f"{NAME}.pth": (ROOT + "\n").encode()})


def build_sdist(sdist_directory, config_settings=None):
    import tarfile

    base = f"boxer-sdk-{VERSION}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ("pyproject.toml", "README.md", "boxer", "_build"):
            t.add(os.path.join(ROOT, rel), arcname=f"{base}/{rel}",
                  filter=lambda i: None if "__pycache__" in i.name else i)
    return name
