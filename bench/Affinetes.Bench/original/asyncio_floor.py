"""The floor of the Python async workload: the least a Python server does for it, with nothing of ours or of the
original's in the way. A bare asyncio HTTP/1.1 server (stdlib only, one event loop, asyncio.Protocol) that answers
the bench's /call bodies as the bench env.py does: `evaluate` awaits the same asyncio.sleep(delay_ms / 1000), `echo`
returns its arguments, in the same success envelope. It reads requests one at a time per connection (as wrk sends
them) and writes each answer whole.

    PORT=8000 python3 asyncio_floor.py
"""
import asyncio
import json
import os


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body, self.buffer = self.buffer[end + 4:total], self.buffer[total:]
            asyncio.get_running_loop().create_task(self.answer(body))

    def connection_lost(self, exc):
        self.transport = None

    async def answer(self, body):
        kwargs = json.loads(body).get("kwargs", {}) if body else {}
        if "delay_ms" in kwargs:
            await asyncio.sleep(kwargs["delay_ms"] / 1000)
            result = {"task_id": kwargs.get("task_id"), "score": 1.0, "success": True}
        else:
            result = kwargs
        out = json.dumps({"status": "success", "result": result, "error": None}).encode()
        if self.transport is not None:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(out) + out)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", int(os.environ.get("PORT", "8000")), backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
