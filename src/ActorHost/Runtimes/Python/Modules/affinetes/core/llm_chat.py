"""The LLM chat helper environments use: one OpenAI-compatible chat completion, streamed or not, with retries.

Same contract as the original's `affinetes.core.llm_chat` (which needs the `openai` and `httpx` packages), written on
the standard library's asyncio so that no package has to be installed into an environment's image:

* `await llm_chat(messages=..., model=..., base_url=..., api_key=...)` returns a `ChatResult(content, reasoning,
  usage)`, which also unpacks as `content, usage = await llm_chat(...)`.
* Streaming (the default) asks for `stream_options.include_usage`, joins the content deltas and the
  `reasoning_content` deltas, and gives up with `TimeoutError("Stream timeout: no chunk received for Ns")` when no
  chunk arrives within `chunk_timeout`; it stops after `max_chunks` chunks.
* Retries (`max_retries`, default 0): timeouts, connection failures and 5xx answers are retried after 1, 2, 4 ... s
  (at most 32 s); a 400 raises `ValueError("Context length exceeded: ...")` or `ValueError("API error: ...")`, any
  other 4xx `ValueError("API error <status>: ...")`, and exhausted retries `ValueError("API call failed after N
  attempts: ...")`. Error texts are the ones the `openai` package produces ("Error code: 500 - {...}",
  "Connection error.", "Request timed out.").
* `strip_think_tags=True` removes `<think>`/`<thinking>` blocks from the content (see `remove_think_tags`).
* Timeouts as the original's: `timeout` bounds connecting, sending and each read when the helper makes its own
  client; a client from `create_client(...)` has its own connect/read/write timeouts (10/20/10 s by default).

One HTTP/1.1 connection serves each request (no pool), plain or TLS. Cancelling the calling task (the host's
deadline) closes the connection at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any, AsyncIterator, Dict, Iterator, List, Optional

__all__ = ["ChatResult", "llm_chat", "create_client", "remove_think_tags", "AsyncChatClient", "APIError",
           "APIConnectionError", "APITimeoutError", "APIStatusError", "BadRequestError"]


# ---------------------------------------------------------------------------------------------------------------
# Results and errors.

@dataclass(frozen=True, slots=True)
class ChatResult:
    """The answer: content, reasoning (o1-style `reasoning_content`) and the usage block. Unpacks as
    `content, usage` for callers written against the older two-value form."""

    content: Optional[str] = None
    reasoning: Optional[str] = None
    usage: Optional[Dict[str, Any]] = None

    def __iter__(self) -> Iterator:
        return iter((self.content, self.usage))


class APIError(Exception):
    """A failure talking to the LLM endpoint; `message` is the text, as the `openai` package words it."""

    def __init__(self, message: str, body: Any = None):
        super().__init__(message)
        self.message = message
        self.body = body


class APIConnectionError(APIError):
    def __init__(self, message: str = "Connection error."):
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    def __init__(self):
        super().__init__("Request timed out.")


class APIStatusError(APIError):
    """The endpoint answered with an error status."""

    def __init__(self, message: str, status_code: int, body: Any):
        super().__init__(message, body)
        self.status_code = status_code


class BadRequestError(APIStatusError):
    """A 400 answer (a context too long, a malformed request)."""


_RETRYABLE = (TimeoutError, APITimeoutError, APIConnectionError)


# ---------------------------------------------------------------------------------------------------------------
# The client.

class AsyncChatClient:
    """Endpoint settings reused across calls (what `create_client` returns). It holds no open connection, so
    dropping it without `close()` leaks nothing; `close()` exists for code written against `openai.AsyncOpenAI`."""

    def __init__(self, base_url: str, api_key: str, *, connect_timeout: float, read_timeout: float,
                 write_timeout: float):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout

    async def close(self) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()

    def __repr__(self):
        return f"AsyncChatClient(base_url={self.base_url!r})"


def create_client(base_url: str, api_key: str, *, connect_timeout: float = 10.0, read_timeout: float = 20.0,
                  write_timeout: float = 10.0, pool_timeout: float = 10.0) -> AsyncChatClient:
    """A long-lived client for `llm_chat(client=...)` with its own timeouts (`pool_timeout` is accepted for
    compatibility; there is no pool to wait for)."""
    return AsyncChatClient(base_url, api_key, connect_timeout=connect_timeout, read_timeout=read_timeout,
                           write_timeout=write_timeout)


def _settings_of(client) -> AsyncChatClient:
    """Our client as it is; a foreign one (an `openai.AsyncOpenAI` an environment made itself) by its base URL, key
    and timeouts."""
    if isinstance(client, AsyncChatClient):
        return client
    timeout = getattr(client, "timeout", None)
    if isinstance(timeout, (int, float)):
        connect = read = write = float(timeout)
    else:
        default = 600.0
        connect = getattr(timeout, "connect", None) or default
        read = getattr(timeout, "read", None) or default
        write = getattr(timeout, "write", None) or default
    return AsyncChatClient(str(client.base_url), str(client.api_key or ""), connect_timeout=connect,
                           read_timeout=read, write_timeout=write)


# ---------------------------------------------------------------------------------------------------------------
# Think tags.

def remove_think_tags(text: str) -> str:
    """Removes `<think>`/`<thinking>` blocks: complete blocks go; a lone closing tag keeps only what follows its
    last occurrence; an unclosed opening tag cuts the text there; three or more line breaks become two."""
    cleaned = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL | re.IGNORECASE)
    cleaned = re.sub(r"<thinking>.*?</thinking>", "", cleaned, flags=re.DOTALL | re.IGNORECASE)
    for closing in ("</think>", "</thinking>"):
        if closing in cleaned:
            cleaned = cleaned.split(closing)[-1]
    for opening in ("<think>", "<thinking>"):
        match = re.search(opening, cleaned, flags=re.IGNORECASE)
        if match:
            cleaned = cleaned[:match.start()]
    cleaned = re.sub(r"\n\s*\n\s*\n", "\n\n", cleaned)
    return cleaned.strip()


# ---------------------------------------------------------------------------------------------------------------
# The helper.

async def llm_chat(*, messages: List[Dict[str, Any]], model: str, base_url: str, api_key: str,
                   timeout: float | int = 600, chunk_timeout: float = 30.0, temperature: Optional[float] = None,
                   seed: Optional[int] = None, stream: bool = True, max_chunks: int = 32_000, max_retries: int = 0,
                   strip_think_tags: bool = False, client: Optional[Any] = None) -> ChatResult:
    """One chat completion against an OpenAI-compatible endpoint; see the module's documentation."""
    # As the original: certificate paths set for other tools in the container must not break TLS here.
    os.environ.pop("SSL_CERT_FILE", None)
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    if client is None:
        settings = AsyncChatClient(base_url, api_key, connect_timeout=float(timeout), read_timeout=float(timeout),
                                   write_timeout=float(timeout))
    else:
        settings = _settings_of(client)

    params: Dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if temperature is not None:
        params["temperature"] = temperature
    if seed is not None:
        params["seed"] = seed

    attempts = max_retries + 1
    last_error: Optional[BaseException] = None
    for attempt in range(attempts):
        try:
            if stream:
                result = await _stream_chat(settings, params, chunk_timeout, max_chunks)
            else:
                result = await _plain_chat(settings, params)
            content = result.content
            if strip_think_tags and content:
                content = remove_think_tags(content) or None
            return ChatResult(content=content, reasoning=result.reasoning, usage=result.usage)
        except _RETRYABLE as e:
            last_error = e
        except BadRequestError as e:
            if "is longer than the model" in e.message or "context_length_exceeded" in e.message:
                raise ValueError(f"Context length exceeded: {e.message}") from e
            raise ValueError(f"API error: {e.message}") from e
        except APIStatusError as e:
            if e.status_code < 500:
                raise ValueError(f"API error {e.status_code}: {e.message}") from e
            last_error = e
        if attempt < attempts - 1:
            await asyncio.sleep(min(2 ** attempt, 32))
    raise ValueError(f"API call failed after {attempts} attempts: {last_error}")


