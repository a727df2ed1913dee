"""tinygrad_edu.jit: record one call of a step as a flat list of NumPy calls, then replay that list.

    @jit
    def train_step(x, y):
        optimizer.zero_grad()
        loss = nn.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

The first call with a new signature runs the step for real, eagerly, while every
array involved is seen through `Traced`, an ndarray subclass. NumPy hands each
call on a Traced array to its `__array_ufunc__` (and `__array_function__`, and
the methods Traced overrides), which does the call on plain arrays and writes
down the function, its inputs and the array it wrote: one line of the program.
The forward pass, the backward walk, the optimiser's update all become such lines;
Tensors, ops and the graph leave no trace. Later calls copy the arguments into the
recording's input arrays and run the lines again with `out=` into the same arrays,
so the numbers are those of the eager step, bit for bit, with no graph and no
allocation. `print(train_step)` shows the program.

Before the first replay the program is tidied, never changing a number: a dying
array's buffer is reused for a later result (a 100,000-op chain fits in memory),
calls whose results nothing reads are dropped (the loss, when the step returns
nothing), a parameter's update is written into the parameter's own buffer, and
a Python number beside float arrays becomes the 0-d array of their dtype that
NumPy 2 makes of it anyway (a cheaper call).

What a recording fixes, as `jax.jit` does:
- Python values read inside the step are frozen at recording: Python numbers,
  branches on shapes, ndarrays a closure variable or global names (data: pass data
  that changes as an argument; a step that changes such an array raises JitError),
  anything fn computes that is not NumPy work on traced arrays.
- Turning traced data into a Python value (`.item()`, `float()`, `int()`, `bool()`,
  `.tolist()`, `.numpy()` or `np.asarray` in fn) would freeze a branch or a number,
  so it raises JitError naming the line of fn. So does anything else a replay could
  not follow: np.random's own functions, `default_rng()` without a seed, a boolean
  mask or `nonzero` from traced data (the result's shape depends on the values).
- Draws from a random generator the step reaches by closure (Dropout keeps one) are
  recorded as draws: each replay draws anew from that generator, so eager and jit
  get the same masks, a new one every call.
- A new signature records again: each argument's shape, dtype and requires_grad
  (other arguments by value) and, for every tensor the recording used or changed,
  its shape, dtype, requires_grad and whether `.grad` is None, and each module's
  `training`. One recording is kept per signature.
- Returned Tensors are new and detached on every call. Parameters, their `.grad`
  and other tensors reached by closure live in arrays the recording owns: a `.grad`
  kept from an earlier call shows the latest step. Arrays held by objects and
  containers the step reaches (optimiser state, learning rates) are updated in
  place, in their own memory; one the step replaces instead raises JitError.
- `check=True` records a signature's first call, records its second call again and
  compares the two programs (JitError on any difference); each call takes one step.
"""
import functools
import os
import sys
import threading
import types
import weakref
import zlib

import numpy as np

from . import observe
from .context import user_line
from .errors import JitError
from .tensor import Tensor

class _ThreadState(threading.local):
    recorder = None   # the _Recorder at work in this thread, or None


_thread = _ThreadState()

# NumPy's and the engine's own code: never scanned for state. A JitError names the first frame
# outside these and nn (nn sits beside tinygrad_edu), which is the line of the user's step.
_ENGINE_DIRS = (os.path.dirname(np.__file__) + os.sep, os.path.dirname(__file__) + os.sep)
_LIBRARY_DIRS = _ENGINE_DIRS + (os.path.join(os.path.dirname(os.path.dirname(__file__)), "nn") + os.sep,)


def jit(fn=None, check=False):
    """Record one call of fn as a flat list of NumPy calls and replay it on later calls (see the module docstring)."""
    if fn is None:
        return lambda f: JittedStep(f, check)
    return JittedStep(fn, check)


class JittedStep:
    """fn with one recording per signature; `print(step)` or `step.program` lists the latest recording."""

    def __init__(self, fn, check=False):
        functools.update_wrapper(self, fn)
        self.fn, self.check = fn, check
        self._recordings = {}   # argument signature -> recordings (each with its own leaf state)
        self._latest = None

    def __call__(self, *args):
        key = tuple(map(_describe, args))
        candidates = self._recordings.setdefault(key, [])
        for recording in candidates:
            if recording.fits():
                if self.check and not recording.checked:
                    return self._record_and_compare(recording, args)
                results = recording.replay(args)
                if results is not _NEW_SHAPE:
                    return results
        recording, results = _record(self.fn, args)
        candidates.append(recording)
        self._latest = recording
        return results

    def _record_and_compare(self, first, args):
        second, results = _record(self.fn, args)
        difference = first.difference(second)
        if difference:
            raise JitError(f"jit(check=True): the second call of {self.__name__} recorded a different program, "
                           f"so a replay would not repeat it: {difference}")
        first.checked = True
        return results

    @property
    def program(self):
        """The latest recording's NumPy calls, one per line."""
        return "(not recorded yet)" if self._latest is None else self._latest.listing()

    def __repr__(self):
        return f"jit({self.__name__}):\n{self.program}"


def _describe(value):
    """The part of the signature one argument gives."""
    if isinstance(value, Tensor):
        return Tensor, value.shape, value.dtype, value.requires_grad
    if isinstance(value, np.ndarray):
        return np.ndarray, value.shape, value.dtype
    try:
        hash(value)
    except TypeError:
        raise JitError(f"jit: an argument of type {type(value).__name__} is neither a Tensor, an ndarray nor a "
                       f"hashable value; pass it by closure instead") from None
    return type(value), value


# --- what a step reaches ------------------------------------------------------

class _Place:
    """Where a value lives (a dict entry, a list item, an attribute, a closure cell), so it can be swapped."""

    def __init__(self, holder, key, kind):
        self.holder, self.key, self.kind = holder, key, kind

    def get(self):
        if self.kind == "attr":
            return getattr(self.holder, self.key)
        if self.kind == "cell":
            return self.holder.cell_contents
        return self.holder[self.key]  # an item, or a global

    def set(self, value):
        if self.kind == "attr":
            setattr(self.holder, self.key, value)
        elif self.kind == "cell":
            self.holder.cell_contents = value
        else:
            self.holder[self.key] = value

    def describe(self):
        return f"{type(self.holder).__name__}.{self.key}" if self.kind == "attr" else f"[{self.key!r}]"


