"""Python side of the ActorHost's Python runtime.

Loaded once per process by the host (embedded CPython, through its C API). It imports the miner's env.py, builds the method table of
its Actor, and runs calls:
  * plain methods in call_sync(), on the host's worker threads, one GIL hold serving many calls;
  * async methods on ONE long-lived asyncio loop (a dedicated thread): the host queues them on its side and writes a
    byte to the loop's wake pipe (no GIL needed); the loop then takes every queued call with take() and each finished
    task reports back through complete(call_id, payload). take and complete are the host's native functions.

Every call answers with a tagged string, never an exception across the boundary:
  OK + <result JSON>      success
  FAIL + <error JSON>     {"code","message","type","parameter","traceback"}

The tags below are the host's too (Runtimes/Python/BridgeTags.cs); a test checks that both sides agree.
"""

import asyncio
import enum
import importlib.util
import inspect
import json
import json.encoder
import json.scanner
import os
import sys
import threading
import traceback
import types
import typing

# datetime, decimal, uuid and dataclasses are imported where a result needs them: uuid alone brings platform with it,
# and together they cost a container start ~10 ms that a plain result never needs.

OK = "\x00"
FAIL = "\x01"
CONTINUES = "\x02"  # call_sync: the method returned an awaitable; the loop finishes it and reports through complete()

SHAPE_CALL = 0  # {"method": ..., "args": [...], "kwargs": {...}}
SHAPE_FLAT = 1  # flat kwargs object, or {"args": [...], "kwargs": {...}}

TAKE_SUBMIT = 0  # take(): (TAKE_SUBMIT, call_id, name, body, shape) starts an async call
TAKE_CANCEL = 1  # take(): (TAKE_CANCEL, call_id, None, None, None) cancels one

def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


# NaN and Infinity are not JSON: refused on both routes alike (the /call route's reader refuses them too).
_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_scan = json.scanner.c_make_scanner(_decoder) if json.scanner.c_make_scanner is not None else None


def _loads(text):
    """JSONDecoder.decode, without its two whitespace regexes for a body that is one JSON value with no blanks
    around it (every client's): half the cost of a small body. Anything else takes decode() and its errors."""
    if _scan is not None:
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            return _decoder.decode(text)
        if end == len(text):
            return value
    return _decoder.decode(text)


class StartupError(Exception):
    """The environment cannot be served; the message says why, in words a miner can act on."""


# ---------------------------------------------------------------------------------------------------------------
# JSON out: the conversions the original applies (dataclass, to_dict(), pydantic), also for nested values.

