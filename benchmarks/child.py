"""One measuring process: `python -m benchmarks.child ENGINE WORKLOAD SECONDS BATCH_SECONDS`.

Prints the measurements as one line of JSON. BLAS is made single-threaded
before NumPy is imported, so every engine does its maths on one core.
"""
import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import json  # noqa: E402
import sys  # noqa: E402

from .measure import measure  # noqa: E402  (imports NumPy)

engine_name, name, seconds, batch_seconds = sys.argv[1:]
print(json.dumps(measure(engine_name, name, float(seconds), float(batch_seconds))))