class _Reach:
    """Tensors, arrays, modules and random generators reachable from fn's closure, globals and defaults.

    An array held by an object or a container (optimiser state, a learning rate) is state the step may
    update in place: `arrays`, recorded where it lives. One a closure variable or global names itself
    is data: `data`, read as a constant (the step must not change it, which is checked)."""

    MAX_DEPTH, MAX_ITEMS = 8, 10_000

    def __init__(self, fn):
        self.tensors, self.arrays, self.modules, self.generators, self.data = [], [], [], [], []
        self.paths = {}  # id(tensor or array) -> how the step reaches it, as "model.0.weight", for listings
        self._seen = set()
        self._visit_callable(fn, 0, "")

    def _visit(self, value, place, depth, path):
        if depth > self.MAX_DEPTH or isinstance(value, (str, bytes, int, float, complex, type, types.ModuleType)):
            return
        if id(value) in self._seen:
            return
        self._seen.add(id(value))
        if isinstance(value, Tensor):
            self.tensors.append(value)
            self.paths[id(value)] = path
        elif type(value) is np.ndarray:
            if place is not None and place.kind in ("cell", "global"):
                self.data.append(value)  # data the step reads, as a constant (Embedding may check its values)
            elif place is not None:
                self.arrays.append((place, value))
                self.paths[id(value)] = path
        elif isinstance(value, (np.random.Generator, np.random.RandomState)):
            self.generators.append((place, value))
        elif isinstance(value, (types.FunctionType, types.MethodType)):
            self._visit_callable(value, depth, path)
        elif isinstance(value, (list, dict)) and len(value) <= self.MAX_ITEMS:
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in list(items):
                self._visit(item, _Place(value, key, "item"), depth + 1, f"{path}[{key!r}]")
        elif isinstance(value, (tuple, set, frozenset)) and len(value) <= self.MAX_ITEMS:
            for i, item in enumerate(value):
                self._visit(item, None, depth + 1, f"{path}[{i}]")
        elif hasattr(value, "__dict__") and not _in_engine(type(value)):
            if isinstance(getattr(value, "training", None), bool):
                self.modules.append(value)
            for name, item in list(vars(value).items()):
                self._visit(item, _Place(value, name, "attr"), depth + 1, f"{path}.{name}")

    def _visit_callable(self, fn, depth, path):
        if isinstance(fn, types.MethodType):
            self._visit(fn.__self__, None, depth + 1, f"{path}.__self__" if path else "self")
            fn = fn.__func__
        if not isinstance(fn, types.FunctionType):
            if hasattr(fn, "__dict__"):  # a callable object
                self._visit(fn, None, depth + 1, path or type(fn).__name__)
            return
        if _in_engine(fn):
            return
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                self._visit(cell.cell_contents, _Place(cell, None, "cell"), depth + 1, name)
            except ValueError:  # an empty cell
                pass
        for i, default in enumerate(fn.__defaults__ or ()):
            self._visit(default, None, depth + 1, f"{fn.__name__}.__defaults__[{i}]")
        for name in _global_names(fn.__code__):
            if name in fn.__globals__:
                self._visit(fn.__globals__[name], _Place(fn.__globals__, name, "global"), depth + 1, name)


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _in_engine(obj):
    """True for functions and classes of NumPy or tinygrad_edu itself (nn's objects are scanned: they hold state)."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    path = getattr(module, "__file__", None) or ""
    return path.startswith(_ENGINE_DIRS)


# --- the traced array -------------------------------------------------------------

class Traced(np.ndarray):
    """An ndarray whose NumPy calls the recorder of this thread writes down; plain outside a recording."""
    # plain: the plain ndarray the program uses for this array's memory. pool: where that
    # array goes when this one dies, for a later call to write into (None: never reused).
    __slots__ = ("plain", "pool")

    def __del__(self):
        try:
            pool = self.pool
        except AttributeError:  # a view: its memory is the array's it was made from, which it kept alive
            return
        if pool is not None:
            pool.append(self.plain)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        recorder = _thread.recorder
        if recorder is None or recorder.paused:
            return _plain_ufunc(ufunc, method, inputs, kwargs)
        return recorder.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        recorder = _thread.recorder
        if recorder is None or recorder.paused:
            return super().__array_function__(func, types_, args, kwargs)
        return recorder.function(func, types_, args, kwargs)

    def __repr__(self):
        return repr(self.view(np.ndarray))

    def __str__(self):
        return str(self.view(np.ndarray))

    def __format__(self, spec):
        return format(self.view(np.ndarray), spec)

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _method(name):
    """A Traced method that runs ndarray's under the recorder: recorded when it makes new data."""
    def method(self, *args, **kwargs):
        recorder = _thread.recorder
        if recorder is None or recorder.paused:
            return getattr(np.ndarray, name)(self, *args, **kwargs)
        return recorder.call(getattr(np.ndarray, name), (self,) + args, kwargs)
    method.__name__ = name
    return method


def _refusal(name):
    """A Traced method that reads values into Python: refused while recording (but for constants)."""
    def method(self, *args, **kwargs):
        recorder = _thread.recorder
        if recorder is not None and not recorder.paused and not recorder._is_pure(self):
            raise _escape(f"{name.strip('_')}() on traced data")
        return getattr(np.ndarray, name)(self.view(np.ndarray), *args, **kwargs)
    method.__name__ = name
    return method


# ndarray methods that may make new data without a ufunc (reshape, ravel and indexing copy sometimes),
# or change the array in place; the rest (sum, mean, max, clip, ...) reach __array_ufunc__ by themselves.
for _name in ("copy", "astype", "flatten", "ravel", "reshape", "__getitem__", "__setitem__", "take", "repeat",
              "dot", "argmax", "argmin", "argsort", "sort", "fill", "put", "searchsorted", "compress", "choose",
              "trace", "__copy__", "__deepcopy__", "nonzero", "partition", "argpartition"):
    setattr(Traced, _name, _method(_name))
for _name in ("__float__", "__int__", "__bool__", "__index__", "__complex__", "item", "tolist", "tobytes"):
    setattr(Traced, _name, _refusal(_name))


def _plain(value):
    """value with every Traced array in it (also inside lists and tuples) as a plain ndarray of the same memory."""
    if isinstance(value, Traced):
        return np.ndarray.view(value, np.ndarray)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _plain_ufunc(ufunc, method, inputs, kwargs):
    if "out" in kwargs:
        kwargs = dict(kwargs, out=_plain(kwargs["out"]))
    return getattr(ufunc, method)(*_plain(inputs), **{k: _plain(v) for k, v in kwargs.items()})


def _contains_traced(value):
    if isinstance(value, Traced):
        return True
    return isinstance(value, (list, tuple)) and any(_contains_traced(v) for v in value)


# --- errors that name the user's line ------------------------------------------------

