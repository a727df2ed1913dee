"""Tensor, Function and reverse accumulation: the whole engine but the ops themselves.

A Tensor holds an ndarray. An op made by `Function.apply` also remembers its
inputs in a Function object (the tensor's `_ctx`), so every result knows the
graph that made it. `backward()` orders that graph so each tensor comes after
all of its consumers, then hands each op the gradient of its output and adds
what the op's `backward` returns into the gradients of its inputs.
"""
import functools
import gc
import sys
import threading
from itertools import compress
from types import MappingProxyType

import numpy as np

from .errors import ShapeError


class _ThreadState(threading.local):
    """Per-thread switches; the class attributes are each new thread's defaults."""
    grad_enabled = True
    scope = None      # label of the nn module whose forward is running, for drawings
    anomaly = None    # the checker installed by detect_anomaly(), or None
    tracer = None     # a callable told of every backward step, or None


_state = _ThreadState()

# Put in place of an op's saved arrays once backward has used them.
_RELEASED = object()


class no_grad:
    """Context manager and decorator: ops inside record no graph (per thread)."""

    def __enter__(self):
        self._previous = _state.grad_enabled
        _state.grad_enabled = False

    def __exit__(self, *exc):
        _state.grad_enabled = self._previous

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapper


class scope:
    """Context manager: ops made inside are labelled `label`, so drawings group them.

    nn.Module uses it around forward(); it costs one attribute store per op.
    """

    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self._previous = _state.scope
        _state.scope = self.label if self._previous is None else f"{self._previous}/{self.label}"

    def __exit__(self, *exc):
        _state.scope = self._previous


class Function:
    """One op: subclass it with static `forward(ctx, *arrays, **params)` and `backward(ctx, grad)`.

    forward gets ndarrays and returns an ndarray; backward returns one gradient
    per input (None where none is needed). Write backward with operators and
    NumPy ufuncs: a plain backward runs it on ndarrays, `create_graph=True` runs
    the same code on Tensors, so gradients of gradients come for free.
    `derivatives` holds one short formula per input, for drawings; `{x}`, `{a}`,
    `{b}` and `{out}` stand for the names of the inputs and the output.
    Setting `ufunc` lets `np.<ufunc>(tensor)` run this op.

    A recorded node keeps `inputs` (Tensors), `params` (the keywords given to
    apply), `needs_input_grad`, `saved_tensors` and `scope` (see `scope`).
    """
    __slots__ = ("inputs", "params", "saved_tensors", "needs_input_grad", "scope", "origin", "__dict__")
    derivatives = ()
    ufunc = None
    _by_ufunc = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.ufunc is not None:
            Function._by_ufunc[cls.ufunc] = cls

    def save_for_backward(self, *values):
        """Keep what backward needs. Inputs and the output become Tensors under
        create_graph; anything else is treated as a constant there."""
        self.saved_tensors = values

    @property
    def name(self):
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **params):
        for x in inputs:
            if not isinstance(x, Tensor):
                inputs = _as_tensors(inputs)
                break
        ctx = cls()
        ctx.saved_tensors = ()
        needs = tuple([x.requires_grad for x in inputs])
        ctx.needs_input_grad = needs = _needs_patterns.setdefault(needs, needs)
        try:
            data = cls.forward(ctx, *[x.data for x in inputs], **params)
        except ShapeError:
            raise
        except ValueError as error:  # NumPy's broadcast, matmul and reshape complaints
            shapes = " and ".join(str(x.shape) for x in inputs)
            raise ShapeError(f"{cls.__name__}: operands of shape {shapes} don't fit: {error}") from None
        if type(data) is not np.ndarray:  # NumPy gives scalars for 0-d results
            data = _as_saved_array(ctx, data)
        state = _state
        out = _new_tensor(Tensor)
        out.data, out.grad, out.name, out._retains_grad = data, None, None, False
        if True in needs and state.grad_enabled:
            out.requires_grad, out._ctx = True, ctx
            ctx.inputs, ctx.params, ctx.scope = inputs, params or _NO_PARAMS, state.scope
        else:
            out.requires_grad, out._ctx = False, None
        if state.anomaly is not None:
            state.anomaly.check_forward(ctx, inputs, out)
        return out


