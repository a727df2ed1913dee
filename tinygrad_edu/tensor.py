"""The engine: Tensor, Function, and reverse accumulation. Read it top to bottom.

A Tensor holds an ndarray. An op is a Function subclass: `forward` computes the
result from ndarrays, `backward` turns the gradient of the result into gradients
of the inputs. `Function.apply` runs forward and, when an input requires grad,
keeps the op as the result's `op`, so every result knows the graph that made it.

`loss.backward()` then visits the graph from the loss towards the leaves, each
tensor after all the ops that used it, hands each op the gradient of its output,
and adds what the op's backward returns into the gradients of its inputs.

Arrays a tensor holds are read-only. A graph keeps references to the arrays its
ops saved for backward; since nobody can write into them, a gradient can never be
silently computed from values changed after the forward. Code that changes a
tensor (`t[i] = v`, an optimiser step) gives it a new array instead.
"""
import math
import threading

import numpy as np

from .context import settings
from .errors import ShapeError


def _locked(array):
    """array, made read-only. NumPy returns scalars for 0-d results: those become 0-d arrays."""
    if not isinstance(array, np.ndarray):
        array = np.asarray(array)
    array.setflags(False)  # write=False, passed by position: NumPy parses the keyword slower than it sets the flag
    return array


def _as_array(data, dtype):
    """The read-only ndarray a Tensor holds. Floating data keeps its dtype; Python
    numbers, lists, integer and boolean data become float32 unless dtype says otherwise.
    A writeable array is copied, so the caller's array and the tensor never share memory."""
    if isinstance(data, np.ndarray) and not data.flags.writeable and (dtype is None or data.dtype == dtype):
        return data if dtype is not None or data.dtype.kind == "f" else _locked(data.astype(np.float32))
    if isinstance(data, Tensor):
        return _as_array(data._data, dtype)
    try:
        array = np.array(data, dtype=dtype, subok=True)
    except OverflowError as error:  # a Python int too large for the dtype, as NumPy says it
        raise OverflowError(f"Tensor: {_brief(data)} does not fit dtype {np.dtype(dtype)}: {error}") from None
    except (ValueError, TypeError) as error:
        raise TypeError(f"Tensor: data must be numbers (a scalar, a nested list of equal-length rows or a "
                        f"numeric array); got {_brief(data)}: {error}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: data must be numeric, got dtype {array.dtype} from {_brief(data)}")
    if dtype is None and (array.dtype.kind != "f" or not isinstance(data, (np.ndarray, np.generic))):
        array = array.astype(np.float32)
    return _locked(array)


def _brief(data, limit=60):
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + "..."


def _shape_argument(shape, caller, new=False):
    """f(2, 3) or f((2, 3)) as a tuple of ints; floats, strings and the like are refused.
    The shape of a new tensor (`new`) must also have sizes ≥ 0 that NumPy can hold."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{caller}: sizes must be whole numbers, got {n!r} in {shape}")
    shape = tuple(int(n) for n in shape)
    limit = np.iinfo(np.intp).max
    if new and (min(shape, default=0) < 0 or max(shape, default=0) > limit or math.prod(shape) > limit):
        raise ValueError(f"{caller}: cannot make a tensor of shape {shape}: sizes must be ≥ 0, "
                         f"with at most {limit} elements in all")
    return shape


def _constant(value, like):
    """An operand that is not a Tensor, as a constant Tensor beside the Tensor `like`.

    A Python or NumPy scalar follows NumPy 2's rule for Python scalars: it takes like's
    dtype unless that would lose it (an int64 tensor times 0.5 is float64, never 0).
    Anything else follows the Tensor constructor's rules (and is copied)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float)):
        return Tensor(value, dtype=like.dtype if like.dtype.kind == "f" else np.result_type(like.dtype, value))
    return Tensor(value)


def tensor_method(fn):
    """Make fn a method of Tensor under its own name (how op modules give Tensor its methods)."""
    setattr(Tensor, fn.__name__, fn)
    return fn


