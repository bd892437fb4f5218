"""The oracle fixture: skip (with the exact reason) where Go or namespaces are missing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sim._fidelity import Case, Verdict, run_case, unavailable_reason


@pytest.fixture(scope="session")
def oracle() -> Callable[[Case], Verdict]:
    """``run_case`` once Go, the namespace and the loopback lanes are known to work."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"the Go oracle cannot run here: {reason}")
    return run_case


def supported(spec: str) -> bool:
    """Whether this faultdns understands the fault ``spec`` (actions still being added)."""
    import faultdns

    try:
        faultdns.parse_fault(spec)
    except faultdns.FaultSpecError:
        return False
    return True