class _ConversionFailed(Exception):
    """The actor's own conversion (to_dict(), model_dump(), a dataclass field) raised: reported as its error."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


_PLAIN = frozenset({dict, list, tuple, str, int, float, bool, type(None)})  # no conversion methods: as they are


def _to_jsonable(value):
    if type(value) in _PLAIN:
        return value
    try:
        if hasattr(type(value), "__dataclass_fields__") and not isinstance(value, type):
            import dataclasses
            return dataclasses.asdict(value)
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return to_dict()
        model_dump = getattr(value, "model_dump", None)
        if callable(model_dump):
            return model_dump(mode="json")
        as_dict = getattr(value, "dict", None)
        if callable(as_dict) and hasattr(value, "__fields__"):
            return as_dict()
    except (_ConversionFailed, _NotSerializable, DeadlineExceeded):
        raise
    except Exception as e:
        raise _ConversionFailed(e) from None
    return value


def _default(value):
    converted = _to_jsonable(value)
    if converted is not value:
        return converted
    import datetime
    import decimal
    import uuid
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise _NotSerializable(type(value))


class _NotSerializable(TypeError):
    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


_encoder = json.JSONEncoder(allow_nan=False, default=_default, separators=(",", ":"))
_c_encoders = []  # idle C encoders (each keeps its own circular-reference markers)


def _new_c_encoder():
    return json.encoder.c_make_encoder({}, _default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False,
                                       False)


def _dumps(value):
    """JSONEncoder.encode, without building its C encoder again for every value: half the cost of a small result.
    An encoder is taken from the idle ones (another thread may be encoding: _default runs the actor's code) and put
    back when it succeeded; one that raised is dropped with whatever markers it was left holding."""
    if json.encoder.c_make_encoder is None:
        return _encoder.encode(value)
    try:
        encode = _c_encoders.pop()
    except IndexError:
        encode = _new_c_encoder()
    chunks = encode(value, 0)
    _c_encoders.append(encode)
    return "".join(chunks)


def _describe_size(size):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".rstrip("0").rstrip(".") + " " + unit
    return f"{size} bytes"


def _encode_result(result, actor_failure, max_result_bytes):
    """OK + the result's JSON, or FAIL + why it cannot be sent. max_result_bytes: the most result bytes the host sends
    (AFFINETES_MAX_RESULT_BYTES) or None; the encoder escapes every non-ASCII character, so the encoded text has as many
    bytes as characters."""
    try:
        encoded = _dumps(_to_jsonable(result))
        if max_result_bytes is not None and len(encoded) > max_result_bytes:
            return _fail("result_too_large",
                         f"the result is {_describe_size(len(encoded))} ({len(encoded)} bytes), over the host's limit of "
                         f"{_describe_size(max_result_bytes)}; nothing of it was sent (return less, or raise "
                         "AFFINETES_MAX_RESULT_BYTES)")
        return OK + encoded
    except _ConversionFailed as e:
        return actor_failure(e.error)
    except _NotSerializable as e:
        kind = e.kind
        return _fail("result_not_serializable",
                     f"the result contains a {kind.__module__}.{kind.__qualname__}, which has no JSON form; "
                     "return dicts, lists, str, int, float, bool, None, dataclasses or pydantic models",
                     kind.__qualname__)
    except ValueError as e:
        if "Circular reference" in str(e):
            return _fail("result_not_serializable", "the result refers to itself (circular reference)", "ValueError")
        return _fail("result_not_serializable", f"the result is not valid JSON: {e}", "ValueError")
    except RecursionError:
        # The encoder checks for cycles itself (ValueError above): running out of stack means nesting too deep.
        return _fail("result_not_serializable",
                     f"the result is nested too deeply to be written as JSON (Python's limit is about "
                     f"{sys.getrecursionlimit()} levels of lists and dicts within each other); return a flatter result",
                     "RecursionError")
    except TypeError as e:  # e.g. a dict with tuple keys
        return _fail("result_not_serializable", f"the result has no JSON form: {_text(e)}", "TypeError")


def _text(error):
    """str(error), even when the exception's own __str__ raises."""
    try:
        return str(error) or type(error).__name__
    except BaseException:
        return f"<{type(error).__name__} whose message cannot be printed>"


def _fail(code, message, type_name=None, parameter=None, tb=None):
    return FAIL + json.dumps({"code": code, "message": message, "type": type_name, "parameter": parameter,
                              "traceback": tb})


# ---------------------------------------------------------------------------------------------------------------
# The method table.

_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", tuple: "array",
               dict: "object", type(None): "null", bytes: "string"}


_UNION_TYPES = (typing.Union, getattr(types, "UnionType", typing.Union))


def _unwrap_optional(annotation):
    """Optional[X] / X | None -> (X, True); anything else -> (annotation, False)."""
    if typing.get_origin(annotation) in _UNION_TYPES:
        members = typing.get_args(annotation)
        kinds = [a for a in members if a is not type(None)]
        if len(kinds) == 1:
            return kinds[0], len(kinds) != len(members)
    return annotation, False


def _json_type(annotation):
    if annotation is inspect.Parameter.empty:
        return None
    annotation, _ = _unwrap_optional(annotation)
    if annotation in _JSON_TYPES:
        return _JSON_TYPES[annotation]
    return _JSON_TYPES.get(typing.get_origin(annotation))


_PY_TYPES = {"integer": (int,), "number": (int, float), "string": (str,), "boolean": (bool,), "array": (list,),
             "object": (dict,)}


def _nullable(parameter):
    """`null` is a valid value: the annotation is Optional[X] / X | None, or the default is None."""
    return parameter.default is None or _unwrap_optional(parameter.annotation)[1]


def _checker(parameter):
    """(accepted Python types, JSON type name, None allowed) for a simple annotation; None when not checkable."""
    name = _json_type(parameter.annotation)
    if name not in _PY_TYPES:
        return None
    return _PY_TYPES[name], name, _nullable(parameter)


def _json_name(value):
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
                       (dict, "object"), (type(None), "null")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _json_default(value):
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


