"""Where a tinygrad_edu step's time goes, next to the NumPy floor's step.

    python -m benchmarks.profile [--workloads W1_H3 W3 ...] [--seconds 1.0]

A step's time is split three ways: inside the ops' own forward and backward
code (the NumPy maths, which the floor does too), in Python's cyclic garbage
collector, and the rest: the engine's own bookkeeping (making Tensors and op
nodes, walking the graph, adding gradients) plus the SGD update. The split comes
from a second, instrumented run; the plain run gives the total. Each is timed
as `make bench` times a step: the fastest batch, the one a shared machine
disturbed least. This is the measured reason behind each ratio in `make bench`.

A second table does the same for the jit engine: how many NumPy calls its replay
makes per step against the floor's own count (found by recording the floor's step
with tinygrad_edu.jit too), the replay's time, the time of its program alone, and
the rest (copying inputs in, checking the signature, handing results out).
"""
import argparse
import gc
import os
import sys
import time

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

from tinygrad_edu import Function, Tensor, jit  # noqa: E402

from . import engines, floor  # noqa: E402
from .measure import fastest_batch, seconds_per_call  # noqa: E402
from .run import markdown_table  # noqa: E402
from .workloads import WORKLOADS  # noqa: E402


class Split:
    """Times spent in op code and in the collector while installed, and the ops run."""

    def __init__(self):
        self.in_ops = self.in_gc = 0.0
        self.ops = 0
        self._gc_start = None

    def take(self, calls):
        """(op-code seconds, collector seconds) per call since the last take, and start again."""
        per_call = (self.in_ops / calls, self.in_gc / calls)
        self.in_ops = self.in_gc = 0.0
        self.ops = 0
        return per_call

    def _on_gc(self, phase, info):
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif self._gc_start is not None:
            self.in_gc += time.perf_counter() - self._gc_start

    def _timed(self, method, counts):
        def run(ctx, *args, **kwargs):
            # A backward handed Tensors (create_graph) runs ops whose forwards are timed themselves.
            if isinstance(args[0], Tensor):
                return method(ctx, *args, **kwargs)
            start = time.perf_counter()
            try:
                return method(ctx, *args, **kwargs)
            finally:
                self.in_ops += time.perf_counter() - start
                self.ops += counts
        return staticmethod(run)

    def __enter__(self):
        self._saved = [(op, op.__dict__["forward"], op.__dict__["backward"]) for op in _ops()]
        for op, forward, backward in self._saved:
            op.forward = self._timed(forward.__func__, 1)
            op.backward = self._timed(backward.__func__, 0)
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._on_gc)
        for op, forward, backward in self._saved:
            op.forward, op.backward = forward, backward


def _ops():
    """Every Function subclass with its own static forward and backward."""
    found, stack = [], list(Function.__subclasses__())
    while stack:
        op = stack.pop()
        stack.extend(op.__subclasses__())
        if all(isinstance(op.__dict__.get(name), staticmethod) for name in ("forward", "backward")):
            found.append(op)
    return found


def profile(name, seconds):
    """{floor, total, in_ops, in_gc, rest, ops}: seconds per step (ops: ops recorded per step)."""
    floor_step = floor.make(name)[0]
    step = engines.make("tinygrad_edu", name)[0]
    step()  # warm-up
    floor_seconds = seconds_per_call(floor_step, seconds, seconds / 10)
    total = seconds_per_call(step, seconds, seconds / 10)
    with Split() as split:
        step()
        ops = split.ops
        in_ops, in_gc = fastest_batch(step, seconds, seconds / 10, split.take)[1]
    return {"floor": floor_seconds, "total": total, "in_ops": in_ops, "in_gc": in_gc,
            "rest": total - in_ops - in_gc, "ops": ops}


def _time(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def table(results):
    header = ["workload", "NumPy floor", "tinygrad_edu", "in the ops' code", "cyclic gc", "the rest", "ops per step",
              "the rest per op"]
    rows = [[WORKLOADS[name].label, _time(r["floor"]), f"{_time(r['total'])} ({r['total'] / r['floor']:.2f}×)",
             f"{_time(r['in_ops'])} ({r['in_ops'] / r['floor']:.2f}×)", _time(r["in_gc"]), _time(r["rest"]),
             f"{r['ops']:.0f}", f"{r['rest'] / r['ops'] * 1e6:.1f} µs"] for name, r in results.items()]
    return markdown_table(header, rows)


def profile_jit(name, seconds):
    """{floor, floor_calls, total, calls, program}: seconds per step and NumPy calls per step of the
    floor and of the jit engine's replay; program is the replay's list of calls run alone."""
    floor_step = floor.make(name)[0]
    counted = jit(floor_step)
    counted()  # records the floor's own step: its NumPy calls
    step = engines.make("jit", name)[0]
    step()  # records
    recording = step._latest

    def program():
        for call, args in zip(recording.calls, recording.args):
            call(*args)
    return {"floor": seconds_per_call(floor_step, seconds, seconds / 10), "floor_calls": len(counted._latest.calls),
            "total": seconds_per_call(step, seconds, seconds / 10), "calls": len(recording.calls),
            "program": seconds_per_call(program, seconds, seconds / 10)}


def jit_table(results):
    header = ["workload", "NumPy floor", "its NumPy calls", "jit replay", "its NumPy calls", "the program alone",
              "the rest"]
    rows = [[WORKLOADS[name].label, _time(r["floor"]), str(r["floor_calls"]),
             f"{_time(r['total'])} ({r['total'] / r['floor']:.2f}×)", str(r["calls"]),
             f"{_time(r['program'])} ({r['program'] / r['floor']:.2f}×)", _time(r["total"] - r["program"])]
            for name, r in results.items()]
    return markdown_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds of timed work per measurement")
    args = parser.parse_args(argv)
    results, jit_results = {}, {}
    for name in args.workloads:
        print(f"profiling {name}", file=sys.stderr, flush=True)
        results[name] = profile(name, args.seconds)
        jit_results[name] = profile_jit(name, args.seconds)
    print(table(results))
    print()
    print(jit_table(jit_results))
    return results, jit_results


if __name__ == "__main__":
    main()
