"""gradcheck and gradgradcheck: reverse-mode gradients against central finite differences.

The check runs in float64 whatever the inputs' dtype: with eps = 1e-6 a float32
difference quotient would be lost in rounding (float32 resolves about 1e-7
relative), while float64 leaves central differences an error of about eps² ·
f''' plus rounding of about 1e-16 / eps, far below the default tolerances.
A function with a non-scalar result is checked through a fixed random
projection sum(out * v), which exercises every output's gradient at once.
"""
import numpy as np

from .errors import GradcheckError
from .tensor import Tensor, grad


def _as_float64(inputs):
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    return tuple(Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad, name=x.name)
                 if isinstance(x, Tensor) else x for x in inputs)


def _scalar(fn, inputs, seed=0):
    """fn's result, projected onto a fixed random direction when it has several elements."""
    out = fn(*inputs)
    if out.size == 1:
        return out.sum()
    direction = np.random.default_rng(seed).standard_normal(out.shape)
    return (out * direction).sum()


def _input_label(position, x):
    return f"input {position}" + (f" ({x.name!r})" if x.name else "")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when every gradient of fn(*inputs) matches central differences in float64."""
    inputs = _as_float64(inputs)
    checked = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    result = _scalar(fn, inputs)
    if result.requires_grad:
        analytic = grad(result, [x for _, x in checked], allow_unused=True)
    else:  # fn does not depend on its inputs through the graph: every gradient is zero
        analytic = [None] * len(checked)
    worst = None
    for (position, x), computed in zip(checked, analytic):
        computed = np.zeros(x.shape) if computed is None else computed.data
        numeric = _numeric_gradient(lambda: _scalar(fn, inputs).item(), x.data, eps)
        error = np.abs(computed - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and (worst is None or error.max() > worst[0]):
            index = np.unravel_index(np.argmax(error), x.shape)
            worst = (error.max(), position, x, index, computed[index], numeric[index])
    if worst is None or worst[0] <= 0:
        return True
    _, position, x, index, computed, numeric = worst
    message = (f"gradcheck: the gradient of {_input_label(position, x)} at index {tuple(int(i) for i in index)} "
               f"is {computed:.10g} by backward but {numeric:.10g} by finite differences "
               f"(|difference| {abs(computed - numeric):.3g} > atol {atol:g} + rtol {rtol:g} · |numeric|)")
    if raise_exception:
        raise GradcheckError(message)
    return False


def _numeric_gradient(f, array, eps):
    """Central differences of f() with respect to each element of array, changed in place."""
    numeric = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        above = f()
        array[index] = original - eps
        below = f()
        array[index] = original
        numeric[index] = (above - below) / (2 * eps)
    return numeric


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of the gradients themselves: checks second derivatives of fn."""
    inputs = _as_float64(inputs)
    wanted = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first_gradients(*xs):
        differentiable = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        grads = grad(_scalar(fn, xs, seed=1), differentiable, create_graph=True, allow_unused=True)
        total = None
        for i, g in enumerate(grads):
            if g is not None:
                term = _scalar(lambda t: t, (g,), seed=2 + i)
                total = term if total is None else total + term
        return total

    if not wanted:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    return gradcheck(first_gradients, inputs, eps, atol, rtol, raise_exception)
