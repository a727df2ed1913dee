"""Losses, each a scalar Tensor made of engine ops, so backward() reaches the parameters."""
import numpy as np

from tinygrad_edu import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _reduce(values, reduction, loss):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"{loss}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_same_shape(pred, target, loss):
    if np.shape(pred) != np.shape(target):
        raise ValueError(f"{loss}: prediction has shape {np.shape(pred)} but target has shape {np.shape(target)}")


def mse_loss(pred, target, reduction="mean"):
    """Mean of (pred - target)² over every element."""
    _check_same_shape(pred, target, "mse_loss")
    return _reduce((pred - target).square(), reduction, "mse_loss")


def binary_cross_entropy(probs, target, reduction="mean"):
    """-[t·log p + (1-t)·log(1-p)] for probabilities p in [0, 1].

    p and 1 - p are clipped to at least 1e-30 before the log (PyTorch clamps the
    log at -100 instead), so p = 0 or 1 gives a large finite loss and a finite
    gradient, also in float32, rather than inf and NaN.
    """
    _check_same_shape(probs, target, "binary_cross_entropy")
    p = probs.data
    if plain(p) and p.size and not (p.min() >= 0 and p.max() <= 1):
        raise ValueError(f"binary_cross_entropy: probs must lie in [0, 1], got values from {p.min()} to {p.max()}; "
                         f"apply sigmoid() first, or use cross_entropy on logits")
    log_p, log_not_p = probs.clip(1e-30, None).log(), (1 - probs).clip(1e-30, None).log()
    return _reduce(-(target * log_p + (1 - target) * log_not_p), reduction, "binary_cross_entropy")


def cross_entropy(logits, labels, reduction="mean"):
    """-log softmax(logits)[label] per row, classes on the last axis.

    labels are integer class indices with shape logits.shape[:-1], or class
    probabilities (e.g. one-hot) with the shape of logits. log_softmax keeps it
    finite for any logits.
    """
    targets = _class_targets(logits, labels)
    # -Σ t·log_softmax(x) = logsumexp(x)·Σt - Σ t·x. Written this way no -inf log-probability
    # is ever multiplied by a zero target (which is NaN), so logits at the float limits stay finite.
    per_row = _logsumexp(logits) * targets.sum(axis=-1) - (logits * targets).sum(axis=-1)
    return _reduce(per_row, reduction, "cross_entropy")


def _logsumexp(x):
    """log Σ e^x over the last axis, shifted by the max so exp never overflows. The shift is
    detached: the true derivative of logsumexp does not depend on it."""
    shift = x.max(axis=-1, keepdims=True).detach()
    with np.errstate(over="ignore"):  # x - shift may overflow to -inf, whose exp is the 0 wanted
        shifted = x - shift
    return shifted.exp().sum(axis=-1).log() + shift.reshape(shift.shape[:-1])


def _class_targets(logits, labels):
    """labels as a probability array shaped like logits (one-hot for class indices)."""
    labels = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    classes = logits.shape[-1]
    if labels.shape == logits.shape:
        return labels
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: labels of shape {labels.shape} fit neither logits {logits.shape} "
                         f"(probabilities) nor {logits.shape[:-1]} (class indices)")
    valid = (labels == np.round(labels)) & (labels >= 0) & (labels < classes)
    if plain(labels) and not valid.all():
        raise ValueError(f"cross_entropy: class indices must be whole numbers in 0..{classes - 1}, "
                         f"got values from {labels.min()} to {labels.max()}")
    # Under jit the labels are traced data that no Python test may read: a bad label then
    # gives a NaN loss for its row, never a silently wrong one.
    one_hot = (labels[..., None] == np.arange(classes)).astype(logits.dtype)  # ufuncs only, which jit records
    return np.where(valid[..., None], one_hot, np.nan).astype(logits.dtype)


def plain(array):
    """True for an ordinary ndarray, whose values nn may read to check them; False for the
    traced arrays a jit recording runs on, where reading a value would freeze it."""
    return type(array) is np.ndarray


def l2_penalty(params):
    """Σ W² over every parameter: scale it yourself (the article uses λ/(2N))."""
    params = list(params)
    if not params:
        raise ValueError("l2_penalty: got no parameters")
    total = params[0].square().sum()
    for p in params[1:]:
        total = total + p.square().sum()
    return total
