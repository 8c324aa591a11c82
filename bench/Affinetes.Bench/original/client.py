"""A stand-in for the Python original's client call path, used only as the client benchmark's baseline.

It reproduces what the original's HTTP executor does for a function-based environment on every call: one shared
httpx.AsyncClient (the original's pool limits, 100 connections / 20 kept alive, unless --pool matches the
concurrency), a debug log line formatted per call, POST {base}/call with {"method", "args", "kwargs"},
raise_for_status(), response.json(), and the envelope check ("status" == "success" -> "result"). Concurrency is
bounded with an asyncio.Semaphore, as a validator's gather over many tasks would be. Run with Debian's python3-httpx:

    /usr/bin/python3 client.py --url http://127.0.0.1:8000 --method echo --concurrency 32 --calls 5000

Prints one JSON object: calls/s, client CPU per call (process CPU time, all threads), latency percentiles, errors.
"""
import argparse
import asyncio
import json
import logging
import time

import httpx

logger = logging.getLogger("affinetes")


class RemoteError(Exception):
    pass


class Executor:
    def __init__(self, base_url, pool):
        self.base_url = base_url
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20) if pool is None \
            else httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        self.client = httpx.AsyncClient(timeout=600, limits=limits)

    async def call_method(self, method_name, *args, **kwargs):
        logger.debug(f"Calling function-based method: {method_name} (attempt 1/1)")
        response = await self.client.post(
            f"{self.base_url}/call", json={"method": method_name, "args": list(args), "kwargs": kwargs}
        )
        response.raise_for_status()
        data = response.json()
        if isinstance(data, dict) and "status" in data:
            if data["status"] != "success":
                raise RemoteError(f"Remote execution failed: {data}")
            return data.get("result")
        return data


def kwargs_for(method, i):
    if method == "echo":
        return {"x": i, "text": "hello"}
    return {"task_id": i, "delay_ms": 50}


async def load(executor, method, concurrency, calls, deadline):
    semaphore = asyncio.Semaphore(concurrency)
    latencies = []
    errors = 0

    async def one(i):
        nonlocal errors
        async with semaphore:
            if time.monotonic() > deadline:
                errors += 1
                return
            started = time.perf_counter()
            try:
                await executor.call_method(method, **kwargs_for(method, i))
            except (httpx.HTTPError, RemoteError):
                errors += 1
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(i) for i in range(calls)))
    return latencies, errors


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="echo", choices=["echo", "evaluate"])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--pool", type=int, default=None, help="connection pool size (default: the original's 100/20)")
    parser.add_argument("--time-limit", type=float, default=120, help="seconds; calls not started by then fail")
    args = parser.parse_args()

    executor = Executor(args.url.rstrip("/"), args.pool)
    try:
        deadline = time.monotonic() + args.time_limit
        await load(executor, args.method, args.concurrency, args.warmup, deadline)
        cpu_before = time.process_time()
        wall_before = time.perf_counter()
        latencies, errors = await load(executor, args.method, args.concurrency, args.calls, deadline)
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
    finally:
        await executor.client.aclose()
    latencies.sort()
    print(json.dumps({
        "calls": args.calls,
        "errors": errors,
        "seconds": wall,
        "calls_per_s": args.calls / wall,
        "cpu_us_per_call": cpu * 1e6 / args.calls,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }))


if __name__ == "__main__":
    asyncio.run(main())
