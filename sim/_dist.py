"""Distributions of durations, as written in scenario files.

A scenario never says "the VM boots in 71 s"; it says how boot times are spread, so a
seed picks one world and many seeds cover the field's variation.  A distribution is
written either as a bare number (fixed) or as a table with a ``dist`` key:

    vm_boot = { dist = "triangular", low = 50, mode = 71, high = 120 }
    service_sync = { dist = "lognormal", median = 5, sigma = 0.6 }
    flap_length = { dist = "empirical", samples = [2, 3, 3, 5, 8] }

Draws come from a ``random.Random`` passed in (scalar draws from it are several times
cheaper than from a numpy Generator, and the world model draws a handful per run).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Distribution", "ScenarioError", "parse_distribution"]


class ScenarioError(ValueError):
    """A scenario file or value is invalid; the message names the key."""


@dataclass(frozen=True)
class Distribution:
    """A non-negative duration distribution, in seconds."""

    kind: str
    params: tuple[float, ...] = ()
    samples: tuple[float, ...] = ()

    def sample(self, rng: random.Random) -> float:
        kind, p = self.kind, self.params
        if kind == "fixed":
            return p[0]
        if kind == "uniform":
            return rng.uniform(p[0], p[1])
        if kind == "triangular":
            return rng.triangular(p[0], p[2], p[1])  # random's order is (low, high, mode)
        if kind == "exponential":
            return rng.expovariate(1.0 / p[0]) if p[0] > 0 else 0.0
        if kind == "lognormal":
            return rng.lognormvariate(math.log(p[0]), p[1])
        if kind == "empirical":
            return self.samples[int(rng.random() * len(self.samples))]
        raise AssertionError(kind)  # parse_distribution admits no other kind

    def mean(self) -> float:
        kind, p = self.kind, self.params
        if kind == "fixed":
            return p[0]
        if kind == "uniform":
            return (p[0] + p[1]) / 2
        if kind == "triangular":
            return (p[0] + p[1] + p[2]) / 3
        if kind == "exponential":
            return p[0]
        if kind == "lognormal":
            return p[0] * math.exp(p[1] ** 2 / 2)
        return sum(self.samples) / len(self.samples)

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"{self.params[0]:g}s"
        if self.kind == "empirical":
            return f"empirical({len(self.samples)} samples)"
        return f"{self.kind}({', '.join(f'{x:g}' for x in self.params)})"

    def to_toml_value(self) -> float | dict[str, object]:
        names = _PARAMS.get(self.kind, ())
        if self.kind == "fixed":
            return self.params[0]
        if self.kind == "empirical":
            return {"dist": "empirical", "samples": list(self.samples)}
        return {"dist": self.kind, **dict(zip(names, self.params, strict=True))}


# the parameter names each kind takes, in the order stored in Distribution.params
_PARAMS: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "exponential": ("mean",),
    "lognormal": ("median", "sigma"),
    "empirical": (),
}


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{key}: expected a number of seconds, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ScenarioError(f"{key}: expected a finite number >= 0, got {value!r}")
    return number


def parse_distribution(value: object, key: str) -> Distribution:
    """Read one distribution; ``key`` (e.g. ``durations.vm_boot``) names it in errors."""
    if not isinstance(value, Mapping):
        return Distribution("fixed", (_number(value, key),))
    kind = value.get("dist")
    if kind not in _PARAMS:
        raise ScenarioError(f"{key}.dist: expected one of {', '.join(_PARAMS)}, got {kind!r}")
    expected = set(_PARAMS[kind]) | {"dist"} | ({"samples"} if kind == "empirical" else set())
    unknown = sorted(set(value) - expected)
    if unknown:
        raise ScenarioError(
            f"{key}.{unknown[0]}: unknown key for a {kind} distribution "
            f"(expected {', '.join(sorted(expected - {'dist'}))})"
        )
    if kind == "empirical":
        samples = value.get("samples")
        if not isinstance(samples, list) or not samples:
            raise ScenarioError(f"{key}.samples: expected a non-empty list of seconds")
        return Distribution(
            "empirical",
            samples=tuple(_number(x, f"{key}.samples[{i}]") for i, x in enumerate(samples)),
        )
    params: list[float] = []
    for name in _PARAMS[kind]:
        if name not in value:
            raise ScenarioError(f"{key}.{name}: missing (a {kind} distribution needs it)")
        params.append(_number(value[name], f"{key}.{name}"))
    if kind == "uniform" and params[0] > params[1]:
        raise ScenarioError(f"{key}: low ({params[0]:g}) must not exceed high ({params[1]:g})")
    if kind == "triangular" and not params[0] <= params[1] <= params[2]:
        raise ScenarioError(f"{key}: need low <= mode <= high, got {params}")
    if kind == "lognormal" and params[0] <= 0:
        raise ScenarioError(f"{key}.median: must be > 0 for a lognormal distribution")
    return Distribution(kind, tuple(params))
