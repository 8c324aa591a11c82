"""A stand-in for the Python original's injected server, used only as the benchmark's baseline.

It reproduces the original's request path as documented in shared/reference/affinetes.md: a FastAPI app under uvicorn,
a pydantic request model for POST /call, the Actor created lazily on the first call, `async def` methods awaited on
the event loop and plain methods sent to the default thread pool with run_in_executor, and a pydantic response
model for the envelope. Run with Debian's python3-fastapi and python3-uvicorn:

    ENV_FILE=bench_env.py python3 -m uvicorn server:app --port 8000 --log-level warning
"""
import asyncio
import importlib.util
import inspect
import os
import sys
from typing import Any, Optional

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
module = None
actor = None


class MethodCall(BaseModel):
    method: str
    args: list = []
    kwargs: dict = {}


class MethodResponse(BaseModel):
    status: str
    result: Optional[Any] = None
    error: Optional[str] = None


@app.on_event("startup")
async def load():
    global module
    spec = importlib.util.spec_from_file_location("user_env", os.environ["ENV_FILE"])
    module = importlib.util.module_from_spec(spec)
    sys.modules["user_env"] = module
    spec.loader.exec_module(module)


@app.post("/call", response_model=MethodResponse)
async def call(request: MethodCall):
    global actor
    if actor is None:
        actor = module.Actor()
    function = getattr(actor, request.method, None)
    if function is None:
        raise HTTPException(404, f"Method not found: {request.method}")
    if inspect.iscoroutinefunction(function):
        result = await function(*request.args, **request.kwargs)
    else:
        loop = asyncio.get_event_loop()
        result = await loop.run_in_executor(None, lambda: function(*request.args, **request.kwargs))
    return MethodResponse(status="success", result=result)


@app.get("/health")
async def health():
    return {"status": "ok"}
