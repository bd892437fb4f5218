"""One cleanup run: fetch both lists under the retry policy, plan, remove, report.

This is the whole behaviour of the controller's cleanup step, and the one entry point
the command line, the tests and the simulation all drive, so they exercise the same
code.  The order is the safety argument:

1. Both image lists are fetched and validated inside *one* retried operation (as the
   controller does).  Any failure there ends the run before the node is even looked at:
   nothing is ever removed on a partial, unvalidated or stale view.
2. The store's lock is taken (when it has one: ``locked()``) and held to the end, so no
   other cleanup acts on the node meanwhile.  The store is read (images, in use, pinned,
   and content identities when it has ``identities()``) and :func:`cleanup.plan`
   decides; a name whose content anything that stays shares is kept.
3. Unless it is a dry run, images are removed one at a time; each removal re-reads the
   store, so an image in use or pinned by now is refused.  A refusal is recorded and the
   rest go on; ``deleted`` holds only what the store confirmed it removed.

Everything the run did ends up in a :class:`CleanupReport`, whose ``to_dict()`` is what
``cleanup run --json`` prints and what the simulation stores per trial.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from cleanup._classify import error_kind
from cleanup._clock import Clock
from cleanup._errors import CleanupError
from cleanup._events import AttemptFailed, Sleeping, Succeeded
from cleanup._plan import RETAIN, MatchMode, PlanItem, plan
from cleanup._policy import Policy
from cleanup._repo import RepoClient
from cleanup._retry import RetriesExhausted, retry
from cleanup._store import ImageStore, RemovalError, StoreError

__all__ = [
    "EXIT_STATUS",
    "AttemptRecord",
    "CleanupReport",
    "ImageRemovalFailed",
    "ImageRemoved",
    "Outcome",
    "Removal",
    "run_cleanup",
]

#: How a run ended: the lists fetched and the plan carried out, the retries ran out, an
#: error that is never retried, or the store could not be used.
Outcome = Literal["success", "gave-up", "not-retriable", "store-error"]
#: The exit status ``cleanup run`` gives each :data:`Outcome`.  ``store-error`` (the
#: node's image store could not be read after the lists were fetched) is an error the
#: policy does not retry, so it shares status 2 with ``not-retriable``.
EXIT_STATUS: Mapping[Outcome, int] = MappingProxyType(
    {"success": 0, "gave-up": 1, "not-retriable": 2, "store-error": 2}
)


@dataclass(frozen=True)
class ImageRemoved:
    """Event: one image was removed."""

    image: str
    at: float


@dataclass(frozen=True)
class ImageRemovalFailed:
    """Event: the store refused to remove one image; the run goes on with the rest."""

    image: str
    reason: str
    at: float


@dataclass
class AttemptRecord:
    """One attempt to fetch both lists; times are seconds since the run started."""

    attempt: int
    at: float
    ok: bool
    kind: str | None = None
    error: str | None = None
    retriable: bool | None = None
    sleep: float | None = None  # the backoff before the next attempt, if there was one

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "at": self.at,
            "ok": self.ok,
            "kind": self.kind,
            "error": self.error,
            "retriable": self.retriable,
            "sleep": self.sleep,
        }


@dataclass(frozen=True)
class Removal:
    """An image and why it was (or was not) removed."""

    image: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"image": self.image, "reason": self.reason}


@dataclass
class CleanupReport:
    """What a run did.  ``deleted`` only ever holds images the store confirmed removed;
    ``planned`` and ``kept`` are the plan's items (:class:`~cleanup.PlanItem`: image,
    reason, and ``listed``, the previous-list entry each comes from); ``failed`` the
    removals the store refused."""

    outcome: Outcome
    previous_version: str
    current_version: str
    policy: str
    store: str
    dry_run: bool
    attempts: list[AttemptRecord] = field(default_factory=list)
    elapsed: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    planned: list[PlanItem] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[PlanItem] = field(default_factory=list)
    failed: list[Removal] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_STATUS[self.outcome]

    @property
    def ok(self) -> bool:
        return self.outcome == "success"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "previous_version": self.previous_version,
            "current_version": self.current_version,
            "policy": self.policy,
            "store": self.store,
            "dry_run": self.dry_run,
            "elapsed": self.elapsed,
            "error": self.error,
            "error_kind": self.error_kind,
            "attempts": [a.to_dict() for a in self.attempts],
            "planned": [p.to_dict() for p in self.planned],
            "deleted": list(self.deleted),
            "kept": [k.to_dict() for k in self.kept],
            "failed": [f.to_dict() for f in self.failed],
        }


def run_cleanup(
    repo: RepoClient,
    *,
    previous_version: str,
    current_version: str = "current",
    policy: Policy,
    store: ImageStore,
    clock: Clock,
    rng: random.Random,
    dry_run: bool = False,
    match: MatchMode = "both",
    retain: tuple[str, ...] = RETAIN,
    on_event: Callable[[object], None] | None = None,
) -> CleanupReport:
    """Run the cleanup once and report; never raises for a failure the report can hold.

    Harvester's ``cleanupImages`` (pkg/controller/master/upgrade/upgrade_repo.go): fetch
    the ``previous_version`` and ``current_version`` image lists through ``repo`` under
    ``policy``'s retries (Kubernetes ``retry.OnError``), plan what ``store`` may lose
    (:func:`cleanup.plan`, ``match`` and ``retain`` as there) and remove it one image at
    a time, holding the store's lock (``locked()``) when it has one.  ``dry_run`` plans
    and removes nothing.  ``clock`` (seconds) times the attempts, sleeps and
    ``report.elapsed``; ``rng`` draws the jitter.

    Returns a :class:`CleanupReport` whose ``outcome`` (:data:`Outcome`) is
    ``success``, ``gave-up`` (:class:`RetriesExhausted`: the schedule or the deadline
    ran out), ``not-retriable`` (an error the policy does not retry) or ``store-error``
    (:class:`StoreError` before or while removing; a :class:`RemovalError` for one image
    is reported and the run goes on).  ``on_event`` sees the retry runner's events
    (:mod:`cleanup.events`: attempts, failures with their classification, sleeps,
    success, giving up) and then :class:`ImageRemoved` / :class:`ImageRemovalFailed`
    for each image, as they happen.  Raises only what is not a run's failure:
    ``KeyboardInterrupt`` and the like, and whatever ``on_event`` raises.
    """
    start = clock.now()
    report = CleanupReport(
        outcome="success",
        previous_version=previous_version,
        current_version=current_version,
        policy=policy.name,
        store=repr(store),
        dry_run=dry_run,
    )

    def emit(event: object) -> None:
        if on_event is not None:
            on_event(event)

    def observe(event: object) -> None:
        if isinstance(event, AttemptFailed):
            report.attempts.append(
                AttemptRecord(
                    attempt=event.attempt,
                    at=event.at - start,
                    ok=False,
                    kind=event.kind,
                    error=str(event.error),
                    retriable=event.retriable,
                )
            )
        elif isinstance(event, Sleeping) and report.attempts:
            report.attempts[-1].sleep = event.seconds
        elif isinstance(event, Succeeded):
            report.attempts.append(
                AttemptRecord(attempt=event.attempt, at=event.at - start, ok=True)
            )
        emit(event)

    def finish(
        outcome: Outcome, error: CleanupError | None = None, cause: CleanupError | None = None
    ) -> CleanupReport:
        """``cause``: the error that decided it (for gave-up, the last attempt's)."""
        report.outcome = outcome
        if error is not None:
            report.error = str(error)
            report.error_kind = error_kind(cause or error)
        report.elapsed = clock.now() - start
        return report

    try:
        previous, current = retry(
            lambda attempt: repo.fetch_lists(previous_version, current_version),
            policy,
            clock=clock,
            rng=rng,
            on_event=observe,
        )
    except RetriesExhausted as exc:
        return finish("gave-up", exc, exc.last_error)
    except CleanupError as exc:
        return finish("not-retriable", exc)

    locked = getattr(store, "locked", None)
    try:
        with locked() if callable(locked) else contextlib.nullcontext():
            _plan_and_remove(store, previous, current, report, retain, match, dry_run, emit, clock)
    except StoreError as exc:
        return finish("store-error", exc)
    return finish("success")


def _plan_and_remove(
    store: ImageStore,
    previous: list[str],
    current: list[str],
    report: CleanupReport,
    retain: tuple[str, ...],
    match: MatchMode,
    dry_run: bool,
    emit: Callable[[object], None],
    clock: Clock,
) -> None:
    """Steps 2 and 3 of the module docstring, under the store's lock; fills ``report``.

    Raises :class:`StoreError` when the store cannot be read (nothing was removed then).
    """
    present = store.images()
    in_use = store.in_use()
    pinned = store.pinned()
    identities = getattr(store, "identities", None)
    identity = identities() if callable(identities) else None
    decided = plan(
        previous,
        current,
        present=present,
        in_use=in_use,
        pinned=pinned,
        retain=retain,
        match=match,
        identity=identity,
    )
    # the plan's own items: each names the previous-list entry it comes from
    # (``listed``), so a keep named by a node name (an entry that deletes others it
    # matches) is told from a later entry kept under the same spelling
    report.planned = list(decided.delete)
    report.kept = list(decided.keep)
    if dry_run:
        return

    doomed = [item.image for item in decided.delete]
    announce = getattr(store, "plan_removal", None)
    if callable(announce):
        announce(doomed)
    for image in doomed:
        try:
            store.remove(image)
        except RemovalError as exc:
            report.failed.append(Removal(image, exc.reason))
            emit(ImageRemovalFailed(image, exc.reason, clock.now()))
        except StoreError as exc:
            report.failed.append(Removal(image, str(exc)))
            emit(ImageRemovalFailed(image, str(exc), clock.now()))
        else:
            report.deleted.append(image)
            emit(ImageRemoved(image, clock.now()))
