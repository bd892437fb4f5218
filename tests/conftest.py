"""Hypothesis profiles for the whole test suite.

- ``ci`` (the default): derandomized, so CI and every developer run the very same
  examples and a failure in CI reproduces locally with the plain test command; no
  per-example deadline (examples of the property suite run the real module over
  sockets, and a deadline would make the outcome depend on machine load); failing
  examples are printed with ``@reproduce_failure`` blobs.
- ``deep``: twenty times the examples, random seeds (hypothesis prints the seed of a
  failing run: replay it with ``pytest --hypothesis-seed=N``), for a long hunt.
- ``mutants``: ``ci`` without the shrink phase, for ``sim mutants``: it only needs to
  know *whether* a property fails on a broken cleanup, not the smallest example.

Select one with ``HYPOTHESIS_PROFILE=deep pytest ...`` (or hypothesis's own
``--hypothesis-profile=deep``).  Tests that size their example counts by the profile
read ``settings().max_examples`` (100 under ``ci``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, Verbosity, settings

settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=2000,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "mutants",
    settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    verbosity=Verbosity.quiet,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