class Tensor:
    """An ndarray that remembers the op that made it, so gradients can flow back."""
    __slots__ = ("_data", "requires_grad", "grad", "op", "name", "_retains_grad", "__weakref__")
    __hash__ = object.__hash__  # by identity, though == compares elements: tensors are dict keys
    __array_priority__ = 100    # ndarray ∘ Tensor asks the Tensor first

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        self._data = _as_array(data, dtype)
        self.op = None            # the Function that made this tensor, None for a leaf
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_()
        self.grad = None
        self.name = name          # how drawings label it
        self._retains_grad = False

    @property
    def data(self):
        """The tensor's values: a read-only ndarray."""
        return self._data

    @data.setter
    def data(self, array):
        """Replace the values. An ndarray that owns its memory is handed over: it becomes read-only
        (yours too), so no copy is made; a view or anything else is copied."""
        if isinstance(array, np.ndarray) and array.base is None:
            _locked(array)
        self._data = _as_array(array, array.dtype if isinstance(array, np.ndarray) else None)

    # --- factories ------------------------------------------------------------
    @classmethod
    def _filled(cls, array, requires_grad, dtype):
        return cls(array, requires_grad, np.float32 if dtype is None else dtype)

    @classmethod
    def zeros(cls, *shape, requires_grad=False, dtype=None):
        """A tensor of zeros."""
        return cls._filled(np.zeros(_shape_argument(shape, "zeros", new=True)), requires_grad, dtype)

    @classmethod
    def ones(cls, *shape, requires_grad=False, dtype=None):
        """A tensor of ones."""
        return cls._filled(np.ones(_shape_argument(shape, "ones", new=True)), requires_grad, dtype)

    @classmethod
    def full(cls, shape, value, requires_grad=False, dtype=None):
        """A tensor of the given shape filled with value."""
        shape = _shape_argument(shape if isinstance(shape, (tuple, list)) else (shape,), "full", new=True)
        return cls._filled(np.full(shape, value), requires_grad, dtype)

    @classmethod
    def randn(cls, *shape, seed=None, requires_grad=False, dtype=None):
        """Standard normal samples from NumPy's generator, seeded for reproducibility."""
        rng = np.random.default_rng(seed)
        return cls._filled(rng.standard_normal(_shape_argument(shape, "randn", new=True)), requires_grad, dtype)

    @classmethod
    def uniform(cls, *shape, low=-1.0, high=1.0, seed=None, requires_grad=False, dtype=None):
        """Uniform samples in [low, high)."""
        rng = np.random.default_rng(seed)
        return cls._filled(rng.uniform(low, high, _shape_argument(shape, "uniform", new=True)), requires_grad, dtype)

    @classmethod
    def arange(cls, start, stop=None, step=1, requires_grad=False, dtype=None):
        """start, start+step, ... below stop; int64 when every argument is an int, as torch."""
        numbers = (start, step) if stop is None else (start, stop, step)
        whole = all(isinstance(n, (int, np.integer)) for n in numbers)
        values = np.arange(0 if stop is None else start, start if stop is None else stop, step)
        return cls(values, requires_grad, dtype if dtype is not None else np.int64 if whole else np.float32)

    @classmethod
    def eye(cls, n, requires_grad=False, dtype=None):
        """The n×n identity matrix."""
        return cls._filled(np.eye(_shape_argument((n,), "eye", new=True)[0]), requires_grad, dtype)

    @classmethod
    def zeros_like(cls, t, requires_grad=False, dtype=None):
        """Zeros with t's shape and dtype."""
        return cls(np.zeros(np.shape(t)), requires_grad, _dtype_of(t) if dtype is None else dtype)

    @classmethod
    def ones_like(cls, t, requires_grad=False, dtype=None):
        """Ones with t's shape and dtype."""
        return cls(np.ones(np.shape(t)), requires_grad, _dtype_of(t) if dtype is None else dtype)

    # --- what it is -----------------------------------------------------------
    shape = property(lambda self: self._data.shape, doc="The shape, as NumPy's.")
    ndim = property(lambda self: self._data.ndim, doc="The number of axes.")
    dtype = property(lambda self: self._data.dtype, doc="The NumPy dtype.")
    size = property(lambda self: self._data.size, doc="The number of elements.")
    is_leaf = property(lambda self: self.op is None, doc="True unless an op that records a graph made it.")
    T = property(lambda self: self.transpose(), doc="The transpose (axes reversed).")

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        prefix = "Tensor("
        values = np.array2string(self._data, precision=4, separator=", ", threshold=20, edgeitems=2,
                                 prefix=prefix)
        extras = f", shape={self.shape}, dtype={self.dtype}"
        if self.name is not None:
            extras += f", name={self.name!r}"
        if self.op is not None:
            extras += f", op={self.op.name}"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"{prefix}{values}{extras})"

    # --- leaving the engine: Python numbers and plain arrays ------------------
    def _leaving(self, how):
        for hook in settings.leaving_hooks:  # jit refuses these while it records
            hook(self, how)
        return self._data

    def _one_value(self, how):
        if self.size != 1:
            raise ValueError(f"{how}: only a one-element tensor converts to a Python value, "
                             f"this one has shape {self.shape}")
        return self._leaving(how).reshape(()).item()

    def item(self):
        """The value of a one-element tensor: an int for integer tensors, else a float (bool for bool)."""
        value = self._one_value("item")
        return float(value) if self.dtype.kind == "f" else value

    def __float__(self):
        return float(self._one_value("float"))

    def __int__(self):
        return int(self._one_value("int"))

    def __bool__(self):
        return bool(self._one_value("bool"))

    def tolist(self):
        """The values as nested Python lists."""
        return self._leaving("tolist").tolist()

    def numpy(self):
        """The values as a (read-only) ndarray."""
        return self._leaving("numpy")

    def __array__(self, dtype=None, copy=None):
        data = self._leaving("__array__")
        if dtype is not None and dtype != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    # --- gradient bookkeeping -------------------------------------------------
    def detach(self):
        """The same values, cut off from the graph (sharing the read-only array)."""
        return Tensor(self._data, dtype=self.dtype, name=self.name)

    def requires_grad_(self, flag=True):
        """Set requires_grad on a leaf; only floating tensors can require grad."""
        if self.op is not None:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; use detach() on a result")
        if flag and self.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating tensors can require grad, not dtype {self.dtype}")
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self):
        """Forget the accumulated gradient (.grad becomes None)."""
        self.grad = None

    def retain_grad(self):
        """Keep .grad on this non-leaf tensor after backward."""
        self._retains_grad = True

    def backward(self, gradient=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into .grad of every leaf that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad, so it has no graph to walk; "
                               "make a leaf with requires_grad=True first")
        root = _root_gradient(self, gradient, "backward", create_graph)
        _backpropagate([self], [root], retain_graph or create_graph, create_graph)

    # --- NumPy interoperation -------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.exp(t), ndarray * t, ...: ufuncs that an op registered run as that op, so backward
        code written with them works on Tensors too; ufuncs without a gradient give constants."""
        if method != "__call__" or kwargs:
            return NotImplemented
        op = Function.by_ufunc.get(ufunc)
        if op is not None:
            return op.apply(*inputs)
        if ufunc in _STEP_UFUNCS or not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
            result = np.asarray(ufunc(*[x._data if isinstance(x, Tensor) else x for x in inputs]))
            return Tensor(result, dtype=result.dtype)
        raise TypeError(f"np.{ufunc.__name__} has no gradient in tinygrad_edu; "
                        f"use a Tensor op, or np.asarray(t) to leave the graph")


def _dtype_of(t):
    return t.dtype if isinstance(t, (Tensor, np.ndarray)) else None


# ufuncs whose derivative is zero wherever it exists: safe to apply to any tensor.
_STEP_UFUNCS = {np.sign, np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
                np.isfinite, np.isnan, np.isinf, np.floor, np.ceil, np.rint, np.logical_and, np.logical_or,
                np.logical_not}


class Function:
    """One op: subclass it with static `forward(ctx, *arrays, **params)` and `backward(ctx, grad)`.

    forward gets ndarrays and returns an ndarray; backward returns one gradient
    per input (None where none is needed). Write backward with operators and
    NumPy ufuncs: a plain backward runs it on ndarrays, `create_graph=True` runs
    the same code on Tensors, so gradients of gradients come for free.
    `derivatives` holds one short formula per input, for drawings: `{x}`, `{a}`,
    `{b}` and `{out}` stand for the names of the inputs and the output.
    Setting `ufunc` lets `np.<ufunc>(tensor)` run this op.

    The object passed as `ctx` is the op node of the graph: `op.inputs`,
    `op.params` (apply's keywords), `op.needs_input_grad`, `op.saved_tensors`,
    `op.scope` (the nn module that made it) and `op.freed` (backward has used and
    dropped the saved values) are what tools may read.
    """
    __slots__ = ("inputs", "params", "scope", "needs_input_grad", "saved_tensors", "freed", "__dict__", "__weakref__")
    derivatives = ()
    ufunc = None
    by_ufunc = {}  # every ufunc an op registered -> that op

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.ufunc is not None:
            Function.by_ufunc[cls.ufunc] = cls

    def save_for_backward(self, *values):
        """Keep what backward needs. Inputs and the output become Tensors under
        create_graph; anything else is treated as a constant there."""
        self.saved_tensors = values

    @property
    def name(self):
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays; record the op in the result when it needs a gradient."""
        op = cls()
        for x in inputs:
            if not isinstance(x, Tensor):  # constants beside the first tensor
                like = next(x for x in inputs if isinstance(x, Tensor))
                inputs = [x if isinstance(x, Tensor) else _constant(x, like) for x in inputs]
                break
        op.inputs, op.params, op.scope, op.saved_tensors, op.freed = tuple(inputs), params, settings.scope, (), False
        op.needs_input_grad = needs = tuple([x.requires_grad for x in inputs])
        try:
            data = cls.forward(op, *[x._data for x in inputs], **params)
        except ShapeError:
            raise
        except (ValueError, OverflowError) as error:  # NumPy's broadcast, reshape, size and overflow complaints
            shapes = " and ".join(str(x.shape) for x in op.inputs)
            if isinstance(error, OverflowError):
                raise OverflowError(f"{op.name}: {error} (operands of shape {shapes}; {_brief(params)})") from None
            raise ShapeError(f"{op.name}: operands of shape {shapes} don't fit: {error}") from None
        array = _locked(data)
        if array is not data:  # a saved 0-d output must still be recognised as the output
            op.saved_tensors = tuple(array if v is data else v for v in op.saved_tensors)
        out = Tensor(array, dtype=array.dtype)
        if True in needs and settings.grad_enabled:
            out.requires_grad, out.op = True, op
        for hook in settings.forward_hooks:
            hook(op, out)
        return out


# --- reverse accumulation -----------------------------------------------------

def _root_gradient(output, gradient, caller, as_tensor):
    """The gradient that starts backward at `output`: ones for one element, else given."""
    if gradient is None:
        if output.size != 1:
            raise RuntimeError(f"{caller}: the output has shape {output.shape}, not one element, "
                               f"so pass gradient= (an array of that shape)")
        gradient = _locked(np.ones(output.shape, dtype=output.dtype))
    if isinstance(gradient, Tensor):
        root = gradient if as_tensor else Tensor(gradient, dtype=output.dtype)
    else:
        root = Tensor(np.asarray(gradient, dtype=output.dtype))
    if root.shape != output.shape:
        raise ShapeError(f"{caller}: gradient has shape {root.shape} but the output has shape {output.shape}")
    return root if as_tensor else root._data


def backward_order(roots):
    """The tensors behind `roots` that require grad, each after every tensor made from it.

    Iterative, after HIPS autograd: first count each tensor's consumers, then yield a
    tensor once its last consumer has been yielded. No recursion, so any depth works."""
    consumers, parents = {}, {}
    stack = list(roots)
    while stack:
        t = stack.pop()
        if t in consumers:
            consumers[t] += 1
            continue
        consumers[t] = 1
        parents[t] = _parents(t)
        stack.extend(parents[t])
    for root in roots:  # a root's first count stands for the caller, not a consumer
        consumers[root] -= 1
    ready = [root for root in dict.fromkeys(roots) if consumers[root] == 0]
    order = []
    while ready:
        t = ready.pop()
        order.append(t)
        for parent in parents[t]:
            consumers[parent] -= 1
            if consumers[parent] == 0:
                ready.append(parent)
    return order


def _parents(t):
    """The inputs of t's op that need a gradient."""
    op = t.op
    if op is None:
        return ()
    if False not in op.needs_input_grad:
        return op.inputs
    return [x for x, needs in zip(op.inputs, op.needs_input_grad) if needs]


def _backpropagate(roots, root_grads, retain_graph, create_graph, wanted=None):
    """Walk the graph from roots, carrying each tensor's gradient in `grads` (this call's own
    state: threads may walk one graph at once). With `wanted` (a dict keyed by tensor), fill
    in those tensors' gradients and leave every .grad alone; else accumulate into .grad."""
    grads = {}
    for root, g in zip(roots, root_grads):
        grads[root] = grads[root] + g if root in grads else g
    for t in backward_order(roots):
        g = grads.pop(t, None)
        if g is None:  # nothing reached t (a root's other branch)
            continue
        if wanted is not None:
            if t in wanted:
                wanted[t] = g
        elif t.op is None or t._retains_grad:
            _accumulate(t, g, create_graph)
        if t.op is not None:
            for parent, parent_grad in zip(t.op.inputs, _backward_step(t.op, t, g, retain_graph, create_graph)):
                if parent_grad is not None:
                    previous = grads.get(parent)
                    grads[parent] = parent_grad if previous is None else previous + parent_grad
    return wanted


def _backward_step(op, out, g, retain_graph, create_graph):
    """One op's backward: its inputs' gradients, each summed back to its input's shape."""
    if op.freed:
        raise RuntimeError(f"backward through {op.name} a second time: its saved arrays were freed after the "
                           f"first backward. Pass retain_graph=True to the first backward() to keep them.")
    input_grads = _backward_on_tensors(op, out, g) if create_graph else op.backward(op, g)
    if not retain_graph:
        op.saved_tensors, op.freed = (), True
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if len(input_grads) != len(op.inputs):
        raise RuntimeError(f"{op.name}.backward returned {len(input_grads)} gradients for {len(op.inputs)} inputs")
    input_grads = [None if ig is None or not x.requires_grad else unbroadcast(ig, x._data.shape, op)
                   for x, ig in zip(op.inputs, input_grads)]
    for hook in settings.backward_hooks:
        hook(op, out, g, input_grads)
    return input_grads


def _backward_on_tensors(op, out, g):
    """The op's backward run on Tensors, recording the graph of the gradient itself."""
    saved = op.saved_tensors
    op.saved_tensors = tuple(_as_graph_value(v, op, out) for v in saved)
    previous, settings.grad_enabled = settings.grad_enabled, True
    try:
        return type(op).backward(op, g)
    finally:
        settings.grad_enabled, op.saved_tensors = previous, saved


def _as_graph_value(value, op, out):
    """A saved value as seen by a create_graph backward: inputs and output as the
    Tensors they came from (so their derivatives flow), other arrays as constants."""
    if not isinstance(value, np.ndarray):
        return value
    for t in (out,) + op.inputs:
        if value is t._data:
            return t
    return Tensor(value, dtype=value.dtype)


def unbroadcast(grad, shape, op=None):
    """Sum a gradient back to the shape of the input that NumPy broadcast (one place, for every op)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0 or any(n not in (1, m) for n, m in zip(shape, grad.shape[extra:])):
        raise ShapeError(f"{'an op' if op is None else op.name}.backward returned a gradient of shape {grad.shape} "
                         f"for an input of shape {shape}")
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


_grad_lock = threading.Lock()  # two threads adding into one leaf's .grad must not lose an update


def _accumulate(t, g, create_graph):
    """Add g into t.grad, which is always t's own: never shared with another tensor,
    with the caller's gradient= or with a result. Under create_graph .grad is a graph too."""
    with _grad_lock:
        if t.grad is None:
            t.grad = _own_copy(g, t.dtype, create_graph)
        elif create_graph:
            t.grad = t.grad + g
        else:
            t.grad = Tensor(_locked(np.add(t.grad._data, g, dtype=t.dtype)), dtype=t.dtype)


def _own_copy(g, dtype, create_graph):
    """A gradient as a new tensor nothing else holds (under create_graph, still in the graph)."""
    if create_graph:
        return (g if isinstance(g, Tensor) else Tensor(g, dtype=g.dtype)) + 0
    return Tensor(_locked(np.array(g, dtype=dtype)), dtype=dtype)


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
    results = []
    for t in inputs:
        g = wanted[t]
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: an input of shape {t.shape} was not used to compute the outputs; "
                               f"pass allow_unused=True to get None for it")
        results.append(None if g is None else _own_copy(g, t.dtype, create_graph))
    return tuple(results)
