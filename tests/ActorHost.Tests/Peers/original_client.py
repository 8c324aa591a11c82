"""The Python original's client call path, as its HTTPExecutor takes it, driven against a host under test.

A stand-in written from the original's behaviour (not its code): one httpx.AsyncClient, readiness on GET /health,
methods from GET /methods, calls as POST /call {"method", "args", "kwargs"} with raise_for_status(), response.json()
and the envelope check ("status" == "success" -> "result", anything else an error). Run with Debian's python3-httpx:

    /usr/bin/python3 original_client.py http://127.0.0.1:PORT

Prints one JSON object: what each step gave, or the error the original's client would raise.
"""
import asyncio
import json
import sys

import httpx


class ExecutionError(Exception):
    pass


async def call(client, base, method, *args, **kwargs):
    try:
        response = await client.post(f"{base}/call", json={"method": method, "args": list(args), "kwargs": kwargs})
        response.raise_for_status()
        data = response.json()
        if isinstance(data, dict) and "status" in data:
            if data["status"] != "success":
                raise ExecutionError(f"Remote execution failed: {data}")
            return data.get("result")
        return data
    except httpx.HTTPStatusError as e:
        raise ExecutionError(f"HTTP {e.response.status_code}: {e.response.text}")


async def main(base):
    report = {}
    async with httpx.AsyncClient(timeout=httpx.Timeout(connect=30.0, read=None, write=30.0, pool=30.0)) as client:
        health = await client.get(f"{base}/health")
        report["health"] = [health.status_code, health.json()]
        methods = (await client.get(f"{base}/methods")).json()
        report["methods"] = sorted(m["name"] for m in methods.get("methods", []))
        report["echo"] = await call(client, base, "echo", 7, text="from the original")
        report["add"] = await call(client, base, "add", 1, b=2.5)
        report["dataclass"] = await call(client, base, "dataclass_result", task_id=3)
        report["async"] = await call(client, base, "sleep", ms=10, tag="t")
        for failing in (("fail", {"message": "model refused"}), ("no_such_method", {})):
            try:
                await call(client, base, failing[0], **failing[1])
                report[failing[0]] = "no error"
            except ExecutionError as e:
                report[failing[0]] = str(e)
    print(json.dumps(report))


asyncio.run(main(sys.argv[1].rstrip("/")))
