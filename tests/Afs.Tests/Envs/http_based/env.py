"""An environment of the original's http_based kind, written to the shape of its agentgym environment: env.py builds
a FastAPI app with its own routes (a pydantic request model, a health route, a stateful reset/step pair), and the
Dockerfile's CMD starts uvicorn on ${AFFINETES_PORT:-8000}."""
import os
from typing import Optional

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI(title="http-based test environment")
STATE = {"position": 0}


class EvaluatorRequest(BaseModel):
    model: str
    task_id: int
    base_url: str = "https://llm.chutes.ai/v1"
    seed: Optional[int] = None


@app.get("/health")
async def health():
    return "ok"


@app.post("/evaluate")
async def evaluate(request: EvaluatorRequest):
    """Scores a task (stands in for agentgym's evaluator endpoint)."""
    if request.task_id < 0:
        raise HTTPException(status_code=400, detail="task_id must not be negative")
    return {"task_name": "test", "score": 1.0 if request.task_id % 2 == 0 else 0.0, "success": True,
            "extra": {"model": request.model, "seed": request.seed, "pid": os.getpid()}}


class StepRequest(BaseModel):
    action: int


@app.post("/reset")
async def reset():
    STATE["position"] = 0
    return {"position": 0}


@app.post("/step")
async def step(request: StepRequest):
    STATE["position"] += request.action
    return {"position": STATE["position"]}
