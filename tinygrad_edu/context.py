"""Per-thread settings the engine reads: grad mode, the module scope, and observers.

Each setting belongs to the thread that set it, so `no_grad()` in one thread
never changes what another thread records, and two threads can walk graphs at once.
"""
import functools
import linecache
import os
import sys
import threading

import numpy as np


class _Settings(threading.local):
    """The class attributes are each new thread's defaults."""
    grad_enabled = True
    scope = None              # label of the nn module whose forward is running, for drawings
    forward_hooks = ()        # observers' methods, called after each op's forward
    backward_hooks = ()       # ... after each op's backward
    leaving_hooks = ()        # ... when data leaves the engine (item(), numpy(), ...)


settings = _Settings()


def is_grad_enabled():
    """True unless this thread is inside no_grad()."""
    return settings.grad_enabled


class _Setting:
    """Context manager that sets one per-thread setting and puts the old value back."""
    name = None

    def value(self, previous):
        raise NotImplementedError

    def __enter__(self):
        self._previous = getattr(settings, self.name)
        setattr(settings, self.name, self.value(self._previous))
        return self

    def __exit__(self, *exc):
        setattr(settings, self.name, self._previous)


class no_grad(_Setting):
    """Context manager and decorator: ops inside record no graph (in this thread)."""
    name = "grad_enabled"

    def value(self, previous):
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


class scope(_Setting):
    """Context manager: ops made inside carry `label` as `op.scope`, so drawings box them.
    nn.Module puts one around each forward; nested scopes join with "/"."""
    name = "scope"

    def __init__(self, label):
        self.label = label

    def value(self, previous):
        return self.label if previous is None else f"{previous}/{self.label}"


class observe:
    """Context manager: tell `observer` of every op in this thread while it is installed.

    The observer may define any of these methods (the others are skipped):
      forward(op, out)                                  after each op's forward
      backward(op, out, grad_output, input_grads)       after each op's backward
      leaving(tensor, how)                              when data leaves the engine:
                                                        how is "item", "float", "int", "bool",
                                                        "tolist", "numpy" or "__array__"
    detect_anomaly, the explorer and jit are built on it; so can your own tools be.
    """

    def __init__(self, observer):
        self.observer = observer

    def __enter__(self):
        self._previous = {}
        for kind in ("forward", "backward", "leaving"):
            method = getattr(self.observer, kind, None)
            hooks = self._previous[kind] = getattr(settings, kind + "_hooks")
            if method is not None:
                setattr(settings, kind + "_hooks", hooks + (method,))
        return self.observer

    def __exit__(self, *exc):
        for kind, hooks in self._previous.items():
            setattr(settings, kind + "_hooks", hooks)


_LIBRARY_DIRS = tuple(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + package + os.sep
                      for package in ("tinygrad_edu", "nn")) + (os.path.dirname(np.__file__) + os.sep,)


def user_line():
    """'file:line in function: code' of the innermost caller outside tinygrad_edu, nn and NumPy,
    which is the line an error about an op should point the user to."""
    frame = sys._getframe(1)
    while frame is not None and (os.path.abspath(frame.f_code.co_filename).startswith(_LIBRARY_DIRS)
                                 or frame.f_code.co_filename.startswith("<__array_function__")):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    code = frame.f_code
    source = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}: {source}"
