"""``sim tune``'s sweep: every policy on the same worlds, chunk by chunk, on an executor.

Seeds ``seed .. seed+samples-1`` are cut into chunks; :func:`evaluate_chunk` draws a
chunk's worlds (the simpy model) and evaluates every policy on them
(:mod:`sim._evaluate`), in this process, a local process pool (``jobs``) or on a Dask
cluster (``dask://HOST:PORT``).  Chunks are reassembled in seed order, so the
:class:`Sweep` is identical whatever ran it; Ctrl-C keeps the chunks already finished.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cleanup import Policy
from sim._evaluate import ControllerModel, ResultArrays, draws_needed, evaluate_batch, generate
from sim._scenario import Scenario
from sim._tune._grid import GridError

__all__ = [
    "DASK_CONNECT_TIMEOUT",
    "ExecutorError",
    "ProgressFn",
    "Sweep",
    "dask_address",
    "evaluate_chunk",
    "run_sweep",
]

DASK_CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before giving up (exit 69)


class ExecutorError(RuntimeError):
    """The Dask scheduler cannot be reached (exit 69, like EX_UNAVAILABLE)."""


@dataclass(kw_only=True)
class Sweep(ResultArrays):
    """Raw per-world results: the :class:`~sim._evaluate.ResultArrays` shaped
    (policies, worlds), worlds in seed order (``seeds``, and each world's ``start``)."""

    scenario: str
    policies: list[Policy]
    seeds: npt.NDArray[np.int64]
    start: npt.NDArray[np.float64]
    requested: int = 0
    interrupted: bool = False
    wall_seconds: float = 0.0
    exact_rows: int = 0

    @property
    def worlds(self) -> int:
        return int(self.seeds.shape[0])

    def index(self, name: str) -> int:
        for i, policy in enumerate(self.policies):
            if policy.name == name:
                return i
        raise KeyError(name)


_ChunkResult = tuple[int, dict[str, npt.NDArray[Any]], int]
# the per-world arrays of a BatchResult, stacked per policy into a Sweep
_FIELDS = ResultArrays.names()


def evaluate_chunk(
    scenario: Scenario, first_seed: int, count: int, policies: Sequence[Policy], offset: int
) -> _ChunkResult:
    """Draw the worlds of seeds ``first_seed .. first_seed+count-1`` and evaluate every
    policy on them.  Module-level and pure, so process pools and Dask can ship it."""
    model = ControllerModel.for_scenario(scenario)
    worlds = generate(scenario, range(first_seed, first_seed + count), draws_needed(policies),
                      model)  # fmt: skip
    results = [evaluate_batch(worlds, policy) for policy in policies]
    arrays: dict[str, npt.NDArray[Any]] = {
        name: np.stack([getattr(r, name) for r in results]) for name in _FIELDS
    }
    arrays["seeds"] = worlds.seeds
    arrays["start"] = worlds.start
    return offset, arrays, sum(r.exact_rows for r in results)


def _chunks(samples: int, jobs: int, chunk: int | None) -> list[tuple[int, int]]:
    size = chunk or min(5000, max(250, math.ceil(samples / max(1, jobs * 4))))
    return [(start, min(size, samples - start)) for start in range(0, samples, size)]


def dask_address(executor: str) -> str:
    rest = executor[len("dask://") :]
    if not rest or ":" not in rest:
        raise GridError(f"--executor {executor!r}: expected dask://HOST:PORT")
    host, _, port = rest.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()):
        raise GridError(f"--executor {executor!r}: expected dask://HOST:PORT")
    return f"tcp://{rest}"


ProgressFn = Callable[[int], None]


def run_sweep(
    scenario: Scenario,
    policies: Sequence[Policy],
    *,
    samples: int,
    seed: int = 0,
    jobs: int = 1,
    executor: str = "local",
    chunk: int | None = None,
    progress: ProgressFn | None = None,
) -> Sweep:
    """Evaluate ``policies`` on the worlds of seeds ``seed .. seed+samples-1``.

    ``executor``: ``local`` (``jobs`` processes; 1 = in this process) or
    ``dask://HOST:PORT``.  ``progress(worlds)`` is called as chunks finish.  A
    KeyboardInterrupt stops the sweep and returns what finished (``interrupted``).
    """
    if samples < 1:
        raise GridError("--samples: must be at least 1")
    if not policies:
        raise GridError("nothing to evaluate: no policies")
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GridError(f"--policy: {duplicates[0]!r} given twice")
    plan = _chunks(samples, jobs if executor == "local" else 8, chunk)
    policies = list(policies)
    done: list[_ChunkResult] = []
    interrupted = False
    started = time.perf_counter()

    def finished(result: _ChunkResult) -> None:
        done.append(result)
        if progress is not None:
            progress(int(result[1]["seeds"].shape[0]))

    args = [(scenario, seed + first, count, policies, first) for first, count in plan]
    try:
        if executor.startswith("dask://"):
            _run_dask(dask_address(executor), args, finished)
        elif executor != "local":
            raise GridError(f"--executor {executor!r}: expected local or dask://HOST:PORT")
        elif jobs <= 1:
            for a in args:
                finished(evaluate_chunk(*a))
        else:
            _run_pool(jobs, args, finished)
    except KeyboardInterrupt:
        interrupted = True
    return _assemble(scenario, policies, done, samples, interrupted,
                     time.perf_counter() - started)  # fmt: skip


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which cancels the sweep and keeps what
    finished (a worker dying of it would break the pool mid-report)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunk_star(args: tuple[Any, ...]) -> _ChunkResult:
    return evaluate_chunk(*args)


def _run_pool(
    jobs: int, args: list[tuple[Any, ...]], finished: Callable[[_ChunkResult], None]
) -> None:
    """Chunks on ``jobs`` worker processes, handed on as they complete.  Leaving the
    ``with`` block terminates the workers, so Ctrl-C costs no wait for running chunks."""
    # forkserver: a clean interpreter (no parent threads, e.g. the progress bar's) that
    # has imported the evaluator once; workers fork from it in milliseconds
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim._tune._sweep"])
    with context.Pool(min(jobs, len(args)), initializer=_ignore_sigint) as pool:
        for result in pool.imap_unordered(_chunk_star, args):
            finished(result)


def _run_dask(
    address: str, args: list[tuple[Any, ...]], finished: Callable[[_ChunkResult], None]
) -> None:
    # distributed's API is untyped; hold it as Any rather than sprinkle ignores
    distributed: Any = importlib.import_module("distributed")
    try:
        client = distributed.Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except OSError as exc:
        raise ExecutorError(
            f"--executor dask: cannot reach the scheduler at {address}: {exc}"
        ) from None
    futures = [client.submit(evaluate_chunk, *a, pure=False) for a in args]
    try:
        for future in distributed.as_completed(futures):
            finished(future.result())
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.close()


def _assemble(
    scenario: Scenario,
    policies: list[Policy],
    done: list[_ChunkResult],
    requested: int,
    interrupted: bool,
    wall: float,
) -> Sweep:
    done = sorted(done, key=lambda r: r[0])
    if done:
        arrays = {
            name: np.concatenate([r[1][name] for r in done], axis=-1)
            for name in (*_FIELDS, "seeds", "start")
        }
    else:
        arrays = {
            **ResultArrays.zeros((len(policies), 0)),
            "seeds": np.zeros(0, np.int64),
            "start": np.zeros(0),
        }
    return Sweep(
        scenario=scenario.name,
        policies=policies,
        requested=requested,
        interrupted=interrupted,
        wall_seconds=wall,
        exact_rows=sum(r[2] for r in done),
        **arrays,
    )