async def _plain_chat(settings: AsyncChatClient, params: Dict[str, Any]) -> ChatResult:
    response = await _Http.open(settings, params)
    try:
        body = _decode_json(await response.read_all())
    finally:
        await response.close()
    usage = _usage(body.get("usage"))
    choices = body.get("choices") or []
    if not choices:
        return ChatResult(content=None, reasoning=None, usage=usage)
    message = choices[0].get("message") or {}
    content = message.get("content")
    return ChatResult(content=content.strip() if content else None, reasoning=message.get("reasoning_content"),
                      usage=usage)


async def _stream_chat(settings: AsyncChatClient, params: Dict[str, Any], chunk_timeout: float,
                       max_chunks: int) -> ChatResult:
    response = await _Http.open(settings, {**params, "stream_options": {"include_usage": True}})
    content: List[str] = []
    reasoning: List[str] = []
    usage = None
    count = 0
    try:
        chunks = _sse_chunks(response).__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), timeout=chunk_timeout)
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise TimeoutError(f"Stream timeout: no chunk received for {chunk_timeout}s") from None
            count += 1
            choices = chunk.get("choices") or []
            if choices:
                delta = choices[0].get("delta") or {}
                if delta.get("content"):
                    content.append(delta["content"])
                if delta.get("reasoning_content"):
                    reasoning.append(delta["reasoning_content"])
                if count >= max_chunks:
                    break
            if chunk.get("usage"):
                usage = _usage(chunk["usage"])
    finally:
        await response.close()
    return ChatResult(content="".join(content).strip() or None, reasoning="".join(reasoning) or None, usage=usage)