def _called_from_library():
    """Did NumPy or nn (not the user's step) ask the engine for this array? The engine's own frames don't count."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith((_ENGINE_DIRS[1], __file__)):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS)


def _called_from_engine():
    """Is the caller of the function that asks this the engine itself (tensor.py, ops)?"""
    path = sys._getframe(2).f_code.co_filename
    return path.startswith(_ENGINE_DIRS[1]) and path != __file__


def _escape(what):
    return JitError(f"jit: {what} would freeze a value the replay cannot follow, at {user_line()}. "
                    f"Keep it a Tensor inside the step, or read it from the step's result outside.")


# --- the recorder ----------------------------------------------------------------------

class _Recorder:
    """Writes down every NumPy call on Traced arrays as (function, arguments) with plain arrays."""

    def __init__(self):
        self.calls, self.args = [], []   # the program: the replay runs calls[i](*args[i])
        self.paused = False     # while a recorded call runs its own NumPy code
        self.last_output = None
        self.kept = []          # arrays the program relies on that nothing else keeps alive
        self.free = {}          # (shape, dtype) -> buffers no live array uses any more
        self.used = set()       # ids of input handles some call read
        self.inputs = {}        # id(input handle) -> its plain buffer, for `used`
        self.adopted = set()    # ids of plain arrays made inside the step that a recorded call wrote into
        self.constants = {}     # (dtype, shape, bytes) -> one small read-only constant
        self.buffers = set()    # ids of the arrays the recording owns (the rest are constants or user state)
        self.pure = set()       # ids of arrays the step made from nothing and nothing has written since
        self.restores = []      # (array, values): arrays made by the step and then written, reset on entry

    # arrays ------------------------------------------------------------------
    def handle(self, raw, reusable):
        """A Traced view of the plain array raw, which becomes free for reuse when the view dies."""
        traced = raw.view(Traced)
        traced.plain = raw
        traced.pool = self.free.setdefault((raw.shape, raw.dtype), []) if reusable else None
        if reusable:
            self.buffers.add(id(raw))
        return traced

    def output(self, value):
        """A new buffer holding value (reusing a dead one of its shape and dtype), and its handle."""
        raw = value if type(value) is np.ndarray and value.base is None else np.array(value)
        dead = self.free.get((raw.shape, raw.dtype))
        if dead:
            reused = dead.pop()
            np.copyto(reused, raw)
            raw = reused
        return raw, self.handle(raw, reusable=True)

    def emit(self, call, args):
        """One line of the program: the replay runs call(*args)."""
        self.calls.append(call)
        self.args.append(args)

    def copy(self, array):
        """A recorded copy of a Traced array (the engine copies arrays a tensor takes)."""
        source = self.plain(array)
        if self._is_pure(array):
            return self.made(source.copy())
        raw, handle = self.output(source.copy())
        self.emit(np.copyto, (raw, source))
        return handle

    def plain(self, value):
        """The plain array the program uses for value (a Traced array, or anything else as it is)."""
        kind = type(value)
        if kind is Traced:
            try:
                raw = value.plain
            except AttributeError:  # a view made from a handle: it keeps that handle alive
                raw = value.plain = np.ndarray.view(value, np.ndarray)
                self._mark_used(value)
                return raw
            if id(value) in self.inputs:
                self.used.add(id(value))
            return raw
        if kind is np.ndarray:
            return self.constant(value)
        if kind is list or kind is tuple:
            return kind(self.plain(v) for v in value)
        if kind is dict:
            return {k: self.plain(v) for k, v in value.items()}
        return value

    def constant(self, array):
        """A small read-only constant, shared with equal ones (the engine makes one per `x * 0.5`)."""
        if array.size > 8 or array.flags.writeable or array.base is not None:
            return array
        return self.constants.setdefault((array.dtype.str, array.shape, array.tobytes()), array)

    def _mark_used(self, view):
        base = view.base
        while base is not None:
            if id(base) in self.inputs:
                self.used.add(id(base))
            base = getattr(base, "base", None)

    def target(self, array):
        """The plain array an in-place call writes into; an untracked one gets its current values replayed first."""
        if not array.flags.writeable:  # as NumPy would say: the plain array below would let the write through
            raise ValueError("output array is read-only")
        if isinstance(array, Traced):
            self.written(array)
            return self.plain(array)
        if not _tracked(array, self):
            # An array made inside the step (np.ones(...) then &=): restore what it held, then let the call run.
            self.emit(np.copyto, (array, array.copy()))
            self.kept.append(array)
            self.adopted.add(id(array))
        return array

    def made(self, array):
        """A Traced array for one the step makes from nothing (np.zeros, np.ones, ...): a constant until
        a recorded call writes into it, and never reused, so calls on constants alone need no replay."""
        handle = self.handle(array, reusable=False)
        self.pure.add(id(_root(array)))
        self.kept.append(array)  # alive while recording, so its id names no other array
        return handle

    def written(self, array):
        """A recorded call writes into array: if it was a constant the step made, the replay must start
        each call by giving it back the values it was made with."""
        root = _root(self.plain(array))
        if id(root) in self.pure:
            self.pure.discard(id(root))
            self.restores.append((np.ndarray.view(root, np.ndarray), np.array(np.ndarray.view(root, np.ndarray))))

    def _traced_mask_in(self, key):
        """Does an index hold a boolean mask from traced data (not a constant), whose count sets the shape?"""
        keys = _flatten(key if isinstance(key, tuple) else (key,))
        return any(isinstance(k, Traced) and k.dtype == bool and not self._is_pure(k) for k in keys)

    def _is_pure(self, value):
        return isinstance(value, Traced) and id(_root(self.plain(value))) in self.pure

    # calls ---------------------------------------------------------------------
    def ufunc(self, ufunc, method, inputs, kwargs):
        if any(isinstance(x, Tensor) for x in inputs):
            return NotImplemented  # a Tensor among the operands: its own __array_ufunc__ takes the call
        if method == "at":  # np.add.at(a, indices, values): in place, no output
            args = (self.target(inputs[0]),) + tuple(self.plain(x) for x in inputs[1:])
            ufunc.at(*args)
            self.emit(ufunc.at, args)
            return None
        out = kwargs.pop("out", None)
        args = tuple(self.plain(x) for x in inputs)
        kwargs = {k: self.plain(v) for k, v in kwargs.items()}
        call = getattr(ufunc, method)
        if out is not None:
            plain_out = tuple(self.target(o) for o in out)
            call(*args, out=plain_out, **kwargs)
            self._append(ufunc, method, args, plain_out, kwargs)
            return out[0] if len(out) == 1 else out
        results = call(*args, **kwargs)
        many = isinstance(results, tuple)
        if all(self._is_pure(x) or not isinstance(x, Traced) for x in inputs):  # constants only: fold
            handles = tuple(self.made(np.asarray(r)) for r in (results if many else (results,)))
            return handles if many else handles[0]
        buffers, handles = zip(*(self.output(r) for r in (results if many else (results,))))
        self._append(ufunc, method, args, buffers, kwargs)
        self.last_output = handles[-1]
        return handles if many else handles[0]

    def _append(self, ufunc, method, args, buffers, kwargs):
        if method == "__call__":
            args = self._typed_scalars(args)
        if method == "__call__" and not kwargs and ufunc not in (np.maximum, np.minimum):
            # out passed by position: the cheapest call NumPy offers (deprecated for maximum and minimum)
            self.emit(ufunc, args + tuple(buffers))
        elif method == "reduce" and len(args) == 1 and _plain_reduction(kwargs):
            self.emit(ufunc.reduce, (args[0], kwargs.get("axis", 0), kwargs.get("dtype"), buffers[0],
                                     kwargs.get("keepdims", False)))
        else:
            out = buffers if method == "__call__" else buffers[0]
            self.emit(functools.partial(ufunc if method == "__call__" else getattr(ufunc, method), out=out, **kwargs),
                      args)

    def _typed_scalars(self, args):
        """A Python number beside float arrays of one dtype, as the 0-d array of that dtype NumPy 2
        turns it into anyway (NEP 50): the same loop and values, and a cheaper call to replay."""
        dtypes = {a.dtype for a in args if isinstance(a, np.ndarray)}
        if len(dtypes) != 1:
            return args
        dtype = dtypes.pop()
        if dtype.kind != "f":
            return args
        limit = min(np.finfo(dtype).max, 2 ** 24)
        return tuple(self.constant(_locked_scalar(a, dtype)) if type(a) in (int, float) and abs(a) <= limit else a
                     for a in args)

    def function(self, func, types_, args, kwargs):
        """np.where, np.concatenate, np.broadcast_to, ...: run with the recorder watching, then classify."""
        if func in _REFUSED_FUNCTIONS:
            raise _escape(f"np.{func.__name__} on traced data (its result's shape depends on the values)")
        if func is np.where and len(args) == 3 and not kwargs:
            return self.where(*args)
        mark = len(self.calls)
        result = func._implementation(*args, **kwargs)
        return self.classify(func, args, kwargs, result, mark)

    def where(self, condition, a, b):
        """np.where(condition, a, b) as two copies into a buffer: np.where itself has no out=."""
        condition, a, b = self.plain((condition, a, b))
        raw, handle = self.output(np.where(condition, a, b))
        self.emit(np.copyto, (raw, b, "unsafe"))
        self.emit(np.copyto, (raw, a, "unsafe", condition))
        self.last_output = handle
        return handle

    def call(self, func, args, kwargs):
        """A method of ndarray on a Traced array."""
        if func is np.ndarray.nonzero and not self._is_pure(args[0]) or \
                func is np.ndarray.__getitem__ and self._traced_mask_in(args[1]):
            raise _escape("a boolean mask or nonzero() from traced data (the result's shape depends on the values)")
        if func is np.ndarray.copy and len(args) == 1 and not kwargs:
            return self.copy(args[0])
        mark = len(self.calls)
        self.paused = True
        try:
            result = func(*args, **kwargs)
        finally:
            self.paused = False
        return self.classify(func, args, kwargs, result, mark)

    def classify(self, func, args, kwargs, result, mark):
        """Return result as the program will see it: a view of traced memory, a recorded output, or
        new data written down as one call that the replay repeats (copying its result into a buffer)."""
        if result is None:  # it changed one of its arguments in place: repeat it
            for array in _flatten(args):
                if isinstance(array, Traced):
                    self.written(array)
            self.emit(_call, (func, self.plain(args), self.plain(kwargs)))
            return None
        if isinstance(result, (tuple, list)) and not isinstance(result, np.ndarray):
            return type(result)(self.classify(_item(func, i), args, kwargs, r, mark) for i, r in enumerate(result))
        if isinstance(result, (bool, int, float, complex)):
            if not _traced_in(args, kwargs) or func in _SHAPE_FUNCTIONS:
                return result
            raise _escape(f"{_name_of(func)} returning a Python {type(result).__name__} from traced data")
        if not isinstance(result, (np.ndarray, np.generic)):
            return result
        if result is self.last_output and len(self.calls) > mark:
            return result
        if isinstance(result, np.ndarray) and _shares_traced_memory(result, args, kwargs):
            return result if isinstance(result, Traced) else result.view(Traced)
        if not _traced_in(args, kwargs):
            return result
        result = np.ndarray.view(result, np.ndarray) if isinstance(result, Traced) else np.asarray(result)
        if all(self._is_pure(a) for a in _flatten((args, tuple(kwargs.values()))) if isinstance(a, Traced)):
            return self.made(result)  # made from constants alone: a constant too
        raw, handle = self.output(result)
        self.emit(_assign, (raw, func, self.plain(args), self.plain(kwargs)))
        return handle


def _locked_scalar(value, dtype):
    array = np.array(value, dtype=dtype)
    array.flags.writeable = False
    return array


def _is_reduce(call):
    return isinstance(getattr(call, "__self__", None), np.ufunc) and call.__name__ == "reduce"


def _plain_reduction(kwargs):
    """Keywords a reduction can take by position (out goes between dtype and keepdims)."""
    return set(kwargs) <= {"axis", "dtype", "keepdims", "where", "initial"} and kwargs.get("where", True) is True \
        and kwargs.get("initial", np._NoValue) is np._NoValue


def _item(func, i):
    return functools.partial(_nth, func, i)


def _nth(func, i, *args, **kwargs):
    return func(*args, **kwargs)[i]


def _call(func, args, kwargs):
    func(*args, **kwargs)


def _assign(out, func, args, kwargs):
    np.copyto(out, func(*args, **kwargs))


def _name_of(func):
    if isinstance(func, functools.partial):
        return _name_of(func.func)
    if isinstance(getattr(func, "__self__", None), np.ufunc):  # np.add.reduce and the like
        return f"{func.__self__.__name__}.{func.__name__}"
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))


def _traced_in(args, kwargs):
    return _contains_traced(args) or _contains_traced(tuple(kwargs.values()))


def _shares_traced_memory(result, args, kwargs):
    arrays = [a for a in _flatten((args, tuple(kwargs.values()))) if isinstance(a, Traced)]
    plain = np.ndarray.view(result, np.ndarray)
    return any(np.may_share_memory(plain, np.ndarray.view(a, np.ndarray)) for a in arrays)


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten(v)
    else:
        yield value




def _tracked(array, recorder):
    """Is array memory the recording follows: a view of a Traced array, or one it adopted?"""
    while isinstance(array, np.ndarray):
        if isinstance(array, Traced) or id(array) in recorder.adopted:
            return True
        array = array.base
    return False


_REFUSED_FUNCTIONS = {np.nonzero, np.argwhere, np.flatnonzero, np.unique, np.extract}
_SHAPE_FUNCTIONS = {np.shape, np.ndim, np.size}

# --- conversions NumPy does without asking the array ---------------------------------------

def _converting(original, copies, layout=None):
    """np.asarray / np.array / np.ascontiguousarray that keep a Traced array traced while this thread
    records (layout: the flag an array must have to be returned as it is, as "C_CONTIGUOUS").

    On an ndarray subclass they call no hook: without this, np.asarray(x) inside the step
    would hand out a plain view that the recorder never sees again.
    """
    @functools.wraps(original)
    def convert(a, *args, **kwargs):
        recorder = _thread.recorder
        if recorder is None or recorder.paused:
            return original(a, *args, **kwargs)
        if isinstance(a, Tensor) and isinstance(a.data, Traced):
            if not _called_from_library() and not recorder._is_pure(a.data):
                raise _escape(f"np.{original.__name__}() of a traced Tensor")
            a = a.data
        if isinstance(a, np.ndarray) and id(a) in recorder.adopted:  # made in the step, then written by it
            return recorder.call(original, (a.view(Traced),) + args, kwargs)
        if not _contains_traced(a):
            array = original(a, *args, **kwargs)
            # A Tensor made in the step from plain data (Tensor([0., 0.]), a constant): Traced as well, so a
            # later t[i] = traced value into its copy is recorded (NumPy's setitem on a plain array is not).
            return recorder.made(array) if type(array) is np.ndarray and _called_from_engine() else array
        dtype = args[0] if args else kwargs.get("dtype")
        if isinstance(a, Traced) and (dtype is None or np.dtype(dtype) == a.dtype) and len(args) <= 1 \
                and set(kwargs) <= {"dtype", "copy", "subok"} and (layout is None or a.flags[layout]):
            if not kwargs.get("copy", copies):
                return a
            fresh = a if getattr(a, "pool", None) is not None else a.base  # a result, or a view of one
            if getattr(fresh, "pool", None) is not None and fresh.flags.writeable and a.flags.writeable \
                    and _called_from_engine():
                # The engine copies a fresh result only because it cannot tell it is fresh (it is a
                # view of the recording's buffer); eager hands such an array over instead: do that.
                fresh.flags.writeable = a.flags.writeable = False
                return a
            return recorder.copy(a)
        return recorder.call(original, (a,) + args, kwargs)
    return convert


def _making(original):
    """np.zeros, np.ones, np.empty, np.full that give a Traced array while this thread records, so
    writes into it (`out[index] = g`, np.add.at) and everything made from it are recorded."""
    @functools.wraps(original)
    def make(*args, **kwargs):
        array = original(*args, **kwargs)
        recorder = _thread.recorder
        if recorder is None or recorder.paused or _called_from_jit():
            return array
        return recorder.made(array)
    return make


def _called_from_jit():
    return sys._getframe(2).f_code.co_filename == __file__


def _default_rng(original):
    @functools.wraps(original)
    def default_rng(seed=None):
        if seed is None and _thread.recorder is not None:
            raise _escape("np.random.default_rng() without a seed (a replay would repeat the same draws)")
        return original(seed)
    return default_rng


def _legacy_draw(original):
    @functools.wraps(original)
    def draw(*args, **kwargs):
        if _thread.recorder is not None:
            raise _escape(f"np.random.{original.__name__}() (a replay would repeat the same draws)")
        return original(*args, **kwargs)
    return draw


_PATCHES = [(np, "asarray", _converting(np.asarray, copies=False)), (np, "array", _converting(np.array, copies=True)),
            (np, "ascontiguousarray", _converting(np.ascontiguousarray, False, "C_CONTIGUOUS")),
            (np, "asfortranarray", _converting(np.asfortranarray, False, "F_CONTIGUOUS")),
            (np.random, "default_rng", _default_rng(np.random.default_rng))]
_PATCHES += [(np, name, _making(getattr(np, name))) for name in ("zeros", "ones", "empty", "full")]
_PATCHES += [(np.random, name, _legacy_draw(getattr(np.random, name))) for name in dir(np.random)
             if getattr(getattr(np.random, name), "__self__", None) is np.random.mtrand._rand
             and name not in ("get_state", "set_state", "seed")]
_ORIGINALS = [(module, name, getattr(module, name)) for module, name, _ in _PATCHES]
_patch_lock = threading.Lock()
_patch_users = 0


def _patch(on):
    """Install the wrappers above while any thread records (they act only in a recording thread)."""
    global _patch_users
    with _patch_lock:
        _patch_users += 1 if on else -1
        for module, name, value in (_PATCHES if _patch_users else _ORIGINALS):
            setattr(module, name, value)


class _Watcher:
    """Observer of the engine (tinygrad_edu.observe): refuses data leaving it, and parameters fn's closure hid."""

    def leaving(self, tensor, how):
        data, recorder = tensor.data, _thread.recorder
        if recorder is None or not isinstance(data, Traced) or recorder._is_pure(data):
            return  # a constant the step made: reading it freezes nothing
        if not (how in ("numpy", "__array__") and _called_from_library()):
            raise _escape(f"{how}() of a traced Tensor" if how != "__array__" else "np.asarray() of a traced Tensor")

    def __init__(self):
        self.hidden = {}  # id -> (weak reference, where it was used) of leaves that require grad but were not found

    def forward(self, op, out):
        for x in op.inputs:
            if x.requires_grad and x.op is None and not isinstance(x.data, Traced) and id(x) not in self.hidden:
                self.hidden[id(x)] = (weakref.ref(x), user_line())

    def check_hidden(self):
        """Leaves the step made itself are gone with its graph; one still alive is a parameter jit missed."""
        for ref, line in self.hidden.values():
            x = ref()
            if x is not None:
                raise JitError(f"jit: a parameter of shape {x.shape} that the step reaches neither as an argument "
                               f"nor by closure, at {line}; pass it (or its module) as an argument or keep it in "
                               f"a variable the step names")


