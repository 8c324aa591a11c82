"""Arithmetic word problems: an example evaluation environment.

Each (task_id, seed) pair deterministically yields one multi-step integer word problem. `evaluate` asks an
OpenAI-compatible chat-completions endpoint to solve it and scores the reply 1.0 (right integer) or 0.0.

Only the Python standard library is used, so the image needs no pip install and no network at build time.
"""

import asyncio
import http.client
import json
import os
import random
import re
import time
import urllib.error
import urllib.request

SYSTEM_PROMPT = (
    "You are a careful mathematician. Solve the problem step by step, then give the final answer "
    "as a single integer on the last line in the form 'Answer: N'."
)

NAMES = ["Ada", "Bilal", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena"]
ITEMS = ["apples", "marbles", "stickers", "coins", "books", "pencils", "shells", "stamps", "cards", "beads"]
CONTAINERS = ["boxes", "bags", "crates", "jars", "baskets"]

# Bytes of an HTTP error body kept for the error message.
_MAX_ERROR_BODY = 2000

_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_ANSWER = re.compile(r"answer\s*(?:is)?\s*[:=]?\s*\**\s*\$?\s*(-?\d[\d,]*)", re.IGNORECASE)
# A minus sign counts only when it is not a subtraction ("10-3" is 10 then 3, not -3).
_INTEGER = re.compile(r"(?:(?<![\w)])-)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def _make_problem(task_id, seed):
    """Builds the question text and its integer answer from a generator seeded by (seed, task_id)."""
    rng = random.Random(f"{seed}:{task_id}")
    name = rng.choice(NAMES)
    item = rng.choice(ITEMS)
    value = rng.randint(10, 99)
    sentences = [f"{name} has {value} {item}."]
    for _ in range(rng.randint(3, 5)):
        op = rng.choice(["add", "sub", "mul", "div", "groups"])
        if op == "add":
            n = rng.randint(5, 250)
            value += n
            sentences.append(f"A friend gives {name} {n} more {item}.")
        elif op == "sub" and value > 5:
            n = rng.randint(1, value - 1)
            value -= n
            sentences.append(f"{name} gives away {n} {item}.")
        elif op == "mul" and value <= 2000:
            n = rng.randint(2, 5)
            value *= n
            sentences.append(f"{name} ends up with {n} times as many {item} as before.")
        elif op == "div" and any(value % d == 0 for d in range(2, 10)):
            d = rng.choice([d for d in range(2, 10) if value % d == 0])
            value //= d
            sentences.append(
                f"{name} shares the {item} equally among {d} {rng.choice(CONTAINERS)} and keeps only one of them."
            )
        else:
            count = rng.randint(2, 9)
            each = rng.randint(3, 40)
            value += count * each
            sentences.append(f"{name} buys {count} {rng.choice(CONTAINERS)} holding {each} {item} each.")
    sentences.append(f"How many {item} does {name} have now?")
    return " ".join(sentences), value


def _to_int(text):
    try:
        return int(text.replace(",", "").strip())
    except (AttributeError, ValueError):
        return None


def parse_answer(reply):
    """The model's integer answer: the last \\boxed{N}, else the last 'Answer: N', else the last integer; or None."""
    if not isinstance(reply, str):
        return None
    text = _THINK.sub(" ", reply)
    for pattern in (_BOXED, _ANSWER):
        for match in reversed(pattern.findall(text)):
            number = _INTEGER.search(match)
            if number is not None:
                return _to_int(number.group(0))
    numbers = _INTEGER.findall(text)
    return _to_int(numbers[-1]) if numbers else None


def _message_text(content):
    """Message content as text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return None


def _post_chat(url, body, api_key, timeout):
    """Blocking POST of a chat-completions request; returns the reply text. Runs in a worker thread."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": f"Bearer {api_key}",
            "User-Agent": "affinetes-python-arith/1.0",
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.loads(response.read().decode("utf-8"))
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"unexpected response shape: {json.dumps(payload)[:300]}")
    return _message_text(content)


def _http_error_text(error):
    try:
        body = error.read(_MAX_ERROR_BODY).decode("utf-8", "replace")
    except Exception:
        body = ""
    try:
        message = json.loads(body)["error"]["message"]
    except Exception:
        message = body.strip()
    return f"HTTP {error.code} from the LLM endpoint: {message or error.reason}"


class Actor:
    """Arithmetic word-problem environment: `generate` makes a problem, `evaluate` has a model solve it."""

    def generate(self, task_id: int, seed: int = 0) -> dict:
        """The problem for (task_id, seed) and its answer, without calling any model."""
        prompt, expected = _make_problem(int(task_id), int(seed))
        return {"task_id": task_id, "seed": seed, "prompt": prompt, "expected": expected}

    async def evaluate(
        self,
        task_id: int,
        model: str = "deepseek-ai/DeepSeek-V3",
        base_url: str = "https://llm.chutes.ai/v1",
        timeout: float = 120,
        seed: int = 0,
        **kwargs,
    ) -> dict:
        """Asks `model` at `base_url` to solve problem (task_id, seed); score 1.0 if its integer answer is right.

        Failures of the model side (no CHUTES_API_KEY, HTTP error, timeout, unparsable reply) do not raise: the
        result has score 0.0, success False and an `error` message.
        """
        problem = self.generate(task_id, seed)
        result = {
            "task_id": task_id,
            "seed": seed,
            "score": 0.0,
            "success": False,
            "model": model,
            "prompt": problem["prompt"],
            "expected": problem["expected"],
            "answer": None,
            "latency_ms": 0,
        }
        api_key = os.environ.get("CHUTES_API_KEY", "").strip()
        if not api_key:
            result["error"] = "CHUTES_API_KEY is not set in the environment"
            return result

        url = base_url.rstrip("/") + "/chat/completions"
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": problem["prompt"]},
            ],
            "temperature": 0,
        }
        started = time.monotonic()
        try:
            # urllib's own timeout bounds each socket operation; wait_for bounds the whole exchange.
            reply = await asyncio.wait_for(
                asyncio.to_thread(_post_chat, url, body, api_key, timeout), timeout=float(timeout) + 1
            )
        except urllib.error.HTTPError as e:
            result["error"] = _http_error_text(e)
        except (asyncio.TimeoutError, TimeoutError):
            result["error"] = f"the LLM endpoint did not answer within {timeout} s"
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                result["error"] = f"the LLM endpoint did not answer within {timeout} s"
            else:
                result["error"] = f"cannot reach the LLM endpoint {url}: {reason}"
        except (ValueError, OSError, http.client.HTTPException) as e:
            result["error"] = f"bad response from the LLM endpoint: {type(e).__name__}: {e}"
        except Exception as e:  # never let a model-side failure fail the whole evaluation
            result["error"] = f"unexpected error calling the LLM endpoint: {type(e).__name__}: {e}"
        else:
            answer = parse_answer(reply)
            result["answer"] = answer
            result["response"] = reply
            if answer is None:
                result["error"] = "no integer answer found in the model's reply"
            else:
                result["success"] = True
                result["score"] = 1.0 if answer == problem["expected"] else 0.0
        result["latency_ms"] = int(round((time.monotonic() - started) * 1000))
        return result
