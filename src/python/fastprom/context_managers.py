"""time(), track_inprogress() and count_exceptions(): each works as a context
manager and as a decorator, like prometheus_client's.

The context managers of time() and track_inprogress() are the extension's
(fastprom._native.TimerCore, TrackerCore): a `with` block costs two C
calls. The decorators wrap the function in one with the same signature,
so inspect.getfullargspec() and inspect.signature() of the decorated
function show the original arguments, as with prometheus_client (which
uses the `decorator` package for that).

One difference, on purpose: decorating an `async def` function gives an
`async def` wrapper, so the timing, the in-progress count and the exception
count cover the awaited body (prometheus_client's decorator stops at the
coroutine's creation), and frameworks that inspect the endpoint (FastAPI
checks for coroutine functions and reads the signature) see the original.
"""
import functools
import inspect
from timeit import default_timer

from . import _native

_FUNC, _CONTEXT = "_fastprom_func_", "_fastprom_context_"


def _signature_source(func):
    """(parameter list, call arguments, namespace of the defaults) that
    rebuild func's signature in a def, or None when it has none to read."""
    try:
        sig = inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        return None
    params, call, ns = [], [], {}
    star_done = False
    for i, p in enumerate(sig.parameters.values()):
        if p.name in (_FUNC, _CONTEXT):
            return None
        text = p.name
        if p.default is not p.empty:
            ns[f"_fastprom_default_{i}_"] = p.default
            text += f"=_fastprom_default_{i}_"
        if p.kind == p.VAR_POSITIONAL:
            text, star_done = "*" + p.name, True
            call.append("*" + p.name)
        elif p.kind == p.VAR_KEYWORD:
            text = "**" + p.name
            call.append("**" + p.name)
        elif p.kind == p.KEYWORD_ONLY:
            if not star_done:
                params.append("*")
                star_done = True
            call.append(f"{p.name}={p.name}")
        else:
            call.append(p.name)
        params.append(text)
        if p.kind == p.POSITIONAL_ONLY and (i + 1 == len(sig.parameters) or
                                            list(sig.parameters.values())[i + 1].kind != p.POSITIONAL_ONLY):
            params.append("/")
    return ", ".join(params), ", ".join(call), ns


def _decorate(func, make_context):
    """Wraps func so each call runs inside a fresh make_context(); the
    wrapper has func's signature."""
    is_async = inspect.iscoroutinefunction(func)
    source = _signature_source(func)
    if source is None:
        params, call, ns = "*args, **kwargs", "*args, **kwargs", {}
    else:
        params, call, ns = source
    ns = dict(ns, **{_FUNC: func, _CONTEXT: make_context})
    if is_async:
        code = (f"async def wrapper({params}):\n    with {_CONTEXT}():\n"
                f"        return await {_FUNC}({call})\n")
    else:
        code = f"def wrapper({params}):\n    with {_CONTEXT}():\n        return {_FUNC}({call})\n"
    exec(code, ns)  # noqa: S102 - source built above from the signature's names only
    return functools.update_wrapper(ns["wrapper"], func)


class ExceptionCounter:
    def __init__(self, counter, exception):
        self._counter = counter
        self._exception = exception

    def __enter__(self):
        pass

    def __exit__(self, typ, value, traceback):
        if isinstance(value, self._exception):
            self._counter.inc()
        return False

    def __call__(self, func):
        return _decorate(func, lambda: self)


class InprogressTracker(_native.TrackerCore):
    """gauge.inc() on entry, gauge.dec() on exit (TrackerCore's, in C)."""

    def __call__(self, func):
        return _decorate(func, lambda: self)


class Timer(_native.TimerCore):
    """Timer(metric, callback_name, clock): calls
    metric.<callback_name>(seconds) when the block ends (the context
    manager is TimerCore's, in C). The metrics pass this module's
    default_timer as the clock when they make one."""

    def _new_timer(self):
        return self.__class__(self._metric, self._callback_name, default_timer)

    def labels(self, *args, **kw):
        self._metric = self._metric.labels(*args, **kw)

    def __call__(self, func):
        # A new timer per call keeps concurrent and recursive calls apart.
        return _decorate(func, self._new_timer)
