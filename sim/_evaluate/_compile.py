"""Worlds compiled into segments of constant state, each with its attempt class.

A world (its state changes, from the world model or a timeline) becomes a row of
segments; within a segment an attempt has one result (its *class*: success, a DNS
error of some kind, an HTTP error, or *slow*: time passes inside it), found by running
the reference controller (``_model``) once per distinct set of states.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cleanup import (
    ConnectError,
    DNSError,
    HTTPStatusError,
    Policy,
    RequestTimeout,
)
from sim._clock import SocketlessClock
from sim._evaluate._model import (
    _DNS_CODES,
    _DNS_NAMES,
    _HTTP_CODES,
    _HTTP_NAMES,
    C_DNS_FATAL,
    C_DNS_NOT_FOUND,
    C_DNS_TEMPORARY,
    C_HTTP_REFUSED,
    C_HTTP_STATUS,
    C_SLOW,
    C_SUCCESS,
    ControllerModel,
    Evaluation,
    _Controller,
    _evaluate_view,
    _View,
    check_modelled,
)
from sim._evaluate._schedule import (
    jitter_draws,
)
from sim._scenario import Scenario
from sim._timeline import OTHER_NAMES, HTTPState, Timeline
from sim._world import WorldRecord, generate_worlds

__all__ = ["Worlds", "compile_timelines", "compile_worlds", "evaluate_row", "generate"]

# --- compiled worlds ------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Which signal (column of a segment's codes) each name and path reads."""

    repo: str
    dns_keys: tuple[str, ...]  # DNS signals: the repo host, "*", and any named key
    paths: tuple[str, ...]  # HTTP signals

    def dns_slot(self, name: str) -> tuple[int, bool]:
        """(the signal ``name`` reads, whether it is the repo name)."""
        return _dns_slot(self, name)


@functools.lru_cache(maxsize=256)
def _dns_slot(layout: _Layout, name: str) -> tuple[int, bool]:
    key = name.rstrip(".").lower()
    slot = layout.dns_keys.index(key if key in layout.dns_keys else OTHER_NAMES)
    return slot, key == layout.repo


@dataclass
class Worlds:
    """Many worlds as padded arrays of constant-state segments (the batch path's input).

    Row ``n`` is seed ``seeds[n]``; its segment ``j`` starts at ``breaks[n, j]`` (``inf``
    pads); ``codes[n, j]`` are the signals' states there (DNS keys then paths, see
    ``layout``); ``cls``/``dnsq``/``httpq`` what an attempt made in that segment ends
    with and costs; ``draws[n]`` the first values of the seed's jitter stream.
    """

    model: ControllerModel
    layout: _Layout
    seeds: npt.NDArray[np.int64]
    start: npt.NDArray[np.float64]
    breaks: npt.NDArray[np.float64]
    codes: npt.NDArray[np.int8]
    cls: npt.NDArray[np.int8]
    dnsq: npt.NDArray[np.int32]
    httpq: npt.NDArray[np.int32]
    draws: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.seeds)

    def terminal(self, predicate: str) -> npt.NDArray[np.bool_]:
        """Per segment: does an attempt there end the run under ``predicate``?  (Success,
        a 404, "no such host" for v1.4, or a slow segment the exact path takes over.)"""
        cls = self.cls
        ends: npt.NDArray[np.bool_] = (
            (cls == C_SUCCESS) | (cls == C_HTTP_STATUS) | (cls == C_SLOW) | (cls == C_DNS_FATAL)
        )
        if predicate == "v1.4":
            ends |= cls == C_DNS_NOT_FOUND
        return ends

    @property
    def load(self) -> npt.NDArray[np.int64]:
        """Per segment: DNS queries | HTTP requests << 32 of one attempt (summed in one go)."""
        return self.dnsq.astype(np.int64) | (self.httpq.astype(np.int64) << 32)


class _Constant(_View):
    """A world frozen in one set of codes (one segment)."""

    def __init__(self, layout: _Layout, codes: Sequence[int]) -> None:
        self.layout = layout
        self.codes = codes

    def dns(self, name: str, t: float) -> str:
        slot, repo = _dns_slot(self.layout, name)
        state = _DNS_NAMES[self.codes[slot]]
        if state == "ok" and not repo:
            return "nxdomain"
        return state

    def http(self, path: str, t: float) -> HTTPState:
        if path not in self.layout.paths:
            return "missing"
        return _HTTP_NAMES[self.codes[len(self.layout.dns_keys) + self.layout.paths.index(path)]]

    def accepting(self, t: float) -> bool:
        first = len(self.layout.dns_keys)
        http = self.codes[first:]
        return not len(http) or any(code != _HTTP_CODES["refused"] for code in http)

    def endpoints_gone_after(self, t: float) -> float:
        return math.inf  # one segment: nothing changes (a hang makes the segment slow)


