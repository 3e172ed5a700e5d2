# SPDX-License-Identifier: MIT
"""pytest glue: make switchlib and vmlib importable and kill leftovers."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "vm"))

import pytest  # noqa: E402
import vmlib  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _kill_leftovers():
    # Per module, not per test: a module may share booted VMs between its
    # tests (module-scoped fixtures); tests clean up their own with `with`.
    yield
    vmlib.kill_all()
