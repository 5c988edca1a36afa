#!/usr/bin/python3
"""Checks Boxer's OpenAPI document against the HTTP contract (docs/http-contract.md).

usage: openapi_contract.py DOC.yaml CONTRACT.md

From the contract's text, without a list of its own:
- every `METHOD /path` it names is an operation of the document;
- every HTTP status code (or "non-2xx") it gives in the part about one operation (a `## METHOD /path` section,
  or a bullet that names the operation) is a response of that operation, and every other status
  code it gives is a response of some operation;
- every request field of its POST /run table is a property of the request body schema, of the
  type it says, and so are the `limits` fields (numbers or integers as it says);
- every field of its POST /run `200` body is a required property of the response schema, JSON
  integers (`<int>`) typed `integer`.
And what the contract says of every response: each error (4xx, 5xx) answered as JSON is an
`Error` (`{"error": string}`, or an allOf holding it).

Prints one PASS/FAIL line per check; exits 1 when any fails.
"""
import http
import re
import sys

import yaml

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD")
OP_RE = re.compile(r"\b(%s) (/[A-Za-z0-9_.{}/-]*)" % "|".join(METHODS))
CODE_RE = re.compile(r"(?<![\w.])([1-5][0-9]{2})(?![\w.])")
HTTP_CODES = {int(s) for s in http.HTTPStatus}

failures = 0


