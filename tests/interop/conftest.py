"""Fixtures of the interop tests (`make interop`)."""

import pytest


@pytest.fixture(scope="module")
def qf():
    """The client module; a clear failure (not a skip) when quickfix is not installed."""
    try:
        from tests.interop import quickfix_client
    except ImportError as e:
        missing = str(e)
    else:
        return quickfix_client
    pytest.fail(f"the quickfix package is not installed ({missing}): run `make interop`, which installs "
                "the interop extra (pip install -e '.[interop]')", pytrace=False)