class Method:
    __slots__ = ("name", "function", "signature", "is_async", "accepts_var_kw", "named_args_kwargs", "descriptor",
                 "positional", "checks")

    def __init__(self, name, function, strict=False):
        self.name = name
        self.function = function
        try:
            self.signature = inspect.signature(function, eval_str=True)
        except Exception:  # an annotation that cannot be evaluated must not hide the method
            self.signature = inspect.signature(function)
        self.is_async = inspect.iscoroutinefunction(function)
        params = self.signature.parameters
        self.accepts_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        # A method with a parameter literally named args/kwargs takes a flat body as kwargs, always.
        self.named_args_kwargs = "args" in params or "kwargs" in params
        self.positional = [p.name for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # Strict mode only: the original passes values through whatever the annotations say, and callers rely on
        # it ("42" for an int, 600.0 for an int timeout, 500 for a str action).
        self.checks = {}
        for p in params.values() if strict else ():
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                check = _checker(p)
                if check is not None:
                    self.checks[p.name] = check
        self.descriptor = {
            "name": name,
            "signature": str(self.signature),
            "source": "Actor",
            "endpoint": f"POST /{name}",
            "is_async": self.is_async,
            "description": inspect.getdoc(function),
            "parameters": [
                {
                    "name": p.name,
                    "type": _json_type(p.annotation),
                    "nullable": _nullable(p),
                    "required": p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD),
                    "default": None if p.default is p.empty else _json_default(p.default),
                    "kind": p.kind.name.lower(),
                }
                for p in params.values()
            ],
        }


def _public_methods(actor, strict, skipped):
    """Public methods defined on the Actor's class (and its bases): never _names, dunders, instance attributes,
    properties or other callables that merely live on the object. A public attribute that cannot be served (a
    class-level `h = lambda: 1` has no valid signature once bound) is left out and named in `skipped`."""
    methods = {}
    for name in dir(type(actor)):
        if name.startswith("_"):
            continue
        try:
            static = inspect.getattr_static(actor, name)
            if not (inspect.isfunction(static) or isinstance(static, (staticmethod, classmethod))):
                continue
            function = getattr(actor, name)
            if callable(function):
                methods[name] = Method(name, function, strict)
        except Exception as e:
            skipped.append(f"{name}: {type(e).__name__}: {_text(e)}")
    return methods


# ---------------------------------------------------------------------------------------------------------------
# Arguments.

class _BadArguments(Exception):
    def __init__(self, message, parameter=None, code="invalid_arguments"):
        super().__init__(message)
        self.parameter = parameter
        self.code = code


def _arguments(method, body, shape):
    try:
        data = _loads(body) if body else {}
    except ValueError as e:
        raise _BadArguments(f"the request body is not valid JSON: {e}", code="invalid_json") from None
    except RecursionError:
        raise _BadArguments("the request body is nested too deeply", code="invalid_json") from None
    if not isinstance(data, dict):
        raise _BadArguments("the request body must be a JSON object", code="invalid_json")
    if shape == SHAPE_CALL or (not method.named_args_kwargs and data and data.keys() <= {"args", "kwargs"}):
        args = data.get("args") or []
        kwargs = data.get("kwargs") or {}
        if not isinstance(args, list):
            raise _BadArguments("'args' must be a JSON array", "args")
        if not isinstance(kwargs, dict):
            raise _BadArguments("'kwargs' must be a JSON object", "kwargs")
    else:
        args, kwargs = [], data
    if method.checks:
        _check_types(method, args, kwargs)
    return args, kwargs


def _check_types(method, args, kwargs):
    """Rejects a value whose JSON type contradicts a simple annotation (int, float, str, bool, list, dict)."""
    checks = method.checks
    named = zip(method.positional, args)
    for name, value in list(named) + list(kwargs.items()):
        check = checks.get(name)
        if check is None:
            continue
        accepted, type_name, allow_none = check
        if value is None and allow_none:
            continue
        if isinstance(value, accepted) and not (isinstance(value, bool) and bool not in accepted):
            continue
        raise _BadArguments(f"parameter '{name}' of {method.name} expects {type_name}"
                            f"{' or null' if allow_none else ''}, got {_json_name(value)}", name)


def _binding_error(method, args, kwargs, error):
    """After a TypeError from the call: if the arguments do not bind to the signature, it is the caller's fault
    (400 naming every unexpected and missing parameter); otherwise the TypeError came from inside the method (500)."""
    try:
        method.signature.bind(*args, **kwargs)
    except TypeError as e:
        return _describe_binding(method, args, kwargs, str(e))
    return None


