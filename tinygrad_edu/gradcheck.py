"""gradcheck, gradgradcheck and check_graph: gradients by backward against central differences.

Why float64. A difference quotient (f(x+eps) - f(x-eps)) / 2eps loses the digits
that f(x+eps) and f(x-eps) share: if f is computed to a relative precision u, the
quotient is off by about u·|f| / eps. float32 has u ≈ 6e-8, so at eps = 1e-6 the
"numeric" gradient of a function of size 1 would be wrong by about 0.06; float64
(u ≈ 1e-16) leaves about 1e-10. So every floating input is copied to float64 for
the check (the caller's tensors are not touched) and fn runs in float64.

Why central differences. The one-sided quotient (f(x+eps) - f(x)) / eps is off by
about eps·|f''|/2, the central one by about eps²·|f'''|/6: at eps = 1e-6 that is
1e-7 against 1e-13. Both one-sided quotients are still kept, because where they
disagree f has a kink (relu or abs at 0, a tie in max) and no gradient is right.

Every output is checked, not a random projection: the Jacobian is built by one
backward per output element, so a wrong entry is named with the output element it
belongs to, and a small error cannot hide behind large neighbours in a sum. That
costs one backward per output element, so check small tensors. An entry passes
when |analytic - numeric| <= atol + rtol·|numeric|, as in np.allclose.
"""
import numpy as np

from .errors import GradcheckError
from . import anomaly
from .anomaly import at_index as _at
from .context import is_grad_enabled
from .tensor import Tensor, backward_order, grad


class Jacobian:
    """d(one output)/d(one input) by backward and by differences: arrays of shape out.shape + input.shape."""

    def __init__(self, output_label, output_shape, position, name, analytic, above, at, below, eps):
        self.output_label, self.output_shape = output_label, output_shape
        self.position, self.name = position, name
        at = at.reshape(at.shape + (1,) * (above.ndim - at.ndim))  # f(x) against every column
        self.analytic = analytic
        self.numeric = (above - below) / (2 * eps)
        self.step_up = (above - at) / eps
        self.step_down = (at - below) / eps

    def wrong(self, atol, rtol):
        """Entries where backward and central differences disagree; NaN on either side disagrees."""
        return ~(np.abs(self.analytic - self.numeric) <= atol + rtol * np.abs(self.numeric))

    def kinks(self, atol, rtol):
        """Entries where the two one-sided differences disagree: fn has no derivative there."""
        return ~(np.abs(self.step_up - self.step_down) <= atol + rtol * np.abs(self.numeric))

    def input_label(self):
        return _input_label(self.position, self.name)


def _input_label(position, name):
    return f"input {position}" + (f" ({name!r})" if name else "")


def _as_float64(inputs):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    return tuple(Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad, name=x.name)
                 if isinstance(x, Tensor) else x for x in inputs)


def _outputs(fn, inputs, caller):
    out = fn(*inputs)
    outputs = (out,) if isinstance(out, Tensor) else tuple(out) if isinstance(out, (tuple, list)) else None
    if not outputs or not all(isinstance(o, Tensor) for o in outputs):
        raise TypeError(f"{caller}: fn must return a Tensor or a tuple of Tensors, got {type(out).__name__}")
    return outputs


def _values(fn, inputs, caller):
    """fn's outputs as float64 copies: a view of an input would change with the next step."""
    return [np.array(o.data, dtype=np.float64) for o in _outputs(fn, inputs, caller)]


