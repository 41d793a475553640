"""Differential tests: each program runs once with dm-haiku and once with minihaiku.haiku."""

import pytest

haiku = pytest.importorskip("haiku")
import minihaiku.haiku as mhk  # noqa: E402


@pytest.fixture(params=["haiku", "minihaiku"])
def hk(request):
    """Each library in turn (for tests that only need both to behave the same)."""
    return haiku if request.param == "haiku" else mhk
