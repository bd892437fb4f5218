"""``sim tune``'s report: the statistics and the pick, as JSON, CSV, a policy file,
``cleanup run`` flags and PNG plots.

:func:`build_report` turns a :class:`~sim._tune._sweep.Sweep` into a :class:`TuneReport`
(named policies are references, never candidates for the pick); :func:`write_outputs`
writes ``report.json``, ``results.csv``, ``recommended.toml`` and the plots.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cleanup import Policy
from cleanup import policy_to_toml as _policy_to_toml
from sim._evaluate import SUCCESS
from sim._tune._grid import backoff_settings, short_name
from sim._tune._stats import PolicyStats, recommend, summarize, wilson_interval
from sim._tune._sweep import Sweep

__all__ = ["RECOMMENDED", "TuneReport", "build_report", "write_outputs", "write_plots"]

RECOMMENDED = "recommended"


@dataclass
class TuneReport:
    """Everything ``sim tune`` prints and writes."""

    sweep: Sweep
    stats: list[PolicyStats]
    named: list[str]
    target: float
    budget: float | None
    seed: int
    front: list[int] = field(default_factory=list)
    pick: int | None = None

    @property
    def named_indices(self) -> list[int]:
        """The named policies' (``--policy``) places in the sweep, in the order given:
        every table and plot shows them beside the grid's choices, as references."""
        return [self.sweep.index(name) for name in self.named]

    @property
    def pick_stats(self) -> PolicyStats | None:
        return None if self.pick is None else self.stats[self.pick]

    def recommended_policy(self) -> Policy | None:
        if self.pick is None:
            return None
        chosen = self.sweep.policies[self.pick]
        return replace(chosen, name=RECOMMENDED)

    def to_dict(self) -> dict[str, Any]:
        sweep = self.sweep
        pick = self.pick_stats
        evaluations = sweep.worlds * len(sweep.policies)
        return {
            "scenario": sweep.scenario,
            "seed": self.seed,
            "samples": sweep.worlds,
            "requested_samples": sweep.requested,
            "interrupted": sweep.interrupted,
            "target": self.target,
            "budget": self.budget,
            "wall_seconds": sweep.wall_seconds,
            "evaluations": evaluations,
            "evaluations_per_second": evaluations / sweep.wall_seconds
            if sweep.wall_seconds > 0
            else None,
            "named": self.named,
            "front": [self.stats[i].name for i in self.front],
            "pick": None if pick is None else pick.name,
            "pick_meets_target": bool(pick and pick.meets_target),
            "cleanup_flags": self.flags(),
            "policies": [s.to_dict() for s in self.stats],
        }

    def flags(self, policy_file: str | None = None) -> str | None:
        """The pick as ``cleanup run`` flags (client-go + v1.5: overrides of the
        harvester-v1.5 preset; otherwise only a policy file can say it)."""
        policy = self.recommended_policy()
        if policy is None:
            return None
        if policy.backoff.mode == "client-go" and policy.predicate == "v1.5":
            settings = backoff_settings(policy.backoff, policy.deadline)
            flags = " ".join(f"--{key} {value}" for key, value in settings)
            return f"cleanup run --policy harvester-v1.5 {flags}"
        return f"cleanup run --policy {policy_file or 'recommended.toml'}"

    def policy_toml(self) -> str | None:
        policy = self.recommended_policy()
        return None if policy is None else _policy_to_toml(policy)

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        header = [
            "name", "mode", "steps", "duration", "factor", "jitter", "cap", "deadline",
            "predicate", "samples", "successes", "p_success", "ci_low", "ci_high", "p50",
            "p95", "p99", "mean_attempts", "max_attempts", "dns_queries", "http_requests",
            "requests", "give_up_dns", "give_up_http", "give_up_not_retried",
            "blocked_mean", "blocked_p99", "blocked_max", "meets_target", "on_front", "pick",
        ]  # fmt: skip
        writer.writerow(header)
        for i, s in enumerate(self.stats):
            b = s.policy["backoff"]
            writer.writerow([
                s.name, b["mode"], b["steps"], b["duration"], b["factor"], b["jitter"],
                b["cap"] if b["cap"] is not None else "", s.policy["deadline"] or "",
                s.policy["predicate"], s.samples, s.successes, f"{s.p_success:.6f}",
                f"{s.ci_low:.6f}", f"{s.ci_high:.6f}", _num(s.p50), _num(s.p95), _num(s.p99),
                f"{s.mean_attempts:.4f}", s.max_attempts, f"{s.dns_queries:.4f}",
                f"{s.http_requests:.4f}", f"{s.requests:.4f}", f"{s.give_up['dns']:.6f}",
                f"{s.give_up['http']:.6f}", f"{s.give_up['not-retried']:.6f}",
                f"{s.blocked_mean:.4f}", f"{s.blocked_p99:.4f}", f"{s.blocked_max:.4f}",
                int(s.meets_target), int(s.on_front), int(i == self.pick),
            ])  # fmt: skip
        return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def build_report(
    sweep: Sweep, named: Sequence[str], target: float, budget: float | None, seed: int
) -> TuneReport:
    stats = [summarize(sweep, i) for i in range(len(sweep.policies))]
    named_set = set(named)
    # named policies are references, not candidates for the pick
    candidates = [i for i, s in enumerate(stats) if s.name not in named_set]
    front_c, pick_c = recommend([stats[i] for i in candidates], target)
    for i in set(range(len(stats))) - set(candidates):
        stats[i].meets_target = stats[i].successes > 0 and stats[i].p_success >= target
    report = TuneReport(sweep, stats, list(named), target, budget, seed)
    report.front = [candidates[j] for j in front_c]
    report.pick = None if pick_c is None else candidates[pick_c]
    return report