class _RecordedDraws:
    """Stands in for a NumPy random generator while a step records: each draw is made for real
    (the same numbers eager would get) and written down, so each replay draws anew from the
    generator, continuing its sequence: a new Dropout mask every call, as eagerly."""

    def __init__(self, generator, recorder):
        self._generator, self._recorder = generator, recorder

    def __getattr__(self, name):
        method = getattr(self._generator, name)
        if not callable(method):
            return method

        def draw(*args, **kwargs):
            recorder = self._recorder
            args, kwargs = recorder.plain(args), recorder.plain(kwargs)
            raw, handle = recorder.output(np.asarray(method(*args, **kwargs)))
            recorder.emit(_assign, (raw, method, args, kwargs))
            return handle
        return draw


def _fingerprint(array):
    """A checksum of an array's values (arrays over 16 MB are not read: None)."""
    return zlib.crc32(np.ascontiguousarray(array)) if array.nbytes <= 2 ** 24 else None


def _random_states(generators):
    return [np.random.get_state()[1].tobytes()] + [repr(g.bit_generator.state) for g in generators]


# --- recording and replaying -------------------------------------------------------------

def _without_dead_calls(calls, args, buffers, seen):
    """Drop, in place, the calls whose results nothing reads (the loss of a step that returns nothing,
    say): walk the program backwards, keeping the memory whose contents a later call or the caller
    sees. Only calls that write nothing but the recording's own buffers can go."""
    live = {id(_root(a)) for a in seen}
    dead = bytearray(len(calls))
    for i in range(len(calls) - 1, -1, -1):
        outputs, inputs, overwrites = _effects(calls[i], args[i])
        roots = [_root(o) for o in outputs]
        if roots and all(id(r) in buffers and id(r) not in live for r in roots):
            dead[i] = 1
            continue
        if overwrites:  # the contents before this call no longer matter (unless it reads them too)
            live.difference_update(id(r) for o, r in zip(outputs, roots) if o is r)
        live.update(id(_root(x)) for x in inputs if isinstance(x, np.ndarray))
    kept = 0
    for i, is_dead in enumerate(dead):  # compact both lists without copying them
        if not is_dead:
            calls[kept], args[kept] = calls[i], args[i]
            kept += 1
    del calls[kept:], args[kept:]


