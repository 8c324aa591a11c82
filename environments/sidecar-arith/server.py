"""sidecar-arith: an environment that runs its own HTTP server (Python standard library, no framework).

The ActorHost starts this server (sidecar.json), gives it its port in $PORT, and forwards each call to
POST /<method> with the keyword arguments as a JSON object. GET /openapi.json describes the methods, so the host's
/methods and /openapi.json show them with their parameters.
"""
import json
import os
import random
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def generate(task_id, seed=0):
    """The multiplication problem for (task_id, seed) and its answer."""
    rng = random.Random(f"{seed}:{task_id}")
    a, b = rng.randint(10, 999), rng.randint(10, 999)
    return {"task_id": task_id, "seed": seed, "prompt": f"What is {a} * {b}?", "expected": a * b}


def evaluate(task_id, answer=None, seed=0, **kwargs):
    """Scores an answer to problem (task_id, seed): 1.0 when right."""
    expected = generate(task_id, seed)["expected"]
    return {"task_id": task_id, "seed": seed, "answer": answer, "expected": expected,
            "score": 1.0 if answer == expected else 0.0, "success": answer is not None}


METHODS = {"generate": generate, "evaluate": evaluate}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "sidecar-arith", "version": "1.0"},
    "paths": {
        "/generate": {"post": {"description": generate.__doc__, "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "required": ["task_id"],
            "properties": {"task_id": {"type": "integer"}, "seed": {"type": "integer", "default": 0}}}}}}}},
        "/evaluate": {"post": {"description": evaluate.__doc__, "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "required": ["task_id"], "additionalProperties": True,
            "properties": {"task_id": {"type": "integer"}, "answer": {"type": "integer"},
                           "seed": {"type": "integer", "default": 0}}}}}}}},
    },
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the host reuses its connections
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (Nagle + delayed ACK)

    def do_GET(self):
        if self.path == "/openapi.json":
            return self._answer(200, OPENAPI)
        self._answer(404, {"detail": "Not Found"})

    def do_POST(self):
        method = METHODS.get(self.path.strip("/"))
        if method is None:
            return self._answer(404, {"detail": f"no method {self.path}"})
        try:
            kwargs = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            self._answer(200, method(**kwargs))
        except TypeError as e:
            self._answer(422, {"detail": str(e)})
        except Exception as e:
            self._answer(500, {"detail": f"{type(e).__name__}: {e}"})

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # the host logs every call


class Server(ThreadingHTTPServer):
    # The host opens a connection per concurrent call. With http.server's listen backlog of 5, a burst of new
    # connections (the first calls of a load) overflows the queue, and the kernel resets some of them.
    request_queue_size = 128


if __name__ == "__main__":
    print(f"sidecar-arith listening on 127.0.0.1:{os.environ['PORT']}", flush=True)
    Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
