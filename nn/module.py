"""Module and the layers built from it: Linear, Sequential, Sigmoid, Tanh, ReLU, MLP.

A Module finds its parameters by looking at its own attributes: a Tensor that
requires grad is a parameter, another Module is a child whose parameters are
named under the attribute's name ("0.weight", "2.bias"), as in PyTorch.
"""
import numpy as np

from tinygrad_edu import Tensor, scope


class Module:
    """Base class: subclasses set parameters and child modules as attributes and define forward()."""
    training = True  # until train(False) or eval(); layers such as Dropout read it

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        # The scope labels every op made inside, so drawings cluster them by module.
        with scope(self.label()):
            return self.forward(*args, **kwargs)

    def label(self):
        """How drawings and repr() name this module."""
        return type(self).__name__

    def named_parameters(self, prefix=""):
        """(name, Tensor) for every parameter, children's under their attribute name."""
        for name, value in vars(self).items():
            if isinstance(value, Tensor) and value.requires_grad:
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value.named_parameters(prefix + name + ".")

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def children(self):
        return [m for m in vars(self).values() if isinstance(m, Module)]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        """Set training mode on this module and all its children; returns the module."""
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode (Dropout passes inputs through): train(False)."""
        return self.train(False)

    def state_dict(self):
        """{name: copy of the parameter's array}: a snapshot that later training does not change."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state):
        """Give each parameter a new array holding state[name] (optimisers hold the Tensors, so
        they keep working; arrays a graph saved for backward are never written to).

        Every name, shape and dtype is checked before anything is assigned: on a mismatch a
        ValueError lists all problems and the module is left unchanged. A dtype must cast
        safely to the parameter's (float32 into float64, not float64 into float32, no text);
        Python numbers and lists take the parameter's dtype, as Tensor([...]) is float32.
        """
        params = dict(self.named_parameters())
        arrays = {name: np.asarray(value) for name, value in state.items()}
        for name, value in state.items():
            if name in params and not hasattr(value, "dtype") and arrays[name].dtype.kind in "biuf":
                arrays[name] = arrays[name].astype(params[name].dtype)
        problems = state_problems(params, {name: (a.shape, a.dtype) for name, a in arrays.items()})
        if problems:
            raise ValueError(f"load_state_dict into {self.label()}: " + "; ".join(problems))
        # New arrays, made before any is assigned; each is handed over to its tensor (read-only from then on).
        loaded = {name: np.array(arrays[name], dtype=p.dtype) for name, p in params.items()}
        for name, p in params.items():
            p.data = loaded[name]

    def __repr__(self):
        children = [f"  ({name}): " + repr(m).replace("\n", "\n  ")
                    for name, m in vars(self).items() if isinstance(m, Module)]
        return self.label() + ("(\n" + "\n".join(children) + "\n)" if children else "")


def state_problems(params, entries):
    """Why entries ({name: (shape, dtype)}) cannot be loaded into params ({name: Tensor}), one
    sentence per problem; empty when they fit. nn.load checks a file's headers with it too."""
    problems = [f"missing {name!r} (shape {p.shape})" for name, p in params.items() if name not in entries]
    problems += [f"unexpected {name!r}" for name in entries if name not in params]
    for name, p in params.items():
        if name not in entries:
            continue
        shape, dtype = entries[name]
        if shape != p.shape:
            problems.append(f"{name!r} has shape {shape} in the state but {p.shape} in the module")
        if not np.can_cast(dtype, p.dtype, casting="safe"):
            problems.append(f"{name!r} has dtype {dtype} in the state, which does not cast safely to the "
                            f"module's {p.dtype} (convert it first, e.g. with .astype)")
    return problems


class Linear(Module):
    """y = x @ weight + bias, with weight of shape (in_features, out_features).

    The weight is stored as the article writes it (rows are inputs), so the graph
    shows x @ W with no transpose; PyTorch stores the transpose. Both start
    uniform in [-1, 1) / sqrt(in_features), the article's initialisation.
    dtype is float32 as in PyTorch; float64 suits comparisons with NumPy maths.
    """

    def __init__(self, in_features, out_features, bias=True, seed=None, dtype=np.float32):
        self.in_features, self.out_features = in_features, out_features
        rng = np.random.default_rng(seed)
        bound = 1 / np.sqrt(in_features)
        self.weight = Tensor(rng.uniform(-1, 1, (in_features, out_features)) * bound,
                             requires_grad=True, dtype=dtype, name="weight")
        self.bias = (Tensor(rng.uniform(-1, 1, out_features) * bound, requires_grad=True, dtype=dtype, name="bias")
                     if bias else None)

    def forward(self, x):
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"{self.label()}: input of shape {x.shape} does not end in {self.in_features} features")
        out = x @ self.weight
        return out if self.bias is None else out + self.bias

    def label(self):
        return f"Linear({self.in_features}→{self.out_features})"


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Sequential(Module):
    """Runs its modules one after another; they are named "0", "1", ... as in PyTorch."""

    def __init__(self, *modules):
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, not an nn.Module")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x

    def __iter__(self):
        return iter(self.children())

    def __len__(self):
        return len(self.children())

    def __getitem__(self, index):
        return self.children()[index]


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}


class MLP(Sequential):
    """Linear layers of the given sizes with an activation between them, e.g. MLP([2, 3, 2]).

    The last layer has no activation, so the output is logits for cross_entropy
    (as torchvision's MLP); add nn.Sigmoid() in a Sequential for outputs in (0, 1).
    """

    def __init__(self, sizes, activation="sigmoid", bias=True, seed=None, dtype=np.float32):
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {list(sizes)}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        # One seed fans out to a different, reproducible stream per layer.
        seeds = np.random.SeedSequence(seed).spawn(len(sizes) - 1)
        layers = []
        for fan_in, fan_out, layer_seed in zip(sizes, sizes[1:], seeds):
            layers += [Linear(fan_in, fan_out, bias=bias, seed=layer_seed, dtype=dtype), ACTIVATIONS[activation]()]
        super().__init__(*layers[:-1])