def jacobians(fn, inputs, eps=1e-6, output_labels=None, caller="gradcheck"):
    """Every Jacobian of fn(*inputs), by backward and by differences, in float64: one
    per pair of an output and an input that requires grad."""
    if not is_grad_enabled():
        raise RuntimeError(f"{caller}: called under no_grad(), where fn records no graph to check")
    inputs = _as_float64(inputs)
    checked = [(position, x) for position, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError(f"{caller}: no input is a Tensor that requires grad, so there is nothing to check")
    outputs = _outputs(fn, inputs, caller)
    labels = output_labels or (["the output"] if len(outputs) == 1 else [f"output {k}" for k in range(len(outputs))])
    analytic = [_analytic_jacobians(out, [x for _, x in checked]) for out in outputs]
    at = [np.array(o.data, dtype=np.float64) for o in outputs]
    result = []
    for n, (position, x) in enumerate(checked):
        above, below = _stepped_values(fn, inputs, x, at, eps, caller)
        result += [Jacobian(labels[k], out.shape, position, x.name, analytic[k][n], above[k], at[k], below[k], eps)
                   for k, out in enumerate(outputs)]
    return result


def _analytic_jacobians(out, xs):
    """One backward per element of out: d out[index] / d x fills row `index` of x's Jacobian."""
    rows = [np.zeros(out.shape + x.shape) for x in xs]
    if not out.requires_grad:  # out does not depend on xs through the graph
        return rows
    for index in np.ndindex(out.shape):
        seed = np.zeros(out.shape, dtype=out.dtype)
        seed[index] = 1
        for row, g in zip(rows, grad(out, xs, grad_outputs=seed, retain_graph=True, allow_unused=True)):
            if g is not None:
                row[index] = g.data
    return rows


def _stepped_values(fn, inputs, x, at, eps, caller):
    """fn's outputs with each element of x stepped up and down by eps (in place, then restored)."""
    above = [np.zeros(a.shape + x.shape) for a in at]
    below = [np.zeros(a.shape + x.shape) for a in at]
    with np.errstate(all="ignore"):  # a step may leave fn's domain; the NaN it makes is reported
        for index in np.ndindex(x.shape):
            original = x.data
            x.data = _stepped(original, index, eps)
            up = _values(fn, inputs, caller)
            x.data = _stepped(original, index, -eps)
            down = _values(fn, inputs, caller)
            x.data = original
            for k in range(len(at)):
                above[k][(Ellipsis,) + index] = up[k]
                below[k][(Ellipsis,) + index] = down[k]
    return above, below


def _stepped(array, index, step):
    """A copy of array with one element moved by step (tensor arrays are read-only)."""
    moved = array.copy()
    moved[index] += step
    return moved


class Mismatch:
    """The worst disagreeing entry of some Jacobians, and how many disagree."""

    def __init__(self, jacobian, index, count, total):
        split = len(jacobian.output_shape)
        self.jacobian, self.index, self.count, self.total = jacobian, index, count, total
        self.output_index, self.input_index = index[:split], index[split:]
        self.analytic, self.numeric = float(jacobian.analytic[index]), float(jacobian.numeric[index])

    def describe(self, atol, rtol):
        j = self.jacobian
        tolerance = atol + rtol * abs(self.numeric)
        text = (f"the gradient of {j.output_label}{_at(self.output_index)} with respect to "
                f"{j.input_label()}{_at(self.input_index)} is {self.analytic:.10g} by backward "
                f"but {self.numeric:.10g} by central differences:\n"
                f"  |difference| {abs(self.analytic - self.numeric):.3g} > atol {atol:g} + rtol {rtol:g}·|numeric| "
                f"= {tolerance:.3g}. That is the largest error; {self.count} of {self.total} entries disagree.")
        if j.kinks(atol, rtol)[self.index]:
            text += (f"\n  fn may not be differentiable there: a step up gives slope {j.step_up[self.index]:.6g}, "
                     f"a step down {j.step_down[self.index]:.6g}. Keep inputs away from kinks "
                     f"(relu at 0, ties in max) and domain edges (log or sqrt near 0).")
        return text

    def error(self, message):
        """A GradcheckError carrying the entry, for code that wants more than the message."""
        error = GradcheckError(message)
        error.input_position, error.input_name = self.jacobian.position, self.jacobian.name
        error.input_index, error.output_index = self.input_index, self.output_index
        error.analytic, error.numeric = self.analytic, self.numeric
        return error


def worst_mismatch(jacobians, atol, rtol, skip_kinks=False):
    """The disagreeing entry with the largest |difference| (NaN counts as largest), or None."""
    worst, largest, count, total = None, -1.0, 0, 0
    for j in jacobians:
        wrong = j.wrong(atol, rtol)
        if skip_kinks:
            wrong &= ~j.kinks(atol, rtol)
        count, total = count + int(wrong.sum()), total + wrong.size
        if wrong.any():
            difference = np.where(wrong, np.nan_to_num(np.abs(j.analytic - j.numeric), nan=np.inf), -1.0)
            index = np.unravel_index(np.argmax(difference), difference.shape)
            if difference[index] > largest:
                worst, largest = (j, tuple(int(i) for i in index)), difference[index]
    return None if worst is None else Mismatch(*worst, count, total)


def _verdict(jacobians, atol, rtol, raise_exception, caller):
    mismatch = worst_mismatch(jacobians, atol, rtol)
    if mismatch is None:
        return True
    if raise_exception:
        raise mismatch.error(f"{caller}: {mismatch.describe(atol, rtol)}")
    return False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when every gradient of fn(*inputs), for every input that requires grad and every
    element of every output, matches central differences in float64; else GradcheckError
    (or False with raise_exception=False) naming the worst entry."""
    return _verdict(jacobians(fn, inputs, eps), atol, rtol, raise_exception, "gradcheck")


def _projection(outputs):
    """The outputs as one number: each summed with fixed random weights (a one-element output
    as it is), so its gradient exercises every output element. None if nothing requires grad."""
    rng = np.random.default_rng(0)
    total = None
    for out in outputs:
        if out.requires_grad:
            term = out.sum() if out.size == 1 else (out * rng.standard_normal(out.shape)).sum()
            total = term if total is None else total + term
    return total


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Second derivatives: gradcheck of the gradients of fn, taken with create_graph=True.

    A non-scalar result is first summed with fixed random weights, as PyTorch draws
    random grad_outputs; then every entry of the gradients' Jacobian is checked."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def gradients(*xs):
        differentiable = [xs[i] for i in positions]
        total = _projection(_outputs(fn, xs, "gradgradcheck"))
        grads = [None] * len(differentiable)
        if total is not None:  # else fn does not depend on xs through the graph
            grads = grad(total, differentiable, create_graph=True, allow_unused=True)
        return tuple(Tensor.zeros(x.shape, dtype=np.float64) if g is None else g for x, g in zip(differentiable, grads))

    labels = [f"the gradient for {_input_label(i, inputs[i].name)}" for i in positions]
    return _verdict(jacobians(gradients, inputs, eps, labels, "gradgradcheck"), atol, rtol, raise_exception,
                    "gradgradcheck")


def check_graph(result, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check every op behind `result` on its own, from the inputs towards `result`: its backward
    against central differences of its forward, rerun on float64 copies of the values it saw.

    Returns True, or raises GradcheckError at the first wrong op, naming it, its place in the
    graph and the line that made it, if the graph was built under detect_anomaly() (with
    check_nan=False it records lines and checks nothing else). Checking one
    op at a time points at the culprit, not at the ops whose gradients it spoils. Entries at a
    kink (relu at 0, a tie in max) are skipped: no gradient is right there. It reruns forward
    from the inputs' data, so it works before or after backward(); ops must be deterministic.
    """
    if result.op is None:
        raise ValueError("check_graph: the result was not made by an op that records a graph "
                         "(does it require grad?), so there are no ops to check")
    ops = [t.op for t in reversed(backward_order([result])) if t.op is not None]
    with anomaly.paused():  # a step may leave an op's domain: expected here
        for number, ctx in enumerate(ops, 1):
            mismatch = worst_mismatch(_local_jacobians(ctx, eps), atol, rtol, skip_kinks=True)
            if mismatch is not None:
                error = mismatch.error(f"check_graph: op {number} of {len(ops)}, {_describe_op(ctx)}, is the first "
                                       f"op, counting from the inputs, whose backward is wrong:\n"
                                       f"  {mismatch.describe(atol, rtol)}")
                error.op = ctx
                raise error
    return True


def _local_jacobians(ctx, eps):
    op, params = type(ctx), ctx.params

    def rerun(*xs):
        return _projection([op.apply(*xs, **params)])

    return jacobians(rerun, ctx.inputs, eps, ["its output (summed with random weights)"], "check_graph")


def _describe_op(ctx):
    place = anomaly.origins.get(ctx)
    where = f"made at {place}" if place else \
        "made at an unknown line (build the graph under detect_anomaly(check_nan=False) to record it)"
    scope = f" in {ctx.scope}" if ctx.scope else ""
    return f"{ctx.name}{scope}, {where}"
