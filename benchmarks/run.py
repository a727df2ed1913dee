"""Run every workload on every engine, each in a process of its own, and report ratios to the floor.

    python -m benchmarks [--quick] [--engines tinygrad_edu jit torch] [--workloads W1_H3 W4] [--no-protection]
                         [--json PATH]

Three rounds (one with --quick), each running every workload on every engine in
turn; each engine's step is timed in alternation with the floor's in its own
process, and the ratio reported is the median of those pairs' ratios over all
rounds (every round is kept in the JSON). "tinygrad_edu" is the eager engine,
"jit" the same step through tinygrad_edu.jit (its first call, the recording, is
reported in eager steps). PyTorch joins when installed.
A second table shows what the eager engine's protection against in-place changes
(its read-only arrays) costs: each round also times eager with it and without.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from .workloads import W4_RSS_TARGET_MIB, WORKLOADS

HERE = Path(__file__).resolve().parent
# (seconds of timed work per measurement, least seconds per timed batch)
BUDGETS = {"full": (1.0, 0.1), "quick": (0.1, 0.01)}
# What the protection against in-place changes may cost the eager engine: "a few percent".
PROTECTION_BUDGET = 0.05


def installed_engines():
    return ["tinygrad_edu", "jit"] + (["torch"] if importlib.util.find_spec("torch") else [])


def run_child(engine, name, seconds, batch_seconds):
    """One measurement in a fresh process; a failure (such as a gradient mismatch) stops the run."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.child", engine, name, str(seconds), str(batch_seconds)],
                          cwd=HERE.parent, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{engine} on {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def measure_all(engines, names, rounds, seconds, batch_seconds):
    """{workload: {engine: [one measurement per round]}}, rounds interleaved. The engine
    "protection" is eager with its read-only arrays and without (measure.protection_cost)."""
    runs = {name: {engine: [] for engine in engines} for name in names}
    for round_number in range(1, rounds + 1):
        for name in names:
            for engine in engines:
                print(f"round {round_number}/{rounds}: {name} on {engine}", file=sys.stderr, flush=True)
                runs[name][engine].append(run_child(engine, name, seconds, batch_seconds))
    return runs


def summarise(runs):
    """Per workload and engine: median seconds, ratio to the floor, and the peak RSS.

    An engine's ratio is the median, over every pair of every round, of its time over
    the floor's in alternating batches in one process (measure.alternating_pairs), so
    the machine's slow spells fall on both; without pairs (the floor itself), the median
    of each round's time over the floor's.
    """
    results = {}
    for name, by_engine in runs.items():
        floor_rounds = [run["seconds"] for run in by_engine["floor"]]
        results[name] = {}
        for engine, measured in by_engine.items():
            if engine == "protection":
                results[name][engine] = _protection_summary(measured)
                continue
            seconds = [run["seconds"] for run in measured]
            results[name][engine] = {
                "seconds": statistics.median(seconds),
                "ratio": _ratio(measured, seconds, floor_rounds),
                "rounds": seconds,
                "first_call_seconds": statistics.median(run.get("first_call_seconds", 0.0) for run in measured),
                "peak_rss_mib": max(run["peak_rss_mib"] for run in measured),
                "baseline_rss_mib": max(run["baseline_rss_mib"] for run in measured),
            }
    return results


def _ratio(measured, seconds, floor_rounds):
    pairs = [pair for run in measured for pair in run.get("floor_pairs", ())]
    if pairs:
        return statistics.median(engine / floor for engine, floor in pairs)
    return statistics.median(s / f for s, f in zip(seconds, floor_rounds))


def _protection_summary(measured):
    """What the read-only arrays cost: the median over every alternating pair of every round
    of protected / unprotected - 1, beside the fastest protected step."""
    pairs = [pair for run in measured for pair in run["pairs"]]
    return {"cost": statistics.median(protected / unprotected for protected, unprotected in pairs) - 1,
            "seconds": min(protected for protected, _ in pairs),
            "pairs": pairs}


def machine():
    """What the numbers were measured on."""
    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")] if cpuinfo.exists() else []
    return {
        "cpu": models[0] if models else platform.processor(),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": importlib.metadata.version("numpy"),
        "torch": importlib.metadata.version("torch") if importlib.util.find_spec("torch") else None,
        "blas_threads": 1,
    }


ENGINE_LABELS = {"tinygrad_edu": "eager", "jit": "jit", "torch": "PyTorch"}


def table(results, engines):
    """The results as a Markdown table: per workload the floor's time, and per engine its ratio
    to it, the target and whether it is met; for jit, its first call (the recording) in eager steps."""
    header = ["workload", "NumPy floor", "engine", "ratio", "target", "met", "first call"]
    rows = []
    for name, by_engine in results.items():
        workload = WORKLOADS[name]
        targets = {"tinygrad_edu": workload.target, "jit": workload.jit_target}
        label, floor = workload.label, _duration(by_engine["floor"]["seconds"])
        for engine in (e for e in engines if e in by_engine):
            ratio, target = by_engine[engine]["ratio"], targets.get(engine)
            rows.append([label, floor, ENGINE_LABELS[engine], f"{ratio:.2f}×",
                         "" if target is None else f"≤ {target:.2f}×", "" if target is None else _yes(ratio <= target),
                         _first_call(by_engine, engine)])
            label = floor = ""
        if name == "W4":
            for engine in (e for e in engines if e in by_engine):
                rss = by_engine[engine]["peak_rss_mib"]
                rows.append(["W4 peak RSS (baseline)", _rss(by_engine["floor"]), ENGINE_LABELS[engine],
                             _rss(by_engine[engine]), f"≤ {W4_RSS_TARGET_MIB} MiB",
                             _yes(rss <= W4_RSS_TARGET_MIB) if engine in targets else "", ""])
    return markdown_table(header, rows)


def protection_table(results):
    """Per workload, the eager engine's fastest step and what its read-only arrays cost: the median,
    over the alternating pairs of batches, of its time with them over its time without."""
    header = ["workload", "eager step", "protection costs", "pairs", "budget", "met"]
    rows = []
    for name, by_engine in results.items():
        if "protection" in by_engine:
            measured = by_engine["protection"]
            rows.append([WORKLOADS[name].label, _duration(measured["seconds"]), f"{measured['cost']:+.1%}",
                         str(len(measured["pairs"])), f"≤ {PROTECTION_BUDGET:.0%}",
                         _yes(measured["cost"] <= PROTECTION_BUDGET)])
    return markdown_table(header, rows)


def markdown_table(header, rows):
    """A Markdown table of the header's columns, a row per list of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _first_call(by_engine, engine):
    """The jit engine's first call (its recording) in steps of the eager engine."""
    if engine != "jit" or "tinygrad_edu" not in by_engine:
        return ""
    return f"{by_engine['jit']['first_call_seconds'] / by_engine['tinygrad_edu']['seconds']:.1f} eager steps"


def _duration(seconds):
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def _rss(result):
    return f"{result['peak_rss_mib']:.0f} ({result['baseline_rss_mib']:.0f}) MiB"


def _yes(met):
    return "yes" if met else "**no**"


def tables(results):
    """The tables of a run (docs/performance.md shows them): ratios to the floor, and what the
    protection against in-place changes costs when the run measured it."""
    engines = [engine for engine in ENGINE_LABELS if any(engine in by_engine for by_engine in results.values())]
    found = [table(results, engines)]
    if any("protection" in by_engine for by_engine in results.values()):
        found.append(protection_table(results))
    return found


def report_text(results):
    """What `make bench` prints for a run."""
    return ("\n\nWhat the protection against in-place changes (read-only arrays) costs the eager engine:\n\n"
            .join(tables(results)))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of 0.1 s per measurement")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument("--engines", nargs="+", choices=["tinygrad_edu", "jit", "torch"], default=installed_engines())
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--protection", action=argparse.BooleanOptionalAction, default=True,
                        help="also time eager without its read-only arrays, for what they cost (default: yes)")
    parser.add_argument("--json", type=Path, help="where to write the results "
                        "(default benchmarks/results.json, or results-quick.json with --quick)")
    parser.add_argument("--show", action="store_true", help="measure nothing: print the tables of the JSON file")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    path = args.json or HERE / ("results-quick.json" if args.quick else "results.json")
    if args.show:
        print(report_text(json.loads(path.read_text())["results"]))
        return
    rounds = args.rounds or (1 if args.quick else 3)
    seconds, batch_seconds = BUDGETS[mode]
    measured = ["floor"] + args.engines + (["protection"] if args.protection else [])
    results = summarise(measure_all(measured, args.workloads, rounds, seconds, batch_seconds))
    report = {"mode": mode, "rounds": rounds, "machine": machine(), "results": results}
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(report_text(results))
    print(f"\n{json.dumps(report['machine'])}\nwritten to {path}")
