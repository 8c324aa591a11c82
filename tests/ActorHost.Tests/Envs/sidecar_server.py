"""A sidecar for the host's tests: a stdlib HTTP server whose behaviour is chosen by its arguments.

  --openapi        serve GET /openapi.json (FastAPI-shaped: a $ref'd request body schema)
  --never-listen   never open the port
  --exit-at-start  exit with code 2 before listening
  --log FILE       append events (start, client went away) to FILE
"""
import json
import os
import select
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = sys.argv[1:]
LOG = ARGS[ARGS.index("--log") + 1] if "--log" in ARGS else None


def log(event):
    print(event, flush=True)
    if LOG:
        with open(LOG, "a") as f:
            f.write(event + "\n")


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "test sidecar", "version": "1"},
    "paths": {
        "/echo": {"post": {"summary": "Echo", "description": "Echoes its arguments.", "requestBody": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/EchoRequest"}}}}}},
        "/slow": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"seconds": {"type": "number", "default": 1}}}}}}}},
        "/health": {"get": {"summary": "Health"}},
    },
    "components": {"schemas": {"EchoRequest": {"type": "object", "required": ["x"], "properties": {
        "x": {"type": "integer"}, "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}}},
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/openapi.json" and "--openapi" in ARGS:
            return self.answer(200, OPENAPI)
        self.answer(404, {"detail": "Not Found"})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        path = self.path.strip("/")
        if path == "echo":
            return self.answer(200, {"got": body, "pid": os.getpid(), "token_seen": os.environ.get("AFFINETES_AUTH_TOKEN"),
                                     "port": os.environ.get("PORT"), "authorization": self.headers.get("Authorization")})
        if path == "slow":
            deadline = time.monotonic() + float(body.get("seconds", 1))
            while time.monotonic() < deadline:
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if readable and self.connection.recv(1, 2) == b"":  # MSG_PEEK: the peer closed
                    log("slow: client went away")
                    self.close_connection = True
                    return
            return self.answer(200, {"slept": body.get("seconds", 1)})
        if path == "text":
            data = b"plain words"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if path == "big":
            size = int(body.get("size", 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size + 2))
            self.end_headers()
            try:
                self.wfile.write(b'"')
                for _ in range(size // 65536):
                    self.wfile.write(b"x" * 65536)
                self.wfile.write(b"x" * (size % 65536) + b'"')
            except (BrokenPipeError, ConnectionResetError):
                log("big: the host stopped reading")
                self.close_connection = True
            return
        if path == "crash":
            log("crashing now")
            os._exit(3)
        if path == "fail":
            return self.answer(500, {"detail": "broken inside"})
        if path == "strict":
            return self.answer(422, {"detail": [{"loc": ["body", "task_id"], "msg": "Field required", "type": "missing"}]})
        self.answer(404, {"detail": "Not Found"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # http.server's backlog of 5 resets connections the host opens in a burst


if __name__ == "__main__":
    if "--exit-at-start" in ARGS:
        print("cannot start: missing configuration", flush=True)
        sys.exit(2)
    if "--never-listen" in ARGS:
        print("not listening", flush=True)
        time.sleep(3600)
    log(f"sidecar up pid {os.getpid()}")
    Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
