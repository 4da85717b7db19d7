#!/usr/bin/env python3
"""A stand-in for `phx worker`'s HTTP API (until the worker daemon exists), for
the CLI test: /healthz, POST /v1/contracts (keeps the body, answers its id and
code hash), POST /v1/contracts/<id>/call (echoes the plain input). Every body
it receives is appended to BODIES so the test can check what left the client.
Prints its port on stdout once listening."""
import hashlib, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

bodies = open(sys.argv[1], "a")
contracts = {}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self.reply(200, {"status": "ok", "address": "0x" + "11" * 20})
        self.reply(404, {"error": {"code": "not_found", "message": self.path}})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        bodies.write(body.decode() + "\n")
        bodies.flush()
        req = json.loads(body)
        if self.path == "/v1/contracts":
            contracts[req["id"].lower()] = req
            return self.reply(200, {"id": req["id"], "code_hash": req["code_hash"]})
        parts = self.path.split("/")
        if len(parts) == 5 and parts[4] == "call":
            if parts[3].lower() not in contracts:
                return self.reply(404, {"error": {"code": "not_found", "message": "no contract"}})
            return self.reply(200, {"kind": "direct", "contract_id": parts[3],
                                    "output": req.get("input"), "logs": ["called"]})
        self.reply(404, {"error": {"code": "not_found", "message": self.path}})


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