def _usage(usage):
    """The usage block as the `openai` package dumps it: its standard fields always present, extras kept."""
    if not usage:
        return None
    dumped = {"completion_tokens": None, "prompt_tokens": None, "total_tokens": None,
              "completion_tokens_details": None, "prompt_tokens_details": None}
    dumped.update(usage)
    return dumped


def _decode_json(data: bytes):
    try:
        value = json.loads(data)
    except ValueError as e:
        raise APIError(f"the LLM endpoint answered with invalid JSON: {e}") from None
    if not isinstance(value, dict):
        raise APIError("the LLM endpoint answered with JSON that is not an object")
    return value


async def _sse_chunks(response: "_Http") -> AsyncIterator[Dict[str, Any]]:
    """The JSON chunks of a server-sent event stream, until `data: [DONE]` or the end of the body."""
    data: List[str] = []
    async for line in response.lines():
        if line == "":
            if data:
                text = "\n".join(data)
                data = []
                if text.startswith("[DONE]"):
                    return
                chunk = _decode_json(text.encode())
                if chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message") if isinstance(error, dict) else None
                    raise APIError(message or "An error occurred during streaming", error)
                yield chunk
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data and not "\n".join(data).startswith("[DONE]"):
        yield _decode_json("\n".join(data).encode())


# ---------------------------------------------------------------------------------------------------------------
# HTTP/1.1 over asyncio streams.

_STATUS_ERRORS = {400: BadRequestError}


