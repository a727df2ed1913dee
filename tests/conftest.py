"""Hypothesis profiles: "ci" (the default) keeps the suite quick; HYPOTHESIS_PROFILE=thorough runs it hard."""
import os

import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits  # installed with scikit-learn

settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def one_blas_thread():
    """For tests that train the examples: their matrices are small, and BLAS threads only slow
    them down (several times over on a busy machine), as the scripts themselves know."""
    with threadpool_limits(1, user_api="blas"):
        yield