def _describe_binding(method, args, kwargs, python_message):
    """Every problem at once (a misspelt `taskid` is both an unexpected `taskid` and a missing `task_id`), with the
    nearest parameter name for each unexpected one."""
    import difflib
    params = method.signature.parameters
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_var_args = any(p.kind is p.VAR_POSITIONAL for p in params.values())
    problems = []
    first = None
    if len(args) > len(positional) and not takes_var_args:
        problems.append(f"takes {len(positional)} positional argument{'s' if len(positional) != 1 else ''} "
                        f"but {len(args)} were given")
        first = "args"
    given = {p.name for p in positional[:len(args)]}
    names = [p.name for p in params.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for key in kwargs:
        parameter = params.get(key)
        if parameter is not None and parameter.kind is parameter.POSITIONAL_ONLY and not method.accepts_var_kw:
            problems.append(f"'{key}' is positional-only")
        elif key in given:
            problems.append(f"got multiple values for argument '{key}'")
        elif parameter is None and not method.accepts_var_kw:
            near = difflib.get_close_matches(key, [n for n in names if n not in kwargs and n not in given], 1, 0.6)
            problems.append(f"unexpected argument '{key}'" + (f" (did you mean '{near[0]}'?)" if near else ""))
        else:
            continue
        first = first or key
    missing = [p.name for p in params.values()
               if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               and p.name not in given and p.name not in kwargs]
    if missing:
        problems.append("missing required argument" + ("s " if len(missing) > 1 else " ")
                        + ", ".join(f"'{m}'" for m in missing))
        first = first or missing[0]
    if not problems:
        problems.append(python_message)
    return _BadArguments(f"{method.name}{method.signature}: {'; '.join(problems)}", first)


# ---------------------------------------------------------------------------------------------------------------
# The bridge.

class DeadlineExceeded(BaseException):
    """Raised into a call whose deadline passed (BaseException, so that `except Exception` in actor code does not
    swallow it)."""


class Bridge:
    def __init__(self, env_file, debug, complete, take, strict=False, max_result_bytes=None):
        self.env_file = env_file
        self.debug = bool(debug)
        self.strict = bool(strict)
        self.max_result_bytes = int(max_result_bytes) if max_result_bytes else None
        self._report = complete
        self._take = take
        self.actor = None
        self.methods = {}
        self.skipped = []
        self.loop = None
        self._loop_thread = None
        self._loop_restarts = 0
        self._stopping = False
        self._tasks = {}
        self._loop_thread_id = None
        # The host writes a byte here (without the GIL) when calls wait for the loop; the loop then takes them all.
        self._wake_read, self.wake_fd = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self.wake_fd, False)

    # -- start-up ------------------------------------------------------------------------------------------------

    def load_module(self):
        """Imports env.py and returns its Actor class (no construction). StartupError with the reason otherwise."""
        path = os.path.abspath(self.env_file)
        if not os.path.isfile(path):
            raise StartupError(f"environment file {path} does not exist (set AFFINETES_ENV_FILE)")
        directory = os.path.dirname(path)
        if directory not in sys.path:
            sys.path.insert(0, directory)
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as e:
            raise StartupError(f"{path} has a syntax error at line {e.lineno}: {e.msg}") from None
        except BaseException as e:
            raise StartupError(f"importing {path} failed: {type(e).__name__}: {_text(e)}"
                               + self._debug_tail()) from None
        actor_class = getattr(module, "Actor", None)
        if actor_class is None:
            raise StartupError(f"{path} defines no class named Actor; an environment exposes its methods on "
                               "`class Actor:`")
        if not isinstance(actor_class, type):
            raise StartupError(f"{path}: Actor is a {type(actor_class).__name__}, not a class")
        return actor_class

    def start(self):
        """Imports env.py, starts the event loop and constructs the Actor on it. Returns the method table as JSON."""
        actor_class = self.load_module()
        self._start_loop()
        construct = asyncio.run_coroutine_threadsafe(self._construct(actor_class), self.loop)
        self.actor = construct.result()
        self.methods = _public_methods(self.actor, self.strict, self.skipped)
        return json.dumps([m.descriptor for m in sorted(self.methods.values(), key=lambda m: m.name)])

    async def _construct(self, actor_class):
        # On the loop thread, so that an Actor which creates asyncio clients in __init__ binds them to our loop.
        try:
            return actor_class()
        except BaseException as e:
            raise StartupError(f"Failed to initialize Actor: {type(e).__name__}: {_text(e)}"
                               + self._debug_tail()) from None

    def _debug_tail(self):
        return ("\n" + traceback.format_exc()) if self.debug else ""

    def _start_loop(self):
        ready = threading.Event()

        def run():
            self._loop_thread_id = threading.get_ident()
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.add_reader(self._wake_read, self._on_wake)
            ready.set()
            # The loop survives anything raised on it (a task's KeyboardInterrupt or SystemExit escapes run_forever,
            # so does an exception from a callback an actor scheduled): it is run again, its tasks still there.
            while not self._stopping:
                try:
                    self.loop.run_forever()
                except BaseException as e:
                    self._loop_restarts += 1
                    _log(f"the asyncio loop stopped on {type(e).__name__}: {_text(e)}; running it again")
                    continue
                if self._stopping:
                    break

        self._loop_thread = threading.Thread(target=run, name="affinetes-asyncio", daemon=True)
        self._loop_thread.start()
        ready.wait()

    def interrupt_loop(self):
        """Raises DeadlineExceeded in the loop's thread at its next bytecode: for a task that never yields (a CPU loop
        in an async def), which cancellation cannot reach. Called under the GIL when the loop has not run since a
        call's deadline passed."""
        import ctypes
        if self._loop_thread_id is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._loop_thread_id),
                                                       ctypes.py_object(DeadlineExceeded))

    def method_kind(self, name):
        """1 async, 0 plain, -1 not a public method of the Actor."""
        method = self.methods.get(name)
        return -1 if method is None else (1 if method.is_async else 0)

    # -- plain methods -------------------------------------------------------------------------------------------

    def call_sync(self, call_id, name, body, shape):
        """Runs a plain method on the calling worker thread. Always returns a tagged payload; CONTINUES when the
        method returned an awaitable, which the loop then finishes (reporting through complete())."""
        try:
            method = self.methods[name]
            try:
                args, kwargs = _arguments(method, body, shape)
            except _BadArguments as e:
                return _fail(e.code, str(e), None, e.parameter)
            try:
                result = method.function(*args, **kwargs)
            except TypeError as e:
                bad = _binding_error(method, args, kwargs, e)
                if bad is not None:
                    return _fail(bad.code, str(bad), None, bad.parameter)
                return self._actor_failure(e)
            except DeadlineExceeded:
                raise
            except BaseException as e:  # KeyboardInterrupt, SystemExit, GeneratorExit from the actor: its error
                return self._actor_failure(e)
            if type(result) not in _PLAIN and inspect.isawaitable(result):
                # Never block a worker on it: the loop runs it like an async method.
                self.loop.call_soon_threadsafe(self._start_task, call_id, result)
                return CONTINUES
            return _encode_result(result, self._actor_failure, self.max_result_bytes)
        except DeadlineExceeded:
            return _fail("deadline_exceeded", "the call's deadline passed and it was interrupted", "DeadlineExceeded")
        except BaseException as e:
            return _fail("actor_error", f"the Python bridge failed on this call: {type(e).__name__}: {_text(e)}",
                         type(e).__name__)

    def interrupt(self, thread_id):
        """Raises DeadlineExceeded in a worker thread at its next bytecode (a blocking C call is not interrupted).
        Called under the GIL while the call runs there."""
        import ctypes
        return ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(DeadlineExceeded))

    def clear_interrupt(self, thread_id):
        """Withdraws an interrupt that arrived after the call had finished, so that it cannot hit the next call."""
        import ctypes
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)

    def _actor_failure(self, e):
        tb = None
        if self.debug:
            try:
                tb = "".join(traceback.format_exception(e))
            except BaseException:
                tb = None
        return _fail("actor_error", _text(e), type(e).__name__, None, tb)

    # -- async methods -------------------------------------------------------------------------------------------

    def _on_wake(self):
        """On the loop: the host has queued calls (or cancellations, or asks for a heartbeat): take them all."""
        try:
            os.read(self._wake_read, 65536)
        except (BlockingIOError, InterruptedError):
            pass
        for kind, call_id, name, body, shape in self._take():
            if kind == TAKE_CANCEL:
                task = self._tasks.get(call_id)
                if task is not None:  # else it has finished already
                    task.cancel()
                continue
            try:
                self._begin(call_id, name, body, shape)
            except BaseException as e:  # one broken call never takes the others of the batch with it
                self._complete(call_id, _fail("actor_error", f"{type(e).__name__}: {_text(e)}", type(e).__name__))

    def _begin(self, call_id, name, body, shape):
        method = self.methods[name]
        try:
            args, kwargs = _arguments(method, body, shape)
        except _BadArguments as e:
            self._complete(call_id, _fail(e.code, str(e), None, e.parameter))
            return
        try:
            coroutine = method.function(*args, **kwargs)
        except TypeError as e:
            bad = _binding_error(method, args, kwargs, e)
            self._complete(call_id, _fail(bad.code, str(bad), None, bad.parameter) if bad else self._actor_failure(e))
            return
        except BaseException as e:
            self._complete(call_id, self._actor_failure(e))
            return
        if type(coroutine) is not types.CoroutineType and not inspect.isawaitable(coroutine):
            self._complete(call_id, _encode_result(coroutine, self._actor_failure, self.max_result_bytes))
            return
        self._start_task(call_id, coroutine)

    def _start_task(self, call_id, awaitable):
        try:
            self._tasks[call_id] = self.loop.create_task(self._run(call_id, awaitable))
        except BaseException as e:
            self._complete(call_id, self._actor_failure(e))

    async def _run(self, call_id, awaitable):
        payload = None
        try:
            result = await awaitable
            payload = _encode_result(result, self._actor_failure, self.max_result_bytes)
        except asyncio.CancelledError:
            payload = _fail("deadline_exceeded", "the call was cancelled", "CancelledError")
        except BaseException as e:  # SystemExit, KeyboardInterrupt, GeneratorExit ...: the call's error, not the loop's
            payload = self._actor_failure(e)
        finally:
            self._tasks.pop(call_id, None)
            self._complete(call_id, payload if payload is not None else
                           _fail("actor_error", "the call ended without a result", "BaseException"))

    def _complete(self, call_id, payload):
        try:
            self._report(call_id, payload)
        except BaseException as e:
            _log(f"could not hand call {call_id}'s result to the host: {type(e).__name__}: {_text(e)}")

    # -- shut-down -----------------------------------------------------------------------------------------------

    def stop(self, grace_seconds):
        """Cancels what still runs on the loop, lets cancellation handlers run briefly, then stops the loop."""
        if self.loop is None or not self.loop.is_running():
            return

        async def finish():
            for task in list(self._tasks.values()):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks.values()), timeout=grace_seconds)

        try:
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result(grace_seconds + 1)
        except Exception:
            pass
        self._stopping = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(grace_seconds + 1)