class _Http:
    """One request on its own connection, and its response read incrementally."""

    def __init__(self, reader, writer, settings, status, headers):
        self._reader = reader
        self._writer = writer
        self._settings = settings
        self.status = status
        self.headers = headers
        self._remaining = None  # bytes left in the current chunk (chunked) or the body (Content-Length)
        self._chunked = headers.get("transfer-encoding", "").lower().endswith("chunked")
        length = headers.get("content-length")
        if not self._chunked and length is not None and length.isdigit():
            self._remaining = int(length)
        self._done = False

    @classmethod
    async def open(cls, settings: AsyncChatClient, payload: Dict[str, Any], path: str = "/chat/completions") -> "_Http":
        url = urllib.parse.urlsplit(settings.base_url + path)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise APIConnectionError(f"Connection error: base_url {settings.base_url!r} is not an http(s) URL")
        secure = url.scheme == "https"
        port = url.port or (443 if secure else 80)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(url.hostname, port, ssl=ssl.create_default_context() if secure else None,
                                        server_hostname=url.hostname if secure else None, limit=1 << 20),
                timeout=settings.connect_timeout)
        except asyncio.TimeoutError:
            raise APITimeoutError() from None
        except OSError as e:
            raise APIConnectionError() from e
        try:
            body = json.dumps(payload).encode()
            host = url.hostname if url.port is None else f"{url.hostname}:{url.port}"
            path = url.path + (f"?{url.query}" if url.query else "")
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Accept: application/json\r\nAuthorization: Bearer {settings.api_key}\r\n"
                    f"User-Agent: affinetes-llm-chat/1\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode("latin-1") + body)
            await asyncio.wait_for(writer.drain(), timeout=settings.write_timeout)
            status_line = await cls._read_line(reader, settings)
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise APIConnectionError(f"Connection error: not an HTTP answer: {status_line[:80]!r}")
            headers = {}
            while True:
                line = await cls._read_line(reader, settings)
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            response = cls(reader, writer, settings, int(parts[1]), headers)
        except asyncio.TimeoutError:
            writer.close()
            raise APITimeoutError() from None
        except (OSError, asyncio.IncompleteReadError) as e:
            writer.close()
            raise APIConnectionError() from e
        except BaseException:
            writer.close()
            raise
        if response.status >= 400:
            try:
                text = (await response.read_all()).decode("utf-8", "replace").strip()
            finally:
                await response.close()
            raise _status_error(response.status, text)
        return response

    @staticmethod
    async def _read_line(reader, settings) -> str:
        line = await asyncio.wait_for(reader.readline(), timeout=settings.read_timeout)
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        return line.decode("latin-1").rstrip("\r\n")

    async def _read(self, count: int) -> bytes:
        try:
            return await asyncio.wait_for(self._reader.readexactly(count), timeout=self._settings.read_timeout)
        except asyncio.TimeoutError:
            raise APITimeoutError() from None
        except (OSError, asyncio.IncompleteReadError) as e:
            raise APIConnectionError() from e

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body as it arrives (chunked, sized, or until the server closes)."""
        if self._done:
            return
        try:
            if self._chunked:
                while True:
                    size_line = await self._read_line(self._reader, self._settings)
                    size = int(size_line.split(";", 1)[0].strip() or "0", 16)
                    if size == 0:
                        while await self._read_line(self._reader, self._settings):
                            pass  # trailers
                        return
                    piece = await self._read(size + 2)
                    yield piece[:-2]
            elif self._remaining is not None:
                while self._remaining > 0:
                    piece = await asyncio.wait_for(self._reader.read(min(self._remaining, 65536)),
                                                   timeout=self._settings.read_timeout)
                    if not piece:
                        raise APIConnectionError()
                    self._remaining -= len(piece)
                    yield piece
            else:
                while True:
                    piece = await asyncio.wait_for(self._reader.read(65536), timeout=self._settings.read_timeout)
                    if not piece:
                        return
                    yield piece
        except asyncio.TimeoutError:
            raise APITimeoutError() from None
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            raise APIConnectionError() from e
        finally:
            self._done = True

    async def read_all(self) -> bytes:
        return b"".join([piece async for piece in self.pieces()])

    async def lines(self) -> AsyncIterator[str]:
        """The body as text lines (without their line ends), for server-sent events."""
        pending = b""
        async for piece in self.pieces():
            pending += piece
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.rstrip(b"\r").decode("utf-8", "replace")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", "replace")
        yield ""

    async def close(self) -> None:
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), timeout=5.0)
        except Exception:
            pass


def _status_error(status: int, text: str) -> APIStatusError:
    """The error the `openai` package raises for an error answer, with its message text."""
    body: Any = text
    try:
        body = json.loads(text)
        message = f"Error code: {status} - {body}"
    except ValueError:
        message = text or f"Error code: {status}"
    data = body.get("error", body) if isinstance(body, dict) else body
    return _STATUS_ERRORS.get(status, APIStatusError)(message, status, data)
