"""time(), track_inprogress() and count_exceptions(): each works as a context
manager and as a decorator, like prometheus_client's.

One difference, on purpose: decorating an `async def` function gives an
`async def` wrapper, so the timing, the in-progress count and the exception
count cover the awaited body (prometheus_client's decorator stops at the
coroutine's creation), and frameworks that inspect the endpoint (FastAPI
checks for coroutine functions and reads the signature) see the original.
"""
import functools
import inspect
from timeit import default_timer


def _decorate(func, make_context):
    """Wraps func so each call runs inside a fresh make_context()."""
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args, **kwargs):
            with make_context():
                return await func(*args, **kwargs)
        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with make_context():
            return func(*args, **kwargs)
    return wrapper


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


class InprogressTracker:
    def __init__(self, gauge):
        self._gauge = gauge

    def __enter__(self):
        self._gauge.inc()

    def __exit__(self, typ, value, traceback):
        self._gauge.dec()

    def __call__(self, func):
        return _decorate(func, lambda: self)


class Timer:
    """Calls metric.<callback_name>(seconds) when the block ends."""

    def __init__(self, metric, callback_name):
        self._metric = metric
        self._callback_name = callback_name

    def _new_timer(self):
        return self.__class__(self._metric, self._callback_name)

    def __enter__(self):
        self._start = default_timer()
        return self

    def __exit__(self, typ, value, traceback):
        # The clock is monotonic, but a negative duration must never be recorded.
        duration = max(default_timer() - self._start, 0)
        getattr(self._metric, self._callback_name)(duration)

    def labels(self, *args, **kw):
        self._metric = self._metric.labels(*args, **kw)

    def __call__(self, func):
        # A new timer per call keeps concurrent and recursive calls apart.
        return _decorate(func, self._new_timer)
