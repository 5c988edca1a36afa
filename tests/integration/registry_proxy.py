#!/usr/bin/env python3
"""A test fixture in front of a real docker-registry: a Bearer token server, faults, redirects.

    registry_proxy.py --upstream 127.0.0.1:PORT [--bearer USER:PASS | --bearer-anonymous]
                      [--fault MODE] [--redirect] [--ready-file FILE]

It listens on 127.0.0.1 on a free port and writes "PORT" to --ready-file (or stdout) once ready.

--bearer USER:PASS   answers 401 with a Bearer challenge (realm = this proxy's /token) until the
                     request carries a token; /token wants Basic USER:PASS and gives a token for
                     60 s. --bearer-anonymous gives tokens without credentials (Docker Hub's way).
--fault MODE         for blob GETs: "corrupt" flips a byte in the middle; "truncate" closes the
                     connection halfway; "error500:N" answers 500 to the first N blob requests;
                     "stall" sends half the body then waits forever (the client must time out);
                     "cut-once" closes halfway the first time, then serves (ranges honoured).
--redirect           answers blob GETs with a 307 to a second listener (another origin, a
                     different port) that refuses any request carrying an Authorization header.

Counters are served at GET /_stats as JSON. Stop it with SIGTERM.
"""
import argparse
import http.client
import http.server
import json
import secrets
import signal
import socketserver
import sys
import threading
import time
import base64

STATS = {"requests": 0, "blob_requests": 0, "token_requests": 0, "redirected": 0,
         "auth_leaks": 0, "range_requests": 0}
TOKENS = {}
LOCK = threading.Lock()


def bump(key):
    with LOCK:
        STATS[key] += 1
        return STATS[key]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    opts = None
    redirect_port = None

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def token_ok(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        with LOCK:
            exp = TOKENS.get(auth[7:])
        return exp is not None and exp > time.time()

    def do_token(self):
        bump("token_requests")
        if self.opts.bearer != "anonymous":
            want = "Basic " + base64.b64encode(self.opts.bearer.encode()).decode()
            if self.headers.get("Authorization") != want:
                self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                return
        token = secrets.token_hex(16)
        with LOCK:
            TOKENS[token] = time.time() + 60
        self.send_json(200, {"token": token, "expires_in": 60})

    def do_GET(self):
        bump("requests")
        if self.path == "/_stats":
            with LOCK:
                self.send_json(200, dict(STATS))
            return
        if self.path.startswith("/token"):
            self.do_token()
            return
        if self.opts.bearer and not self.token_ok():
            repo = self.path.split("/")[2:-2]
            realm = "http://127.0.0.1:%d/token" % self.server.server_address[1]
            challenge = ('Bearer realm="%s",service="boxer-test",scope="repository:%s:pull"'
                         % (realm, "/".join(repo)))
            self.send_json(401, {"errors": [{"code": "UNAUTHORIZED"}]},
                           [("WWW-Authenticate", challenge)])
            return
        is_blob = "/blobs/" in self.path
        if is_blob and self.opts.redirect:
            bump("redirected")
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:%d%s" % (self.redirect_port, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.forward(is_blob)

    def forward(self, is_blob):
        n = bump("blob_requests") if is_blob else 0
        if self.headers.get("Range"):
            bump("range_requests")
        fault = self.opts.fault if is_blob else None
        if fault and fault.startswith("error500:") and n <= int(fault.split(":")[1]):
            self.send_json(500, {"errors": [{"code": "UNKNOWN", "message": "injected"}]})
            return
        conn = http.client.HTTPConnection(self.opts.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range")}
        conn.request("GET", self.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                self.send_header(k, v)
        self.end_headers()
        if not fault or resp.status >= 300 or len(body) < 2:
            self.wfile.write(body)
            return
        half = len(body) // 2
        if fault == "corrupt":
            body = body[:half] + bytes([body[half] ^ 0xFF]) + body[half + 1:]
            self.wfile.write(body)
        elif fault == "truncate" or (fault == "cut-once" and n == 1):
            self.wfile.write(body[:half])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif fault == "stall":
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(3600)
        else:
            self.wfile.write(body)


class NoAuthTarget(Proxy):
    """The other origin of a redirect: it must never see the registry's credentials."""

    def do_GET(self):
        if self.headers.get("Authorization"):
            bump("auth_leaks")
            self.send_json(400, {"errors": [{"code": "AUTH_LEAKED"}]})
            return
        self.forward(True)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--bearer")
    ap.add_argument("--bearer-anonymous", action="store_true")
    ap.add_argument("--fault")
    ap.add_argument("--redirect", action="store_true")
    ap.add_argument("--ready-file")
    opts = ap.parse_args()
    if opts.bearer_anonymous:
        opts.bearer = "anonymous"
    Proxy.opts = opts
    if opts.redirect:
        target = Server(("127.0.0.1", 0), NoAuthTarget)
        Proxy.redirect_port = target.server_address[1]
        threading.Thread(target=target.serve_forever, daemon=True).start()
    srv = Server(("127.0.0.1", 0), Proxy)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    port = str(srv.server_address[1])
    if opts.ready_file:
        with open(opts.ready_file + ".tmp", "w") as f:
            f.write(port)
        import os
        os.rename(opts.ready_file + ".tmp", opts.ready_file)
    else:
        print(port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
