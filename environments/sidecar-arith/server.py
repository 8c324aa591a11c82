"""sidecar-arith: an environment that runs its own HTTP server (Python standard library, no framework).

The ActorHost starts this server (sidecar.json), gives it its port in $PORT, and forwards each call to
POST /<method> with the keyword arguments as a JSON object. GET /openapi.json describes the methods, so the host's
/methods and /openapi.json show them with their parameters.

`evaluate` asks `model` at `base_url` (any OpenAI-compatible chat-completions endpoint; the key from
$CHUTES_API_KEY, else $OPENAI_API_KEY) to solve the problem and scores its integer answer. Given `answer`, it scores
that instead and calls no model.
"""
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SYSTEM_PROMPT = "Solve the problem. Give the final answer as a single integer on the last line in the form 'Answer: N'."
_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=]?\s*\**\s*(-?\d[\d,]*)", re.IGNORECASE)
_INTEGER = re.compile(r"-?\d[\d,]*")


def generate(task_id, seed=0):
    """The word problem for (task_id, seed) and its answer: finds more, spends, or grows N times (afs's offline
    baseline, a keyword heuristic, answers the first two kinds and gets the third wrong)."""
    rng = random.Random(f"{seed}:{task_id}")
    a, b = rng.randint(10, 99), rng.randint(2, 9)
    kind = (int(task_id) + int(seed)) % 3
    story = [f"She finds {b} more coins.", f"She spends {b} coins on tea.", f"Her savings grow to {b} times as many."][kind]
    expected = [a + b, a - b, a * b][kind]
    return {"task_id": task_id, "seed": seed, "prompt": f"Mia has {a} coins. {story} How many coins does Mia have now?",
            "expected": expected}


def parse_answer(reply):
    """The integer after the last 'Answer:', else the last integer in the reply; None when there is none."""
    found = _ANSWER.findall(reply) or _INTEGER.findall(reply)
    try:
        return int(found[-1].replace(",", "")) if found else None
    except ValueError:
        return None


def ask_model(prompt, model, base_url, timeout):
    """The model's reply text. Raises RuntimeError with a message saying what went wrong."""
    api_key = (os.environ.get("CHUTES_API_KEY") or os.environ.get("OPENAI_API_KEY") or "").strip()
    if not api_key:
        raise RuntimeError("CHUTES_API_KEY (or OPENAI_API_KEY) is not set in the environment")
    url = base_url.rstrip("/") + "/chat/completions"
    body = {"model": model, "temperature": 0,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=float(timeout)) as response:
            reply = json.load(response)
        content = reply["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"the LLM endpoint answered {e.code}: {e.read(2000).decode('utf-8', 'replace').strip()}") from None
    except urllib.error.URLError as e:
        raise RuntimeError(f"cannot reach the LLM endpoint {url}: {e.reason}") from None
    except TimeoutError:
        raise RuntimeError(f"the LLM endpoint did not answer within {timeout} s") from None
    except (ValueError, KeyError, IndexError, TypeError, OSError) as e:
        raise RuntimeError(f"bad response from the LLM endpoint: {type(e).__name__}: {e}") from None
    if not isinstance(content, str):
        raise RuntimeError("the model's reply has no text")
    return content


def evaluate(task_id, model="deepseek-ai/DeepSeek-V3", base_url="https://llm.chutes.ai/v1", timeout=120, seed=0,
             answer=None, **kwargs):
    """Asks `model` at `base_url` to solve problem (task_id, seed), or scores `answer` when given: 1.0 when right.

    Failures of the model side (no API key, HTTP error, timeout, no integer in the reply) do not raise: the result
    has score 0.0, success False and an `error` message.
    """
    problem = generate(task_id, seed)
    result = {"task_id": task_id, "seed": seed, "score": 0.0, "success": False, "model": None if answer is not None else model,
              "prompt": problem["prompt"], "expected": problem["expected"], "answer": answer, "latency_ms": 0}
    if answer is None:
        started = time.monotonic()
        try:
            reply = ask_model(problem["prompt"], model, base_url, timeout)
        except RuntimeError as e:
            result["error"] = str(e)
            return result
        finally:
            result["latency_ms"] = int(round((time.monotonic() - started) * 1000))
        result["response"] = reply
        answer = result["answer"] = parse_answer(reply)
        if answer is None:
            result["error"] = "no integer answer found in the model's reply"
            return result
    result["success"] = True
    result["score"] = 1.0 if answer == problem["expected"] else 0.0
    return result


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
            "properties": {"task_id": {"type": "integer"},
                           "model": {"type": "string", "default": "deepseek-ai/DeepSeek-V3"},
                           "base_url": {"type": "string", "default": "https://llm.chutes.ai/v1"},
                           "timeout": {"type": "number", "default": 120},
                           "seed": {"type": "integer", "default": 0},
                           "answer": {"type": "integer", "nullable": True, "default": None}}}}}}}},
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