# Every op without keywords shares one empty mapping, and each pattern of needs_input_grad
# is kept once. Each op then leaves three or four new objects instead of five or six, so
# the cyclic collector runs less often during a long forward, where each of its full
# passes walks the whole live graph (W4: 6 passes, 0.42 s of a 100,000-op forward).
_NO_PARAMS = MappingProxyType({})
_needs_patterns = {}


def _as_saved_array(ctx, value):
    """value as an ndarray, and the same object in ctx's saved values, so a saved
    output is still recognised as the output under create_graph."""
    array = np.asarray(value)
    if ctx.saved_tensors:
        ctx.saved_tensors = tuple(array if v is value else v for v in ctx.saved_tensors)
    return array


def _as_tensors(values):
    """Operands of an op as Tensors; Python numbers take the dtype of a Tensor beside them."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    return tuple(v if isinstance(v, Tensor) else _constant(v, like) for v in values)


def _constant(value, like):
    """A non-Tensor operand as a Tensor; a Python number takes the dtype of `like` (exact
    int and float are tested first, as `x * 0.5` does it on every step)."""
    if like is not None and (type(value) in (float, int) or
                             isinstance(value, (int, float)) and not isinstance(value, bool)):
        return _number(value, like.data.dtype)
    if isinstance(value, Tensor):  # a subclass, which the operators' exact type test lets through
        return value
    return Tensor._make(_to_array(value, None, copy=False), False)


_numbers = {}


def _number(value, dtype):
    """A constant Tensor for a Python number. Cached, since code like `x / 2` makes the
    same few constants on every step; the cache is emptied whenever it grows large."""
    try:
        return _numbers[value, dtype]
    except KeyError:
        if len(_numbers) >= 1024:
            _numbers.clear()
        constant = _numbers[value, dtype] = Tensor._make(np.asarray(value, dtype=dtype), False)
        return constant


def _to_array(data, dtype, copy=True):
    """The ndarray a Tensor holds, following API.md's dtype rules, or a clear TypeError."""
    if isinstance(data, Tensor):
        data = data.data
    keeps_dtype = isinstance(data, (np.ndarray, np.generic))
    try:
        array = np.array(data, dtype=dtype, copy=copy or None) if keeps_dtype else np.array(data, dtype=dtype)
    except (ValueError, TypeError) as error:
        raise TypeError(f"Tensor: data must be numbers (a scalar, a nested list of equal-length "
                        f"rows or a numeric array); got {_brief(data)}: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: data must be numeric, got dtype {array.dtype} from {_brief(data)}")
    if dtype is None and (array.dtype.kind != "f" or not keeps_dtype):
        array = array.astype(np.float32)
    return array


def _brief(data, limit=60):
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + "..."


