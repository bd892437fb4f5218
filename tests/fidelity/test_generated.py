"""Generated differential cases: hypothesis draws resolv.conf, name, faults and HTTP
behaviour (:func:`sim._fidelity._strategies.cases`), Go and our cleanup run each, and
every compared field must agree.  A disagreement shrinks to a minimal case, printed with
Go's record(s), ours and the differing fields.

Examples: at least 200 under the ``ci`` profile (derandomized: CI runs the same cases
every time), the profile's own count when it asks for more (``deep``: 2,000).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings

from sim._fidelity import Case, Verdict
from sim._fidelity._strategies import cases

CI_EXAMPLES = 200


def _examples() -> int:
    return max(CI_EXAMPLES, settings().max_examples)


# A case costs at most a few seconds (most take milliseconds): the suite's 300 s per-test
# timeout would cut the deep profile's 2,000 short.
@pytest.mark.timeout(300 + 3 * _examples())
@settings(max_examples=_examples())
@given(case=cases())
def test_go_and_cleanup_agree_on_generated_cases(
    oracle: Callable[[Case], Verdict], case: Case
) -> None:
    verdict = oracle(case)
    assert verdict.agrees, verdict.explain()