def _segment_class(
    model: ControllerModel, layout: _Layout, codes: tuple[int, ...]
) -> tuple[int, int, int]:
    """(class, DNS queries, HTTP requests) of an attempt made inside one segment."""
    clock = SocketlessClock(1000.0)
    controller = _Controller(model, _Constant(layout, codes), clock)
    cls = _attempt_class(controller)
    if clock.t != 1000.0:
        cls = C_SLOW  # a query was dropped: time passes inside the attempt
    return cls, controller.count.dns, controller.count.http


def _attempt_class(controller: _Controller) -> int:
    """Run one attempt; the class of how it ended."""
    try:
        controller.attempt(1)
    except DNSError as exc:
        if exc.is_not_found:
            return C_DNS_NOT_FOUND
        return C_DNS_TEMPORARY if exc.is_temporary or exc.is_timeout else C_DNS_FATAL
    except (ConnectError, RequestTimeout):
        return C_HTTP_REFUSED  # retried by both predicates, like every network error
    except HTTPStatusError:
        return C_HTTP_STATUS
    return C_SUCCESS


class _Compiler:
    """Turns worlds (state changes per signal) into :class:`Worlds` arrays."""

    def __init__(self, model: ControllerModel, dns_keys: Iterable[str], paths: Iterable[str]):
        self.model = model
        keys = [model.repo_host, OTHER_NAMES, *(k for k in dns_keys if k not in (
            model.repo_host, OTHER_NAMES))]  # fmt: skip
        self.layout = _Layout(model.repo_host, tuple(keys), tuple(paths))
        self.memo: dict[tuple[int, ...], tuple[int, int, int]] = {}
        self.seeds: list[int] = []
        self.starts: list[float] = []
        self.rows: list[tuple[list[float], list[tuple[int, ...]]]] = []

    def add(self, seed: int, start: float, tracks: Sequence[Sequence[tuple[float, str]]]) -> None:
        """``tracks``: per signal of the layout, its ``[(time, state), ...]`` from t = 0."""
        n_dns = len(self.layout.dns_keys)
        changes = []
        for i, track in enumerate(tracks):
            table = _DNS_CODES if i < n_dns else _HTTP_CODES
            for t, state in track:
                changes.append((t, i, table[state]))
        changes.sort(key=lambda change: change[0])  # stable: a signal's order is kept
        self.add_sorted(seed, start, changes)

    def add_sorted(
        self, seed: int, start: float, changes: Sequence[tuple[float, int, int]]
    ) -> None:
        """``changes``: ``(time, signal, code)`` by time; at one instant the last counts."""
        if not math.isfinite(start):
            raise ValueError(f"seed {seed}: the controller never starts; nothing to evaluate")
        current = [0] * (len(self.layout.dns_keys) + len(self.layout.paths))
        times: list[float] = []
        codes: list[tuple[int, ...]] = []
        for t, i, code in changes:
            current[i] = code
            if times and times[-1] == t:
                codes[-1] = tuple(current)
            else:
                times.append(t)
                codes.append(tuple(current))
        # segments over before the cleanup starts can hold no attempt: drop them
        first = bisect.bisect_right(times, start) - 1
        if first > 0:
            del times[:first], codes[:first]
        self.seeds.append(seed)
        self.starts.append(start)
        self.rows.append((times, codes))

    def finish(self, draws: int) -> Worlds:
        n = len(self.rows)
        width = max((len(times) for times, _ in self.rows), default=1)
        signals = len(self.layout.dns_keys) + len(self.layout.paths)
        pad_code = (0,) * signals
        breaks: list[float] = []
        codes: list[tuple[int, ...]] = []
        info: list[tuple[int, int, int]] = []
        memo = self.memo
        for times, row_codes in self.rows:
            pad = width - len(times)
            breaks += times
            breaks += [math.inf] * pad
            codes += row_codes
            codes += [pad_code] * pad
            for code in row_codes:
                found = memo.get(code)
                if found is None:
                    found = memo[code] = _segment_class(self.model, self.layout, code)
                info.append(found)
            info += [(C_SUCCESS, 0, 0)] * pad
        table = np.array(info, dtype=np.int32).reshape(n, width, 3)
        jitter = np.array([jitter_draws(seed, draws) for seed in self.seeds], dtype=np.float64)
        return Worlds(
            model=self.model,
            layout=self.layout,
            seeds=np.array(self.seeds, dtype=np.int64),
            start=np.array(self.starts, dtype=np.float64),
            breaks=np.array(breaks, dtype=np.float64).reshape(n, width),
            codes=np.array(codes, dtype=np.int8).reshape(n, width, signals),
            cls=table[:, :, 0].astype(np.int8),
            dnsq=np.ascontiguousarray(table[:, :, 1]),
            httpq=np.ascontiguousarray(table[:, :, 2]),
            draws=jitter.reshape(n, draws),
        )