def _effects(call, args):
    """(arrays a program entry writes, arrays it reads, whether it overwrites its outputs whole)."""
    if isinstance(call, np.ufunc):
        return list(args[call.nin:]), list(args[:call.nin]), True
    if isinstance(call, functools.partial):
        out = call.keywords["out"]
        outputs = list(out) if isinstance(out, tuple) else [out]
        reads = list(args) + [v for k, v in call.keywords.items() if k != "out" and isinstance(v, np.ndarray)]
        return outputs, reads, "where" not in call.keywords or call.keywords["where"] is True
    if _is_reduce(call):  # ufunc.reduce(array, axis, dtype, out, keepdims)
        return [args[3]], [args[0]], True
    if call is _assign:
        return [args[0]], list(_arrays_in((args[2], args[3]))), True
    if call is np.copyto:
        return [args[0]], list(args[1:]), len(args) < 4
    arrays = list(_arrays_in(args))  # in place on some of its arguments: each is read and written
    return arrays, arrays, False


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _arrays_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _arrays_in(v)


def _root(array):
    """The array that owns the memory array is a view of (through any object in between,
    such as the one np.lib.stride_tricks puts under its views)."""
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def _read_only_copy(array):
    """A copy the Tensor takes as it is (a writeable one it would copy again)."""
    copy = array.copy()
    copy.flags.writeable = False
    return copy


