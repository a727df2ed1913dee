"""Benchmarks of issue 6: tinygrad_edu (and PyTorch, when installed) against hand-written NumPy.

Run `python -m benchmarks` (add `--quick` for a short run). Nothing here imports
NumPy at package import, so a measuring child can make BLAS single-threaded first.
"""
