"""Measure one engine on one workload in this process: check its gradients, then time it."""
import gc
import resource
import time

import numpy as np

from . import engines, floor

# How closely an engine's gradients must match the floor's, relative to each array's largest value.
TOLERANCE = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}


def make(engine_name, name):
    return floor.make(name) if engine_name == "floor" else engines.make(engine_name, name)


class GradientMismatch(AssertionError):
    pass


def check_gradients(engine_name, name, got=None):
    """Raise GradientMismatch unless the engine's loss and gradients (`got`, else computed) match the floor's."""
    expected = floor.make(name)[1]()
    got = make(engine_name, name)[1]() if got is None else got
    if len(got) != len(expected):
        raise GradientMismatch(f"{engine_name} on {name}: {len(got)} values, the floor has {len(expected)}")
    for i, (want, have) in enumerate(zip(expected, got)):
        want, have = np.asarray(want), np.asarray(have)
        if have.shape != want.shape:
            raise GradientMismatch(f"{engine_name} on {name}, value {i}: shape {have.shape}, floor {want.shape}")
        error, scale = np.max(np.abs(have - want)), np.max(np.abs(want))
        if not error <= TOLERANCE[want.dtype] * scale:
            raise GradientMismatch(f"{engine_name} on {name}, value {i}: differs from the floor by {error:.3g} "
                                   f"(largest floor value {scale:.3g}, tolerance {TOLERANCE[want.dtype]:g} of it)")


def seconds_per_call(fn, seconds, batch_seconds):
    """Time of one call in the fastest batch of at least batch_seconds, until `seconds` of timed work.

    Batches too short to count warm it up. Batches, not single calls, so garbage
    collection and freeing the graph are paid for as they fall. CPU time of this
    process, not wall time, so other work on a shared machine disturbs it less; and
    the fastest batch, not the median one, because that work still slows this
    virtual machine's CPU in bursts (NumPy's tanh on 16 numbers took 0.7 to 1.6 µs
    from one minute to the next), and the fastest batch is the one it disturbed least.
    """
    return fastest_batch(fn, seconds, batch_seconds)[0]


def fastest_batch(fn, seconds, batch_seconds, reading=lambda calls: None):
    """(time of one call, reading) of the fastest batch, batched as seconds_per_call does.

    `reading(calls)` is called after every batch, so it can also reset what it reads;
    what it returned after the fastest batch comes back with that batch's time.
    """
    calls, fastest, total = 1, None, 0.0
    while total < seconds or fastest is None:
        elapsed = _batch(fn, calls)
        total += elapsed
        read = reading(calls)
        if elapsed < batch_seconds:
            calls *= 2
        elif fastest is None or elapsed / calls < fastest[0]:
            fastest = (elapsed / calls, read)
    return fastest


def alternating_pairs(batch_a, batch_b, seconds, batch_seconds, least_pairs=5):
    """[[a, b], ...]: seconds per call of two steps timed in alternating short batches.

    `batch_a(calls)` and `batch_b(calls)` run that many calls and return the CPU seconds.
    Alternating in one process, each pair in the other order from the last, means that a
    CPU slowing down in bursts (this machine's step times doubled for seconds at a time),
    or a cost left over from the batch before, falls on both alike, so the pairs' ratios
    hold where times measured apart do not. Each batch lasts about batch_seconds / 10.
    """
    calls_a, calls_b = (_calls_per_batch(run, batch_seconds / 10) for run in (batch_a, batch_b))
    pairs, total = [], 0.0
    while total < seconds or len(pairs) < least_pairs:
        if len(pairs) % 2 == 0:
            a = batch_a(calls_a)
            b = batch_b(calls_b)
        else:
            b = batch_b(calls_b)
            a = batch_a(calls_a)
        pairs.append([a / calls_a, b / calls_b])
        total += a + b
    return pairs


def _calls_per_batch(run_batch, seconds):
    """How many calls make a batch of at least `seconds` (finding out also warms up)."""
    calls = 1
    while run_batch(calls) < seconds:
        calls *= 2
    return calls


def protection_cost(name, seconds, batch_seconds):
    """The eager engine's time per step on workload `name` with its read-only arrays and without,
    as {"pairs": [[protected, unprotected], ...]} from alternating_pairs. The engine without
    protection must still give the floor's gradients."""
    step, _ = make("tinygrad_edu", name)
    with engines.without_protection():
        check_gradients("tinygrad_edu", name)

    def unprotected(calls):
        with engines.without_protection():
            return _batch(step, calls)
    return {"pairs": alternating_pairs(lambda calls: _batch(step, calls), unprotected, seconds, batch_seconds)}


def _batch(fn, calls):
    """CPU seconds of this process for `calls` calls of fn."""
    start = time.process_time()
    for _ in range(calls):
        fn()
    return time.process_time() - start


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux gives KiB


def measure(engine_name, name, seconds, batch_seconds):
    """This process's measurements of one engine on one workload, as a dict for JSON.

    An engine's step is timed in alternation with the floor's (floor_pairs, from
    alternating_pairs), and `seconds` is its fastest batch; the floor alone is timed
    by seconds_per_call. The floor's own memory in an engine's process is small beside
    the engine's (W4: 10 MiB against 90), so peak_rss_mib is still the engine's.
    first_call_seconds is the step's first call, timed alone: for the jit engine that
    call records the step (run.py reports it in eager steps).
    """
    step, gradients = make(engine_name, name)
    baseline = peak_rss_mib()  # the engine imported and the inputs made
    values = gradients()  # also the warm-up
    if engine_name != "floor":
        check_gradients(engine_name, name, values)
    del gradients, values  # for jit, its own recording: the step's recording is measured alone
    gc.collect()
    start = time.process_time()
    step()
    first_call = time.process_time() - start
    measured = {"first_call_seconds": first_call, "baseline_rss_mib": baseline}
    if engine_name == "floor":
        measured["seconds"] = seconds_per_call(step, seconds, batch_seconds)
    else:  # timed against the floor, alternately, for a ratio the machine's slow spells don't move
        floor_step = floor.make(name)[0]
        pairs = alternating_pairs(lambda calls: _batch(step, calls), lambda calls: _batch(floor_step, calls),
                                  seconds, batch_seconds)
        measured.update(seconds=min(engine for engine, _ in pairs), floor_pairs=pairs)
    return dict(measured, peak_rss_mib=peak_rss_mib())
