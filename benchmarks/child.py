"""One measuring process: `python -m benchmarks.child ENGINE WORKLOAD SECONDS BATCH_SECONDS`.

Prints the measurements as one line of JSON. ENGINE "protection" measures the
eager engine with its read-only arrays and without, alternately. BLAS is made single-threaded
before NumPy is imported, so every engine does its maths on one core.
"""
import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import json  # noqa: E402
import sys  # noqa: E402

from .measure import measure, protection_cost  # noqa: E402  (imports NumPy)

engine_name, name, seconds, batch_seconds = sys.argv[1:]
if engine_name == "protection":
    print(json.dumps(protection_cost(name, float(seconds), float(batch_seconds))))
else:
    print(json.dumps(measure(engine_name, name, float(seconds), float(batch_seconds))))