def _log(message):
    try:
        print(f"affinetes-host: {message}", file=sys.stderr, flush=True)
    except BaseException:
        pass


def _keep_termination_signals():
    """SIGTERM and SIGINT belong to the host (docker stop must stop the container): an env.py that installs a handler
    for them, at import or later, is told so in the log and keeps the host's."""
    import signal
    if getattr(signal.signal, "_affinetes_guard", False):  # one guard per process, however many bridges it makes
        return
    install = signal.signal
    owned = {signal.SIGTERM, signal.SIGINT}

    def guarded(signalnum, handler):
        if signalnum in owned:
            _log(f"the actor asked to handle {signal.Signals(signalnum).name}; the host keeps it so that the container "
                 "stops when asked")
            return signal.getsignal(signalnum)
        return install(signalnum, handler)

    guarded.__doc__ = install.__doc__
    guarded._affinetes_guard = True
    signal.signal = guarded


def _sync_sys_path(wanted):
    """The module path the image's python3 has (venvs, dist-packages), in its order, before the interpreter's own."""
    present = set(sys.path)
    for at, entry in enumerate(wanted):
        if entry not in present:
            sys.path.insert(at, entry)
            present.add(entry)


def make_bridge(env_file, debug, complete, take, strict=False, modules_dir=None, max_result_bytes=None, sys_path=(),
                hidden_variables=()):
    _sync_sys_path(sys_path)
    # The host only needs to verify the auth token: the plain variable leaves Python's environment (and the C
    # environment subprocesses inherit) before env.py is imported. Clients should set only its hash.
    for name in hidden_variables:
        os.environ.pop(name, None)
    # Actor output reaches the container log as it happens, not when a block buffer fills.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    # The modules the host layer ships (affinetes.core.*, request_logger) come last: an environment's own copy, in
    # its directory or installed in its image, wins.
    if modules_dir and os.path.isdir(modules_dir) and modules_dir not in sys.path:
        sys.path.append(modules_dir)
    _keep_termination_signals()
    return Bridge(env_file, debug, complete, take, strict, max_result_bytes)