# --- plots -------------------------------------------------------------------------------


def _plot_policies(report: TuneReport) -> list[int]:
    chosen: list[int] = []
    if report.pick is not None:
        chosen.append(report.pick)
    # "best": the fastest of the most reliable grid policies (the pick trades speed for load)
    candidates = [i for i, s in enumerate(report.stats) if s.name not in report.named]
    best = max(
        candidates,
        key=lambda i: (report.stats[i].p_success, -(report.stats[i].p95 or math.inf)),
        default=None,
    )
    if best is not None and best not in chosen:
        chosen.append(best)
    for i in report.named_indices:
        if i not in chosen:
            chosen.append(i)
    return chosen


def _label(report: TuneReport, i: int) -> str:
    name = report.stats[i].name
    if i == report.pick:
        return f"recommended: {short_name(name)}"
    if name not in report.named:
        return f"fastest most reliable: {short_name(name)}"
    return name


def write_plots(report: TuneReport, out: Path) -> list[Path]:
    """PNG plots into ``out``: success vs time since reboot, completion-time CDF, and
    the Pareto front.  Agg backend: no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = report.sweep
    chosen = _plot_policies(report)
    paths = []
    n = sweep.worlds

    # 1. P(cleanup has succeeded) against time since the reboot, with Wilson bands
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    horizon = max(
        [float(sweep.end[i][sweep.outcome[i] == SUCCESS].max(initial=0.0)) for i in chosen]
        + [float(sweep.start.max(initial=0.0))]
    )
    grid = np.linspace(0.0, horizon * 1.05 + 1.0, 400)
    for i in chosen:
        ends = np.sort(sweep.end[i][sweep.outcome[i] == SUCCESS])
        k = np.searchsorted(ends, grid, side="right")
        p = k / max(n, 1)
        bands = np.array([wilson_interval(int(x), n) for x in k])
        (line,) = ax.plot(grid, p, label=_label(report, i))
        ax.fill_between(grid, bands[:, 0], bands[:, 1], color=line.get_color(), alpha=0.2)
    ax.set_ylim(-0.02, 1.02)
    paths.append(_save(fig, ax, out / "success_vs_time.png", "time since the node reboot (s)",
                       "P(cleanup has succeeded)",
                       f"{sweep.scenario}: success by time, {n} worlds (95% Wilson bands)",
                       "upper left"))  # fmt: skip

    # 2. CDF of completion time (every run: how long the controller was blocked)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for i in chosen:
        times = np.sort(sweep.elapsed[i])
        if times.size:
            ax.step(times, np.arange(1, times.size + 1) / times.size, where="post",
                    label=_label(report, i))  # fmt: skip
    paths.append(_save(fig, ax, out / "completion_cdf.png",
                       "completion time after the cleanup start (s), success or not",
                       "fraction of runs finished", f"{sweep.scenario}: completion-time CDF",
                       "lower right"))  # fmt: skip

    # 3. Pareto front on (p95 time to success, requests per cleanup)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    stats = report.stats
    xs = [s.p95 if s.p95 is not None else math.nan for s in stats]
    ys = [s.requests for s in stats]
    meets = [s.meets_target for s in stats]
    ax.scatter([x for x, m in zip(xs, meets, strict=True) if not m],
               [y for y, m in zip(ys, meets, strict=True) if not m],
               s=12, color="0.7", label=f"P(success) < {report.target:g}")  # fmt: skip
    ax.scatter([x for x, m in zip(xs, meets, strict=True) if m],
               [y for y, m in zip(ys, meets, strict=True) if m],
               s=14, color="tab:blue", label=f"P(success) >= {report.target:g}")  # fmt: skip
    if report.front:
        fx = [xs[i] for i in report.front]
        fy = [ys[i] for i in report.front]
        ax.plot(fx, fy, "-o", color="tab:red", markersize=5, label="Pareto front")
    if report.pick is not None:
        ax.scatter([xs[report.pick]], [ys[report.pick]], marker="*", s=220, color="gold",
                   edgecolor="black", zorder=5, label="recommended")  # fmt: skip
    for name in report.named:
        i = report.sweep.index(name)
        if not math.isnan(xs[i]):
            ax.annotate(name, (xs[i], ys[i]), fontsize=8, xytext=(4, 4),
                        textcoords="offset points")  # fmt: skip
    paths.append(_save(fig, ax, out / "pareto.png",
                       "p95 time to success after the cleanup start (s)",
                       "DNS queries + HTTP requests per cleanup",
                       f"{sweep.scenario}: speed against load", "best"))  # fmt: skip
    return paths


def _save(fig: Any, ax: Any, path: Path, xlabel: str, ylabel: str, title: str,
          legend: str) -> Path:  # fmt: skip
    """Label, grid and legend (at ``legend``) the plot, write it to ``path``, close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc=legend)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_outputs(report: TuneReport, out: Path) -> list[Path]:
    """report.json, results.csv, recommended.toml (if any pick) and the plots."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    toml = report.policy_toml()
    policy_file = out / "recommended.toml"
    if toml is not None:
        policy_file.write_text(toml, encoding="utf-8")
        written.append(policy_file)
    data = report.to_dict()
    data["cleanup_flags"] = report.flags(str(policy_file))
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "results.csv").write_text(report.csv_text(), encoding="utf-8")
    written += [out / "report.json", out / "results.csv"]
    written += write_plots(report, out)
    return written
