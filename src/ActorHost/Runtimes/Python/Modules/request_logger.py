"""Request-scoped logging for environments: `RequestLogger(**context)`, `log_event(...)`, `get_logger()`.

The same API and the same line shape as the request logger the Python original copies into `/app`, written on the
standard library (the original needs `structlog`, and configures it for the whole process when imported; this one
leaves `structlog` alone). One line per event on stdout:

    2026-11-30 12:00:00.123456 [info     ] llm_call_start                 elapsed_ms=12 req_ctx=task_id:7|type:sat|seed:1

`with RequestLogger(task_id=7, task_type="sat", base_url=url):` makes it the current logger of the task (a context
variable, so concurrent calls keep theirs apart); `log_event("name", level="warning", key=value)` logs through the
current one, or the base logger outside a request. An environment's own `/app/request_logger.py` wins over this one.
"""

import datetime
import re
import sys
import time
from contextvars import ContextVar

__all__ = ["RequestLogger", "log_event", "get_logger", "base_logger"]

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_LEVEL_WIDTH = len("exception")
_EVENT_WIDTH = 30
_MIN_LEVEL = _LEVELS["info"]


class BoundLogger:
    """A logger with bound key-values: `info/warning/error/... (event, **values)` prints one line."""

    def __init__(self, context=None):
        self._context = dict(context or {})

    def bind(self, **values):
        return BoundLogger({**self._context, **values})

    def new(self, **values):
        return BoundLogger(values)

    def unbind(self, *keys):
        return BoundLogger({k: v for k, v in self._context.items() if k not in keys})

    def _emit(self, level, event, values):
        if _LEVELS.get(level, _LEVELS["info"]) < _MIN_LEVEL:
            return
        fields = {**self._context, **values}
        exc_info = fields.pop("exc_info", None)
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
        event = str(event)
        line = f"{stamp} [{level.ljust(_LEVEL_WIDTH)}] "
        if fields:
            line += event.ljust(_EVENT_WIDTH) + " " + " ".join(f"{k}={_show(v)}" for k, v in sorted(fields.items()))
        else:
            line += event
        if exc_info:
            import traceback
            error = sys.exc_info()[1] if exc_info is True else exc_info
            if isinstance(error, BaseException):
                line += "\n" + "".join(traceback.format_exception(error)).rstrip("\n")
        print(line, file=sys.stdout, flush=True)

    def debug(self, event=None, **values):
        self._emit("debug", event, values)

    def info(self, event=None, **values):
        self._emit("info", event, values)

    msg = info

    def warning(self, event=None, **values):
        self._emit("warning", event, values)

    warn = warning

    def error(self, event=None, **values):
        self._emit("error", event, values)

    def exception(self, event=None, **values):
        values.setdefault("exc_info", True)
        self._emit("error", event, values)

    def critical(self, event=None, **values):
        self._emit("critical", event, values)

    fatal = critical

    def log(self, level, event=None, **values):
        name = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}.get(level, level)
        self._emit(name if isinstance(name, str) else "info", event, values)


def _show(value):
    return value if isinstance(value, str) else repr(value)


base_logger = BoundLogger()

_request_logger: ContextVar["RequestLogger"] = ContextVar("request_logger", default=None)

_FIELD_ORDER = ["task_id", "type", "seed", "miner", "model", "game", "trace"]


class RequestLogger:
    """Logs the events of one request with its context (`req_ctx=task_id:7|type:sat|...`) and elapsed time."""

    def __init__(self, **context):
        self.context = context
        self.start_time = time.time()
        if "base_url" in context:
            self.context["miner"] = self._extract_miner_slug(context["base_url"])
        self.request_context = self._build_context_string()
        self.logger = base_logger.bind(req_ctx=self.request_context)

    @staticmethod
    def _extract_miner_slug(base_url):
        """`https://name-123.chutes.ai/v1` -> `name-123`; otherwise the host name (at most 40 characters)."""
        base_url = str(base_url)
        slug = re.search(r"https?://([^./]+)\.chutes\.ai", base_url)
        if slug:
            return slug.group(1)
        host = re.search(r"https?://([^/]+)", base_url)
        return host.group(1)[:40] if host else base_url[:40]

    def _build_context_string(self):
        parts = []
        for name in _FIELD_ORDER:
            if name == "type" and "task_type" in self.context:
                parts.append(f"type:{self.context['task_type']}")
            elif name in self.context and self.context[name] is not None:
                parts.append(f"{name}:{self.context[name]}")
        for key, value in self.context.items():
            if key not in _FIELD_ORDER and key not in ("task_type", "base_url") and value is not None:
                parts.append(f"{key}:{value}")
        return "|".join(parts)

    def log(self, event, level="info", **details):
        details["elapsed_ms"] = int((time.time() - self.start_time) * 1000)
        method = getattr(self.logger, level, None)
        (method if callable(method) else self.logger.info)(event, **details)

    def __enter__(self):
        self.token = _request_logger.set(self)
        self.log("request_start")
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type:
            self.log("request_error", level="error", error=str(exc_val), error_type=exc_type.__name__)
        _request_logger.reset(self.token)


def log_event(event, level="info", **details):
    """Logs through the current request's logger, or the base logger outside a request."""
    current = _request_logger.get()
    if current:
        current.log(event, level=level, **details)
    else:
        base_logger.info(event, **details)


def get_logger():
    """The current request's bound logger, or the base logger."""
    current = _request_logger.get()
    return current.logger if current else base_logger