_NEW_SHAPE = object()   # what replay() returns when an input no longer fits the recording


class _Slot:
    """A tensor's array that the step reads or changes (a tensor's data, or a leaf's .grad):
    copied into `raw`, the program's input, on entry when it is not already the array the
    previous call left there (`view`)."""

    def __init__(self, recorder, tensor, leaf=None):
        self.tensor, self.leaf, self.original = tensor, leaf, tensor.data
        self.raw = np.array(tensor.data)
        self.handle = recorder.handle(self.raw, reusable=True)
        self.handle.flags.writeable = tensor.data.flags.writeable
        recorder.inputs[id(self.handle)] = self.raw
        self.state = _state_of(tensor)
        self.view = None
        tensor.data = self.handle

    def current(self):
        return self.tensor.data if self.leaf is None else self.leaf.grad.data


def _state_of(t):
    return t.grad is None, t.requires_grad


def _record(fn, args):
    """Run fn(*args) once for real while recording; return (Recording, fn's results as new Tensors)."""
    if getattr(_thread, "recorder", None) is not None:
        raise JitError(f"jit: {getattr(fn, '__name__', fn)} called while another step records, at {user_line()}")
    reach = _Reach(fn)
    recorder = _Recorder()
    arg_slots, traced_args, slots = [], [], {}
    for a in args:
        if isinstance(a, Tensor):
            slot = slots.get(id(a)) or slots.setdefault(id(a), _Slot(recorder, a))
            traced_args.append(a)
        elif isinstance(a, np.ndarray):
            slot = _ArraySlot(recorder, a)
            traced_args.append(slot.handle)
        else:
            slot = None
            traced_args.append(a)
        arg_slots.append(slot)
    reached = [t for t in reach.tensors if id(t) not in slots]
    grads_before = {id(t): t.grad for t in reached}
    for t in reached:
        slots[id(t)] = _Slot(recorder, t)
        if t.grad is not None and id(t.grad) not in slots:
            slots[id(t.grad)] = _Slot(recorder, t.grad, leaf=t)
    swapped = []
    for place, array in reach.arrays:  # optimiser state, learning rates: recorded where they live
        handle = array.view(Traced)
        handle.plain, handle.pool = array, None
        swapped.append((place, array, handle))
    for place, generator in reach.generators:  # Dropout's masks: each draw recorded, drawn anew on replay
        if place is not None:
            swapped.append((place, generator, _RecordedDraws(generator, recorder)))
    for place, _, stand_in in swapped:
        place.set(stand_in)
    trainings = tuple(m.training for m in reach.modules)
    unrecorded = [g for place, g in reach.generators if place is None]
    random_before = _random_states(unrecorded)
    data_before = [_fingerprint(a) for a in reach.data]
    watcher = _Watcher()
    _patch(True)
    _thread.recorder = recorder
    try:
        with observe(watcher):
            result = fn(*traced_args)
        _check_result(fn, result)
        rebound = [place for place, _, stand_in in swapped if place.get() is not stand_in]
        if rebound:
            raise JitError(f"jit: the step replaced the array (or generator) at {rebound[0].describe()} instead of "
                           f"updating it in place, so a replay could not follow it; write into it (out=, [...] =) or "
                           f"keep it in a Tensor")
        changed = [a for a, before in zip(reach.data, data_before) if _fingerprint(a) != before]
        if changed:
            raise JitError(f"jit: the step changed an array of shape {changed[0].shape} that a closure variable or "
                           f"global names, which a replay reads as a constant; keep state that changes in an "
                           f"object's attribute, a list or a Tensor")
        if _random_states(unrecorded) != random_before:
            raise JitError(f"jit: {getattr(fn, '__name__', 'the step')} drew random numbers (np.random or a "
                           f"generator it reaches), which a replay would repeat unchanged; draw them outside the "
                           f"step and pass them in")
    except BaseException:
        _detach(slots.values())
        raise
    finally:
        _thread.recorder = None
        _patch(False)
        for place, original, _ in swapped:
            place.set(original)
    recording = Recording(fn, recorder, arg_slots, list(slots.values()), grads_before, reached,
                          reach.modules, trainings)
    recording.labels = {id(t): reach.paths[id(t)] or t.name for t in reached}
    recording.state = [(array, reach.paths[id(array)]) for _, array in reach.arrays]
    recording.labels.update({id(a): f"arg{i}" for i, a in enumerate(args) if isinstance(a, Tensor)})
    recording.keep_returns(result)
    del result  # and with it the step's graph, before finish() needs memory of its own
    try:
        watcher.check_hidden()
    except JitError:
        _detach(slots.values())
        raise
    return recording, recording.finish()


