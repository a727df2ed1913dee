"""The README's first example: a few ops, backward(), and the gradients."""
from tinygrad_edu import Tensor

x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="x")
w = Tensor([[0.5], [-0.5]], requires_grad=True, name="w")
y = (x @ w).sigmoid()           # forward: each op records where it came from
loss = ((y - 1) ** 2).mean()
loss.backward()                 # reverse accumulation through the recorded graph
print("loss   ", loss.item())
print("dloss/dw", w.grad.numpy().ravel())
print("dloss/dx", x.grad.numpy())