def compile_worlds(records: Iterable[WorldRecord], model: ControllerModel, draws: int) -> Worlds:
    """World records (:func:`sim._world.generate_worlds`) -> :class:`Worlds`.

    ``draws``: jitter values to precompute per seed (the most sleeps any policy of the
    sweep can take, :func:`sim._evaluate._batch.draws_needed`).
    """
    compiler = _Compiler(model, (model.as_given,), model.paths)
    layout = compiler.layout
    slots = {("dns", key): i for i, key in enumerate(layout.dns_keys)}
    n_dns = len(layout.dns_keys)
    slots.update({("http", path): n_dns + i for i, path in enumerate(layout.paths)})
    tables = [_DNS_CODES] * n_dns + [_HTTP_CODES] * len(layout.paths)
    for seed, start, log in records:
        changes = []
        seen = 0
        for t, kind, key, state in log:
            slot = slots.get((kind, key))
            if slot is None:
                continue  # a signal no query of this controller reads
            seen |= 1 << slot
            changes.append((t, slot, tables[slot][state]))
        if seen != (1 << len(tables)) - 1:
            missing = [k for k, i in slots.items() if not seen >> i & 1]
            raise ValueError(f"seed {seed}: the world has no state for {missing[0]}")
        compiler.add_sorted(seed, start, changes)
    return compiler.finish(draws)


def compile_timelines(
    timelines: Sequence[Timeline], seeds: Sequence[int], model: ControllerModel, draws: int
) -> Worlds:
    """Timelines (any DNS keys, e.g. shrunk by hypothesis) -> :class:`Worlds`;
    ``seeds[i]`` picks the jitter stream for ``timelines[i]``."""
    for timeline, seed in zip(timelines, seeds, strict=True):
        check_modelled(timeline, seed)
    keys = sorted({k.rstrip(".").lower() for t in timelines for k in t.dns})
    compiler = _Compiler(model, keys, model.paths)
    layout = compiler.layout
    for timeline, seed in zip(timelines, seeds, strict=True):
        if timeline.repo_host.rstrip(".").lower() != model.repo_host:
            raise ValueError(f"seed {seed}: repo host {timeline.repo_host!r} is not the model's")
        by_key = {k.rstrip(".").lower(): v for k, v in timeline.dns.items()}
        tracks: list[list[tuple[float, str]]] = []
        for key in layout.dns_keys:
            intervals = by_key.get(key, by_key.get(OTHER_NAMES))
            if intervals is None:
                raise ValueError(f"seed {seed}: no DNS state for {key!r} and no '*' entry")
            tracks.append([(iv.start, iv.state) for iv in intervals])
        for path in layout.paths:
            if path not in timeline.http:
                raise ValueError(f"seed {seed}: no HTTP state for {path!r}")
            tracks.append([(iv.start, iv.state) for iv in timeline.http[path]])
        compiler.add(seed, timeline.cleanup_start, tracks)
    return compiler.finish(draws)


def generate(
    scenario: Scenario, seeds: Sequence[int], draws: int, model: ControllerModel | None = None
) -> Worlds:
    """World model -> compiled worlds for ``seeds`` (the tuner's per-chunk input)."""
    model = model or ControllerModel.for_scenario(scenario)
    return compile_worlds(generate_worlds(scenario, seeds), model, draws)


class _RowView(_View):
    """One compiled world as a view, for the exact path."""

    def __init__(self, worlds: Worlds, row: int) -> None:
        width = int(np.isfinite(worlds.breaks[row]).sum())
        self.breaks = worlds.breaks[row, :width].tolist()
        self.codes = worlds.codes[row, :width].tolist()
        self.constant = _Constant(worlds.layout, self.codes[0])

    def _at(self, t: float) -> _Constant:
        self.constant.codes = self.codes[bisect.bisect_right(self.breaks, t) - 1]
        return self.constant

    def dns(self, name: str, t: float) -> str:
        return self._at(t).dns(name, t)

    def http(self, path: str, t: float) -> HTTPState:
        return self._at(t).http(path, t)

    def accepting(self, t: float) -> bool:
        return self._at(t).accepting(t)

    def endpoints_gone_after(self, t: float) -> float:
        j = bisect.bisect_right(self.breaks, t)
        for when, codes in zip(self.breaks[j:], self.codes[j:], strict=True):
            self.constant.codes = codes
            if not self.constant.accepting(when):
                return float(when)
        return math.inf


def evaluate_row(worlds: Worlds, row: int, policy: Policy) -> Evaluation:
    """The reference evaluation of one compiled world."""
    view = _RowView(worlds, row)
    seed = int(worlds.seeds[row])
    return _evaluate_view(view, float(worlds.start[row]), policy, seed, worlds.model)