def check(ok, what):
    global failures
    print(("PASS: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1


def codes_in(text):
    return {int(c) for c in CODE_RE.findall(text) if int(c) in HTTP_CODES}


def ops_in(text):
    return {(m.lower(), p) for m, p in OP_RE.findall(text)}


def contract_facts(lines):
    """The operations, and the status codes given for each (None: not about one operation)."""
    ops, codes = set(), {}
    section_ops, bullet_ops = set(), None
    for line in lines:
        named = ops_in(line)
        ops |= named
        if line.startswith("#"):
            section_ops, bullet_ops = named, None
        elif line.startswith("- "):
            bullet_ops = named or None
        elif not line.startswith((" ", "\t")):
            bullet_ops = None
        scope = bullet_ops or section_ops
        if "non-2xx" in line:
            for op in scope or [None]:
                codes.setdefault(op, set()).add("non-2xx")
        for code in codes_in(line):
            for op in scope or [None]:
                codes.setdefault(op, set()).add(code)
    return ops, codes


def section(lines, title):
    out, inside = [], False
    for line in lines:
        if line.startswith("## "):
            inside = line[3:].strip() == title
        elif inside:
            out.append(line)
    return out


class BadDocument(Exception):
    pass


class Doc:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise BadDocument(f"external $ref {ref} is not supported")
            node = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise BadDocument(f"$ref {ref} points at nothing")
                node = node[part]
            seen += 1
            if seen > 32:
                raise BadDocument(f"$ref loop at {ref}")
        return node

    def op(self, method, path):
        item = (self.doc.get("paths") or {}).get(path)
        return self.resolve(item).get(method) if isinstance(item, dict) else None

    def operations(self):
        for path, item in (self.doc.get("paths") or {}).items():
            item = self.resolve(item)
            for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                if isinstance(item.get(method), dict):
                    yield method, path, item[method]

    def properties(self, schema):
        """Properties and required names of an object schema, through allOf."""
        schema = self.resolve(schema)
        props, required = dict(schema.get("properties") or {}), set(schema.get("required") or [])
        for part in schema.get("allOf") or []:
            p, r = self.properties(part)
            props.update(p)
            required |= r
        return props, required

    def schema_type(self, schema):
        schema = self.resolve(schema)
        if "type" in schema:
            return schema["type"]
        for part in schema.get("allOf") or []:
            t = self.schema_type(part)
            if t:
                return t
        return None

    def is_error(self, schema):
        props, required = self.properties(schema)
        err = props.get("error")
        return err is not None and self.schema_type(err) == "string" and "error" in required


def json_schema(doc, op_or_resp, body_key):
    """The application/json schema of a request body or response, or None."""
    node = doc.resolve(op_or_resp.get(body_key)) if body_key else op_or_resp
    content = (doc.resolve(node) or {}).get("content") or {}
    media = content.get("application/json")
    return media.get("schema") if isinstance(media, dict) else None


def contract_type(text):
    text = text.strip("` ")
    if text.startswith("array"):
        return "array"
    for t in ("string", "boolean", "object", "integer", "number"):
        if text.startswith(t):
            return t
    return None


def check_run_request(doc, run_lines):
    op = doc.op("post", "/run")
    schema = json_schema(doc, op, "requestBody") if op else None
    if schema is None:
        check(False, "POST /run has an application/json request body")
        return
    props, required = doc.properties(schema)
    for line in run_lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`\w+`", cells[0]):
            continue
        name, want = cells[0].strip("`"), contract_type(cells[1])
        got = doc.schema_type(props[name]) if name in props else None
        check(got == want, f"POST /run request field {name}: {want} (document: {got})")
        if "required" in cells[2]:
            check(name in required, f"POST /run request field {name} is required")
        if name == "limits" and name in props:
            check_limits(doc, props[name], cells[2])


def check_limits(doc, schema, rule):
    props, _ = doc.properties(schema)
    pending = []
    for name, kind in re.findall(r"`([A-Za-z_]\w*)`(?: \((\w+)\))?", rule):
        pending.append(name)
        if kind:
            want = {"number": "number", "numbers": "number",
                    "integer": "integer", "integers": "integer"}[kind]
            for n in pending:
                got = doc.schema_type(props[n]) if n in props else None
                check(got == want, f"POST /run limits.{n}: {want} (document: {got})")
            pending = []


def check_run_response(doc, run_lines):
    text = "\n".join(run_lines)
    m = re.search(r"`(\{\"exec_id\".*?\})`", text)
    if not m:
        check(False, "the contract gives the POST /run 200 body")
        return
    op = doc.op("post", "/run")
    resp = doc.resolve(((op or {}).get("responses") or {}).get("200") or {})
    schema = json_schema(doc, resp, None)
    props, required = doc.properties(schema) if schema else ({}, set())
    for name, value in re.findall(r'"(\w+)": (<int>|"[^"]*")', m.group(1)):
        want = "integer" if value == "<int>" else "string"
        got = doc.schema_type(props[name]) if name in props else None
        check(got == want and name in required,
              f"POST /run 200 field {name}: required {want} (document: {got}, "
              f"{'required' if name in required else 'optional'})")


def main():
    try:
        run()
    except (BadDocument, KeyError, TypeError, AttributeError) as e:
        check(False, f"the document can be read as OpenAPI: {type(e).__name__}: {e}")
    print(f"openapi_contract: {failures} failed")
    sys.exit(1 if failures else 0)


def run():
    if len(sys.argv) != 3:
        raise SystemExit("usage: openapi_contract.py DOC.yaml CONTRACT.md")
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = Doc(yaml.safe_load(f))
    with open(sys.argv[2], encoding="utf-8") as f:
        lines = f.read().splitlines()

    ops, codes = contract_facts(lines)
    check(len(ops) >= 4, f"the contract names {len(ops)} operations")
    for method, path in sorted(ops):
        check(doc.op(method, path) is not None, f"{method.upper()} {path} is in the document")
    all_codes = set()
    for method, path, op in doc.operations():
        all_codes |= {str(c) for c in (op.get("responses") or {})}
    for scope, wanted in sorted(codes.items(), key=lambda kv: str(kv[0])):
        for code in sorted(wanted, key=str):
            if code == "non-2xx":
                if scope is None:
                    check(any(c[0] in "345" for c in all_codes), "some response is non-2xx")
                else:
                    responses = (doc.op(*scope) or {}).get("responses") or {}
                    check(any(str(c)[0] in "345" for c in responses),
                          f"{scope[0].upper()} {scope[1]} has a non-2xx response")
                continue
            if scope is None:
                check(str(code) in all_codes, f"status {code} is a response of some operation")
                continue
            method, path = scope
            responses = (doc.op(method, path) or {}).get("responses") or {}
            check(str(code) in responses, f"{method.upper()} {path} answers {code}")

    run_lines = section(lines, "POST /run")
    check_run_request(doc, run_lines)
    check_run_response(doc, run_lines)

    for method, path, op in doc.operations():
        for code, resp in (op.get("responses") or {}).items():
            if not str(code)[0] in "45":
                continue
            schema = json_schema(doc, doc.resolve(resp), None)
            check(schema is not None and doc.is_error(schema),
                  f"{method.upper()} {path} {code} is a JSON Error")


if __name__ == "__main__":
    main()
