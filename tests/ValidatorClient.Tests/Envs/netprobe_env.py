"""What an untrusted actor might try from inside its container: connect anywhere, read its environment, use the LLM."""
import base64
import http.client
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request


class Actor:
    def connect(self, host: str, port: int, timeout: float = 3.0):
        """'connected', or the OS error a TCP connection to host:port gave."""
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return "connected"
        except OSError as e:
            return f"{type(e).__name__}: {e}"

    def environment(self):
        return dict(os.environ)

    def whoami(self):
        return {"uid": os.getuid(), "gid": os.getgid()}

    def chat(self, model: str, content: str = "hi", stream: bool = False, max_tokens: int = 0, base_url: str = ""):
        """One chat completion through OPENAI_BASE_URL with OPENAI_API_KEY: the status and the body (or the SSE lines)."""
        url = (base_url or os.environ["OPENAI_BASE_URL"]).rstrip("/") + "/chat/completions"
        body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
        if max_tokens:
            body["max_tokens"] = max_tokens
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/json", "Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                if stream:
                    lines = [line.decode().rstrip("\n") for line in response if line.strip()]
                    return {"status": response.status, "content_type": response.headers.get("Content-Type"), "lines": lines}
                return {"status": response.status, "body": response.read().decode()}
        except urllib.error.HTTPError as e:
            return {"status": e.code, "body": e.read().decode()}

    def tunnel(self, host: str, port: int, send: str = "ping\n"):
        """Opens a CONNECT tunnel to host:port through HTTPS_PROXY and exchanges one line: the proxy's status and the reply."""
        proxy = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"]) if "HTTPS_PROXY" in os.environ else None
        if proxy is None:
            return {"status": None, "reply": "no HTTPS_PROXY"}
        auth = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
        with socket.create_connection((proxy.hostname, proxy.port), timeout=10) as s:
            s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else None
            if status != 200:
                return {"status": status, "reply": None}
            s.sendall(send.encode())
            reply = s.recv(4096).decode()
            return {"status": status, "reply": reply}
