"""A server shaped like the Python original's (no /ready, no /methods details): /health answers at once, /call
returns the {"status","result","error"} envelope, unknown methods 404 with FastAPI's {"detail"}."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        call = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/call" and call.get("method") == "add":
            args = call.get("args", [])
            self._send(200, {"status": "success", "result": sum(args), "error": None})
        else:
            self._send(404, {"detail": f"Method not found: {call.get('method')}"})


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