def _check_result(fn, result):
    values = (result,) if isinstance(result, Tensor) else result
    if result is not None and not (isinstance(values, tuple) and all(isinstance(v, Tensor) for v in values)):
        raise JitError(f"jit: {getattr(fn, '__name__', 'the step')} must return a Tensor, a tuple of Tensors or "
                       f"None, not {type(result).__name__}")


class _ArraySlot:
    """An ndarray argument: copied into `raw` on every call."""

    def __init__(self, recorder, array):
        self.raw = np.array(array)
        self.handle = recorder.handle(self.raw, reusable=True)


def _detach(slots):
    """After a failed recording, leave each tensor as eager would have: its own array if the step did
    not change it, else a plain copy of what the step left in it (and the same for new gradients)."""
    for slot in slots:
        if slot.tensor.data is slot.handle:
            slot.tensor.data = slot.original
        for tensor in (slot.tensor, slot.tensor.grad):
            if tensor is not None and isinstance(tensor.data, Traced):
                tensor.data = np.array(np.ndarray.view(tensor.data, np.ndarray))


def _exposed(array, recorder):
    """A plain view of the memory the program keeps for array, as writeable as array was."""
    if not isinstance(array, Traced):
        return array
    view = recorder.plain(array).view(np.ndarray)
    view.flags.writeable = array.flags.writeable
    return view


class Recording:
    """One signature's program: input copies, the NumPy calls, and where each result is left."""

    def __init__(self, fn, recorder, arg_slots, slots, grads_before, reached, modules, trainings):
        self.fn, self.recorder, self.calls, self.args = fn, recorder, recorder.calls, recorder.args
        self.arg_slots, self.modules = arg_slots, modules
        self.checked = False
        self._settle = (slots, grads_before, reached, trainings)

    def finish(self):
        """Settle where every tensor's data and .grad live from now on; return fn's result as new Tensors."""
        slots, grads_before, reached, trainings = self._settle
        del self._settle
        recorder = self.recorder
        self.inputs, self.data_exits, self.grad_exits = [], [], []
        for slot in slots:
            t = slot.tensor
            changed = t.data is not slot.handle
            if not changed and (slot in self.arg_slots or id(slot.handle) not in recorder.used):
                t.data = slot.original  # an argument keeps its own array; a tensor never read leaves the program
                continue
            t.data = _exposed(t.data, recorder)
            if slot not in self.arg_slots:
                self.inputs.append(slot)
                if not changed:  # it holds the program's input array itself: nothing to copy on entry
                    slot.view = t.data
                elif slot.leaf is None:
                    self.data_exits.append((t, t.data))
        input_tensors = {id(slot.tensor) for slot in self.inputs}
        for t in reached:
            grad = t.grad
            if grad is not grads_before[id(t)] or grad is not None and id(grad) in input_tensors:
                if grad is not None and isinstance(grad.data, Traced):
                    grad.data = _exposed(grad.data, recorder)
                self.grad_exits.append((t, grad, None if grad is None else grad.data))
        touched = input_tensors | {id(t) for t, _, _ in self.grad_exits}
        self.leaves = [t for t in reached if id(t) in touched]
        states = {id(slot.tensor): slot.state for slot in slots}
        self.recorded_leaf_state = [states[id(t)] for t in self.leaves], list(trainings)
        self.arg_raws = [None if s is None else s.raw for s in self.arg_slots]
        shown = [v for _, v in self.data_exits] + [v for _, _, v in self.grad_exits if v is not None]
        shown += self.returns or []
        seen = shown + [s.raw for s in slots] + [r for r in self.arg_raws if r is not None] + recorder.kept
        for array, values in recorder.restores:  # arrays the step made and then wrote: made anew each call
            self.calls.insert(0, np.copyto)
            self.args.insert(0, (array, values))
        _without_dead_calls(self.calls, self.args, recorder.buffers, seen)
        self._update_in_place(shown)
        del self.recorder  # its bookkeeping (free buffers, ids) is done with; the program keeps what it needs
        return self.results()

    def _update_in_place(self, shown):
        """Where a tensor's new array is made by an elementwise call that is the last to touch both it and the
        tensor's input buffer, let that call write into the input buffer (p - lr·g into p, as the floor's p -= ...):
        the tensor then keeps one array, and no copy is needed on the next entry."""
        exposed = {}  # id(root) -> how many arrays the caller is shown of it
        for array in shown:
            exposed[id(_root(array))] = exposed.get(id(_root(array)), 0) + 1
        slots = {id(slot.tensor): slot for slot in self.inputs if slot.leaf is None}
        candidates = {id(_root(view)) for _, view in self.data_exits} | {id(slot.raw) for slot in slots.values()}
        touched = {}  # id(root) -> index of the last call that reads or writes it, for the candidates
        for i, call_args in enumerate(self.args):
            for array in _arrays_in(call_args):
                if id(_root(array)) in candidates:
                    touched[id(_root(array))] = i
        for n, (t, view) in enumerate(self.data_exits):
            slot, end = slots.get(id(t)), _root(view)
            if slot is None or view.shape != end.shape or exposed.get(id(end)) != 1 or id(end) not in touched \
                    or id(slot.raw) in exposed:
                continue
            i = touched[id(end)]
            call, call_args = self.calls[i], self.args[i]
            if not (isinstance(call, np.ufunc) and call.signature is None and call.nout == 1
                    and call_args[-1] is end and touched.get(id(slot.raw), -1) <= i
                    and end.shape == slot.raw.shape and end.dtype == slot.raw.dtype):
                continue
            self.args[i] = call_args[:-1] + (slot.raw,)
            touched[id(slot.raw)] = i
            np.copyto(slot.raw, end)  # what this call made while recording
            slot.view = slot.raw.view()
            slot.view.flags.writeable = False
            t.data = slot.view
            self.data_exits[n] = (t, slot.view)

    def fits(self):
        """Does the signature hold for each touched leaf's `.grad is None` and requires_grad and each
        module's training? (The shape and dtype of the arrays to copy in are checked as they are copied.)"""
        states, trainings = self.recorded_leaf_state
        return [_state_of(t) for t in self.leaves] == states and [m.training for m in self.modules] == trainings

    def keep_returns(self, result):
        self.single = isinstance(result, Tensor)
        values = (result,) if self.single else result
        self.returns = None if result is None else [_exposed(v.data, self.recorder) for v in values]

    def results(self):
        if self.returns is None:
            return None
        tensors = tuple(Tensor(_read_only_copy(array)) for array in self.returns)
        return tensors[0] if self.single else tensors

    def replay(self, args):
        """Copy the inputs in, run the program, leave tensors and gradients where the recording left them."""
        for raw, a in zip(self.arg_raws, args):
            if raw is not None:
                np.copyto(raw, a.data if isinstance(a, Tensor) else a)
        for slot in self.inputs:
            data = slot.current()
            if data is not slot.view:
                if data.shape != slot.raw.shape or data.dtype != slot.raw.dtype:
                    return _NEW_SHAPE  # a tensor reached by closure has a new shape or dtype: record again
                np.copyto(slot.raw, data)
        for call, call_args in zip(self.calls, self.args):
            call(*call_args)
        for t, view in self.data_exits:
            if t.data is not view:
                t.data = view
        for t, grad, view in self.grad_exits:
            t.grad = grad
            if grad is not None and grad.data is not view:
                grad.data = view
        return self.results()

    # --- showing and comparing ---------------------------------------------------------
    def listing(self, values=False):
        """The program, one NumPy call per line; buffers are b0, b1, ... in the order they are written.
        With values, constants are given in full (for comparing two recordings)."""
        names = _Names(values)
        for i, raw in enumerate(self.arg_raws):
            if raw is not None:
                names.name(raw, f"arg{i}")
        for slot in self.inputs:
            names.name(slot.raw, self._label(slot.leaf) + ".grad" if slot.leaf is not None else self._label(slot.tensor))
        for array, label in self.state:  # optimiser state and rates, updated where they live
            names.name(array, label)
        lines = [_line(call, args, names) for call, args in zip(self.calls, self.args)]
        header = [f"# {len(self.calls)} NumPy calls; inputs: " + ", ".join(names.inputs)]
        footer = [f"# {self._label(t)}.data <- {names.of(view)}" for t, view in self.data_exits]
        footer += [f"# {self._label(t)}.grad <- {'None' if view is None else names.of(view)}"
                   for t, _, view in self.grad_exits]
        footer += [f"# return {names.of(array)}" for array in self.returns or ()]
        return "\n".join(header + lines + footer)

    def _label(self, tensor):
        return self.labels.get(id(tensor)) or "tensor"

    def difference(self, other):
        """The first line where two recordings' programs differ, or '' when they are the same."""
        mine, theirs = self.listing(values=True).splitlines(), other.listing(values=True).splitlines()
        for i, (a, b) in enumerate(zip(mine, theirs)):
            if a != b:
                return f"line {i}: {a!r} then {b!r}"
        if len(mine) != len(theirs):
            return f"{len(mine) - 1} lines then {len(theirs) - 1}"
        return ""


