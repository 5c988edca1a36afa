#!/usr/bin/python3
"""Converts Boxer's OpenAPI document from YAML to JSON: openapi-json.py IN.yaml OUT.json

Needs PyYAML (Debian: python3-yaml). Refuses what JSON cannot hold (a YAML date, a non-string
key); OUT is replaced atomically, so boxerd never serves half a file.
"""
import json
import os
import sys
import tempfile

import yaml


def check(node, where="$"):
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                raise SystemExit(f"openapi-json: {where}: key {k!r} is not a string (quote it)")
            check(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check(v, f"{where}[{i}]")
    elif node is not None and not isinstance(node, (str, int, float, bool)):
        raise SystemExit(f"openapi-json: {where}: {type(node).__name__} is not JSON (quote it)")


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: openapi-json.py IN.yaml OUT.json")
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        raise SystemExit(f"openapi-json: {src}: not a YAML mapping")
    check(doc)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dst)), prefix=".openapi.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except BaseException:
        os.unlink(tmp)
        raise


if __name__ == "__main__":
    main()