def _normalize_shape(shape):
    """Accept f(2, 3) as well as f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray)):
        return tuple(int(n) for n in shape[0])
    return tuple(int(n) for n in shape)


def tensor_method(fn):
    """Make fn a method of Tensor under its own name (how op modules give Tensor its methods)."""
    setattr(Tensor, fn.__name__, fn)
    return fn


class Tensor:
    """An ndarray that remembers the op that made it, so gradients can flow back."""
    __slots__ = ("data", "requires_grad", "grad", "_ctx", "name", "_retains_grad", "__weakref__")

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self.data = _to_array(data, None if dtype is None else np.dtype(dtype))
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating tensors can require grad, not dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self.name = name
        self._retains_grad = False

    @classmethod
    def _make(cls, data, requires_grad):
        """A Tensor around an ndarray the engine made: no checks, no copy."""
        return _result(data if type(data) is np.ndarray else np.asarray(data), requires_grad, None)

    # --- factories -------------------------------------------------------
    @classmethod
    def _factory(cls, array, requires_grad, dtype):
        return cls(array.astype(np.float32 if dtype is None else dtype, copy=False), requires_grad)

    @classmethod
    def zeros(cls, *shape, requires_grad=False, dtype=None):
        return cls._factory(np.zeros(_normalize_shape(shape)), requires_grad, dtype)

    @classmethod
    def ones(cls, *shape, requires_grad=False, dtype=None):
        return cls._factory(np.ones(_normalize_shape(shape)), requires_grad, dtype)

    @classmethod
    def randn(cls, *shape, seed=None, requires_grad=False, dtype=None):
        rng = np.random.default_rng(seed)
        return cls._factory(rng.standard_normal(_normalize_shape(shape)), requires_grad, dtype)

    @classmethod
    def uniform(cls, *shape, low=-1.0, high=1.0, seed=None, requires_grad=False, dtype=None):
        rng = np.random.default_rng(seed)
        return cls._factory(rng.uniform(low, high, _normalize_shape(shape)), requires_grad, dtype)

    # --- what it is --------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)
    T = property(lambda self: self.transpose())

    def numpy(self):
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a number, this one has shape {self.shape}")
        return float(self.data.reshape(()))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        values = np.array2string(self.data, precision=4, separator=", ", threshold=20, edgeitems=2)
        extras = f", shape={self.shape}, dtype={self.dtype}"
        if self.name is not None:
            extras += f", name={self.name!r}"
        if self._ctx is not None:
            extras += f", op={self._ctx.name}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"Tensor({values}{extras})"

    # --- gradient bookkeeping ----------------------------------------------
    def detach(self):
        """The same data, cut off from the graph."""
        return Tensor._make(self.data, False)

    def requires_grad_(self, flag=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; use detach() on a result")
        if flag and self.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating tensors can require grad, not dtype {self.dtype}")
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward."""
        self._retains_grad = True

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into .grad of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad, so it has no graph to walk; "
                               "make a leaf with requires_grad=True first")
        root_grad = _root_gradient(self, gradient, "backward", create_graph)
        _backpropagate([self], [root_grad], retain_graph or create_graph, create_graph)

    # --- NumPy interoperation ----------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.exp(t), ndarray * t, ...: the registered ufuncs run as ops, so backward code
        written with them works on Tensors too; comparisons and sign give constants."""
        if method != "__call__" or kwargs:
            return NotImplemented
        op = Function._by_ufunc.get(ufunc)
        if op is not None:
            return op.apply(*inputs)
        if ufunc in _STEP_UFUNCS or not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
            arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
            return Tensor._make(ufunc(*arrays), False)
        raise TypeError(f"np.{ufunc.__name__} has no gradient in tinygrad_edu; "
                        f"use a Tensor op, or np.asarray(t) to leave the graph")


def _result(data, requires_grad, ctx):
    """A new Tensor holding the ndarray `data` (the engine's own: no checks, no copy)."""
    t = _new_tensor(Tensor)
    t.data, t.requires_grad, t.grad, t._ctx, t.name, t._retains_grad = data, requires_grad, None, ctx, None, False
    return t


_new_tensor = object.__new__


# ufuncs whose derivative is zero wherever it exists: safe to apply to any tensor.
_STEP_UFUNCS = {np.sign, np.greater, np.greater_equal, np.less, np.less_equal, np.equal,
                np.not_equal, np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint,
                np.logical_and, np.logical_or, np.logical_not}


# --- reverse accumulation --------------------------------------------------

def _root_gradient(output, gradient, caller, as_tensor):
    """The gradient that starts backward at `output`: ones for one element, else given."""
    if gradient is None:
        if output.size != 1:
            raise RuntimeError(f"{caller}: the output has shape {output.shape}, not one element, "
                               f"so pass gradient= (an array of that shape)")
        gradient = np.ones(output.shape, dtype=output.dtype)
    elif isinstance(gradient, Tensor):
        if as_tensor:
            _check_gradient_shape(output, gradient.shape, caller)
            return gradient
        gradient = gradient.data
    gradient = np.asarray(gradient, dtype=output.dtype)
    _check_gradient_shape(output, gradient.shape, caller)
    return Tensor._make(gradient, False) if as_tensor else gradient


def _check_gradient_shape(output, shape, caller):
    if shape != output.shape:
        raise ShapeError(f"{caller}: gradient has shape {shape} but the output has shape {output.shape}")


def _walk(roots):
    """Yield every tensor behind `roots` that requires grad, each after all of its consumers.

    Iterative, after HIPS autograd: count each tensor's consumers, then release a
    tensor once its last consumer has been yielded. No recursion, so any depth works.
    """
    consumers, parents = {}, {}
    stack = list(roots)
    while stack:
        t = stack.pop()
        if t in consumers:
            consumers[t] += 1
            continue
        consumers[t] = 1
        ctx = t._ctx
        if ctx is None:
            parents[t] = ()
        else:  # most ops need every input's gradient: then their inputs tuple serves as it is
            needs = ctx.needs_input_grad
            parents[t] = tensor_parents = ctx.inputs if False not in needs else list(compress(ctx.inputs, needs))
            stack.extend(tensor_parents)
    for root in roots:  # a root's first count stands for the caller, not a consumer
        consumers[root] -= 1
    ready = [root for root in dict.fromkeys(roots) if consumers[root] == 0]
    while ready:
        t = ready.pop()
        yield t
        for parent in parents[t]:
            consumers[parent] -= 1
            if consumers[parent] == 0:
                ready.append(parent)


def backward_order(roots):
    """The tensors behind `roots` in the order backward() visits them."""
    return list(_walk(roots))


def _backpropagate(roots, root_grads, retain_graph, create_graph, wanted=None):
    """Walk the graph from roots. With `wanted` (a dict keyed by tensor), return those
    tensors' gradients and leave every .grad alone; else accumulate into leaves."""
    # The walk makes no reference cycles, so the cyclic collector would only rescan
    # the live graph (30% of a 100,000-op backward when left on).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _reverse_accumulate(roots, root_grads, retain_graph, create_graph, wanted)
    finally:
        if collecting:
            gc.enable()


def _reverse_accumulate(roots, root_grads, retain_graph, create_graph, wanted):
    grads = {}
    for root, g in zip(roots, root_grads):
        grads[root] = grads[root] + g if root in grads else g
    hooked = _state.anomaly is not None or _state.tracer is not None  # read once, not per op
    for t in _walk(roots):
        if t not in grads:
            continue
        ctx = t._ctx
        if wanted is not None:
            if t in wanted:
                wanted[t] = grads[t]
        elif ctx is None:
            _accumulate_leaf(t, grads, create_graph)
        elif t._retains_grad:
            t.grad = grads[t] if create_graph else Tensor._make(grads[t].copy(), False)  # 0-d: a NumPy scalar
        if ctx is not None:
            _backward_step(ctx, t, grads.pop(t), grads, create_graph, retain_graph, hooked)
    return wanted


def _backward_step(ctx, output, g, grads, create_graph, retain_graph, hooked):
    """Run one op's backward (on Tensors under create_graph, so it records a graph too)
    and add the gradients it returns into its inputs' entries of grads."""
    if ctx.saved_tensors is _RELEASED:
        raise RuntimeError(f"backward through {ctx.name} a second time: its saved arrays were freed after the "
                           f"first backward. Pass retain_graph=True to the first backward() to keep them.")
    input_grads = _backward_on_tensors(ctx, output, g) if create_graph else ctx.backward(ctx, g)
    if not retain_graph:
        ctx.saved_tensors = _RELEASED
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(ctx.inputs):
        raise RuntimeError(f"{ctx.name}.backward returned {len(input_grads)} gradients for {len(ctx.inputs)} inputs")
    if hooked:
        _run_backward_hooks(ctx, output, g, input_grads)
    for parent, parent_grad in zip(ctx.inputs, input_grads):
        if parent_grad is not None and parent.requires_grad:
            if parent_grad.shape != parent.data.shape:
                parent_grad = _unbroadcast(parent_grad, parent.data.shape, ctx)
            previous = grads.get(parent)
            grads[parent] = parent_grad if previous is None else previous + parent_grad


def _run_backward_hooks(ctx, output, g, input_grads):
    """Tell detect_anomaly and the explorer's tracer, when installed, of one op's backward."""
    if _state.anomaly is not None:
        _state.anomaly.check_backward(ctx, input_grads)
    if _state.tracer is not None:
        _state.tracer(ctx, output, g, input_grads)


def _backward_on_tensors(ctx, output, g):
    """The op's backward run on Tensors, recording the graph of the gradient itself."""
    saved = ctx.saved_tensors
    ctx.saved_tensors = tuple(_as_graph_value(v, ctx, output) for v in saved)
    previous, _state.grad_enabled = _state.grad_enabled, True
    try:
        return type(ctx).backward(ctx, g)
    finally:
        _state.grad_enabled = previous
        ctx.saved_tensors = saved


def _as_graph_value(value, ctx, output):
    """A saved value as seen by a create_graph backward: inputs and output as the
    Tensors they came from (so their derivatives flow), other arrays as constants."""
    if not isinstance(value, np.ndarray):
        return value
    if value is output.data:
        return output
    for t in ctx.inputs:
        if value is t.data:
            return t
    return Tensor._make(value, False)


def _accumulate_leaf(leaf, grads, create_graph):
    if create_graph:
        g = grads.pop(leaf)
        g = g if isinstance(g, Tensor) else Tensor._make(g, False)
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    elif leaf.grad is None:
        leaf.grad = _take(grads, leaf)
    else:
        leaf.grad.data += grads.pop(leaf)


def _take(grads, t):
    """Pop t's gradient as a Tensor that t may keep. That is the array itself when nothing
    else refers to it, as PyTorch does: copying a large fresh gradient costs a new buffer
    and its page faults on every step. Anything shared (a view, Add's one array for both
    inputs, an array the caller passed in) is copied."""
    g = grads.pop(t)
    if g is None or isinstance(g, Tensor):
        return g
    if type(g) is np.ndarray and g.base is None and g.dtype == t.data.dtype and sys.getrefcount(g) <= _SOLE_OWNER:
        return _result(g, False, None)
    return _result(np.array(g, dtype=t.data.dtype), False, None)


def _references_to_a_local():
    array = np.empty(0)
    return sys.getrefcount(array)


# What sys.getrefcount says of an array held by one local variable and nothing else.
_SOLE_OWNER = _references_to_a_local()


def _unbroadcast(grad, shape, ctx):
    """Sum a gradient back to the shape of the input that NumPy broadcast (one place, for every op)."""
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    try:
        if extra < 0:
            raise ValueError
        return grad.sum(axis=axes, keepdims=True).reshape(shape) if axes else grad.reshape(shape)
    except ValueError:
        raise ShapeError(f"{ctx.name}.backward returned a gradient of shape {grad.shape} "
                         f"for an input of shape {shape}") from None


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """d(outputs)/d(inputs) as a tuple of Tensors, one per input; .grad is left untouched."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for position, t in enumerate(outputs + inputs):
        if not t.requires_grad:
            role = "output" if position < len(outputs) else "input"
            raise RuntimeError(f"grad: an {role} of shape {t.shape} does not require grad")
    root_grads = [_root_gradient(o, g, "grad", create_graph) for o, g in zip(outputs, grad_outputs)]
    wanted = _backpropagate(outputs, root_grads, create_graph if retain_graph is None else retain_graph,
                            create_graph, wanted=dict.fromkeys(inputs))
    for t in inputs:
        if wanted[t] is None and not allow_unused:
            raise RuntimeError(f"grad: an input of shape {t.shape} was not used to compute the outputs; "
                               f"pass allow_unused=True to get None for it")
    results = {t: _take(wanted, t) for t in list(wanted)}
    return tuple(results[t] for t in inputs)