class _Names:
    """Names for the arrays of a program: inputs by their tensor, buffers b0, b1, ..., constants by value."""

    def __init__(self, values):
        self.values, self.known, self.inputs = values, {}, []
        self.buffers = 0

    def name(self, array, label):
        self.known[id(array)] = label
        self.inputs.append(label)

    def _base_name(self, view):
        base = view.base
        while isinstance(base, np.ndarray):
            for candidate in (base, getattr(base, "plain", None)):
                if id(candidate) in self.known:
                    return self.known[id(candidate)]
            base = base.base
        return None

    def of(self, value, written=False):
        if isinstance(value, np.ndarray):
            if id(value) in self.known:
                return self.known[id(value)]
            base = self._base_name(value)
            if base is not None:
                return f"{base}.view{value.shape}"
            if written:
                self.known[id(value)] = label = f"b{self.buffers}"
                self.buffers += 1
                return label
            if value.size <= 4 or self.values:
                return np.array2string(value, separator=", ", threshold=10 ** 9 if self.values else 4)
            return f"<constant {value.dtype} {value.shape}>"
        if isinstance(value, (list, tuple)):
            inner = ", ".join(self.of(v) for v in value)
            return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else \
                (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
        if isinstance(value, dict):
            return ", ".join(f"{k}={self.of(v)}" for k, v in value.items())
        return repr(value)


def _line(call, args, names):
    """One program entry as Python a learner can read: `b3 = np.multiply(b1, 0.5)`."""
    if isinstance(call, np.ufunc):
        inputs, outputs = args[:call.nin], args[call.nin:]
        ins = ", ".join(names.of(a) for a in inputs)
        return f"{', '.join(names.of(o, written=True) for o in outputs)} = np.{call.__name__}({ins})"
    if isinstance(call, functools.partial):  # a ufunc method, or a ufunc call with keywords
        keywords = {k: v for k, v in call.keywords.items() if _DEFAULTS.get(k, ()) is not v}
        out = keywords.pop("out")
        outs = out if isinstance(out, tuple) else (out,)
        ins = ", ".join([names.of(a) for a in args] + [f"{k}={names.of(v)}" for k, v in keywords.items()])
        return f"{', '.join(names.of(o, written=True) for o in outs)} = np.{_name_of(call.func)}({ins})"
    if _is_reduce(call):
        array, axis, dtype, out, keepdims = args
        keywords = "".join([f", axis={axis!r}"] + [f", dtype={dtype}"] * (dtype is not None) +
                           [", keepdims=True"] * bool(keepdims))
        return f"{names.of(out, written=True)} = np.{_name_of(call)}({names.of(array)}{keywords})"
    if call is _assign:
        out, func, func_args, kwargs = args
        ins = ", ".join([names.of(a) for a in func_args] + [f"{k}={names.of(v)}" for k, v in kwargs.items()])
        return f"{names.of(out, written=True)} = {_qualified(func)}({ins})"
    if call is _call:
        func, func_args, kwargs = args
        ins = ", ".join([names.of(a) for a in func_args] + [f"{k}={names.of(v)}" for k, v in kwargs.items()])
        return f"{_qualified(func)}({ins})"
    if call is np.copyto:  # a copy into a buffer (np.where and the engine's copies)
        return f"{_qualified(call)}({', '.join([names.of(args[0], written=True)] + [names.of(a) for a in args[1:]])})"
    return f"{_qualified(call)}({', '.join(names.of(a) for a in args)})"


_DEFAULTS = {"dtype": None, "keepdims": False, "where": True, "initial": np._NoValue}


def _qualified(func):
    name = _name_of(func)
    module = getattr(func, "__module__", None) or ""
    return f"np.{name}" if module.startswith("numpy") or isinstance(func, np.ufunc) else name
