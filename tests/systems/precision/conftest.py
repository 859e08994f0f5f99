"""Default tests round with the eager torch ops (no g++ build); the fast backends have their own
bit-identity tests (``test_native.py``, slow; ``test_floatfmt.py``)."""

import pytest

from systems.precision import floatfmt


@pytest.fixture(autouse=True)
def _eager_backend():
    prev = floatfmt.set_backend("eager")
    yield
    floatfmt.set_backend(prev)
