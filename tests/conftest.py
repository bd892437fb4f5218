"""Hypothesis profiles for the whole test suite.

- ``ci`` (the default): derandomized, so CI and every developer run the very same
  examples and a failure in CI reproduces locally with the plain test command; no
  per-example deadline (examples of the property suite run the real module over
  sockets, and a deadline would make the outcome depend on machine load); failing
  examples are printed with ``@reproduce_failure`` blobs.
- ``deep``: twenty times the examples, from a random seed, for a long hunt.  The seed
  is chosen here and printed in the header and, after a failure, in the summary:
  replay the very same run with ``--hypothesis-seed=N``.
- ``mutants``: ``ci`` without the shrink phase, for ``sim mutants``: it only needs to
  know *whether* a property fails on a broken cleanup, not the smallest example.

Select one with ``HYPOTHESIS_PROFILE=deep pytest ...`` (or hypothesis's own
``--hypothesis-profile=deep``).  Tests that size their example counts by the profile
read ``settings().max_examples`` (100 under ``ci``).
"""

from __future__ import annotations

import os
import random

import pytest
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


_SEED = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under a randomized profile, choose the seed ourselves (unless given) and hand it
    to hypothesis's own ``--hypothesis-seed`` option, so it can be printed and replayed."""
    name = config.getoption("--hypothesis-profile") or os.environ.get("HYPOTHESIS_PROFILE", "ci")
    try:
        profile = settings.get_profile(name)
    except Exception:  # an unknown profile: hypothesis's plugin reports it
        return
    if profile.derandomize:
        return
    seed = config.getoption("--hypothesis-seed")
    if seed is None:
        seed = str(random.SystemRandom().randrange(2**32))
        config.option.hypothesis_seed = seed
    try:
        config.stash[_SEED] = int(seed)
    except ValueError:
        return


def pytest_report_header(config: pytest.Config) -> str | None:
    if _SEED not in config.stash:
        return None
    seed = config.stash[_SEED]
    return f"hypothesis seed {seed} (replay: --hypothesis-seed={seed})"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if exitstatus != 0 and _SEED in config.stash:
        seed = config.stash[_SEED]
        terminalreporter.write_line(f"replay this run's examples with --hypothesis-seed={seed}")
