"""Evaluate hypotheses, in process or as Dask tasks.

Each hypothesis is independent, so the scan maps :func:`evaluate` over
them. On Dask the hypotheses are shipped in batches (a few per worker
thread) rather than one task each: a limit takes 0.01-0.3 s, comparable to
the scheduler's per-task overhead, and a batch reuses the warm pyhf import
on its worker. Executors are those of ``belleflow run``: an existing
``distributed.Client``, a LocalCluster started for the scan, or in process.
A ``progress(done, total)`` callback hears of every finished hypothesis (in
process) or batch (on Dask, as the batches complete).

Examples:
    >>> from belleflow.limits.workspace import CountingSummary, Hypothesis
    >>> h = Hypothesis("s_m1_ctau0", 1.0, 0.0, {}, CountingSummary(0, 1.0, 0.0, (0, 0, 0)), True)
    >>> round(evaluate(h, ScanSettings(cl=0.9)).observed, 3)
    2.303
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from belleflow.limits.calculators import (
    AsymptoticCalculator,
    choose_method,
    exact_p0,
    exact_upper_limit,
    toys_upper_limit,
)
from belleflow.limits.workspace import Hypothesis

__all__ = [
    "Executor",
    "PointResult",
    "ScanProgress",
    "ScanSettings",
    "evaluate",
    "evaluate_batch",
    "run_scan",
]

Executor = Literal["inprocess", "local", "dask"]
#: ``progress(done, total)``: called with ``done=0`` as a scan starts, then as hypotheses finish.
ScanProgress = Callable[[int, int], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanSettings:
    """How to evaluate every hypothesis of a scan."""

    cl: float = 0.95
    calculator: str = "auto"
    exact_below: float = 5.0
    ntoys: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class PointResult:
    """Limits (on sigma x B in fb), fitted signal and local significance of one hypothesis.

    ``mu_hat`` is the fitted sigma x B (fb) and ``mu_hat_error`` its 68 %
    uncertainty (profile likelihood where it is asymptotic with an excess above
    Z = 1, the Asimov width sigma_A elsewhere, Poisson for exact counting); ``z_local`` is never capped.
    """

    name: str
    mass: float
    ctau: float
    method: str
    observed: float
    expected: tuple[float, float, float, float, float]
    mu_hat: float
    mu_hat_error: float
    p0: float
    z_local: float
    n_obs: float
    b: float
    s_per_fb: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out = asdict(self)
        out["expected"] = list(self.expected)
        return out


def evaluate(hypothesis: Hypothesis, settings: ScanSettings) -> PointResult:
    """Upper limits and local significance of one hypothesis."""
    method = choose_method(hypothesis, settings.calculator, settings.exact_below)
    summary = hypothesis.summary
    if method == "exact":
        limit = exact_upper_limit(summary, settings.cl)
        p0, z = exact_p0(summary)
        mu_hat = max(summary.n_obs - summary.b, 0.0) / summary.s
        # Poisson error of n and the background's own uncertainty, in units of the POI.
        var_b = summary.b**2 * summary.log_cov[2]
        mu_error = math.sqrt(max(summary.n_obs, summary.b) + var_b) / summary.s
    else:
        calc = AsymptoticCalculator(hypothesis.spec, settings.cl)
        if method == "toys":
            limit = toys_upper_limit(hypothesis.spec, settings.cl, settings.ntoys, settings.seed)
        else:
            limit = calc.upper_limit()
        p0, z = calc.discovery()
        if z > 1.0:
            # An excess: its profile-likelihood interval (a few more fits, only where it matters).
            fit = calc.fit()
            mu_error = 0.5 * (fit.error_low + fit.error_high)
        else:
            mu_error = calc.sigma(max(limit.expected[2], 1e-12))
        mu_hat = calc.mu_hat
    return PointResult(
        hypothesis.name,
        hypothesis.mass,
        hypothesis.ctau,
        method,
        limit.observed,
        limit.expected,
        mu_hat,
        mu_error,
        p0,
        z,
        summary.n_obs,
        summary.b,
        summary.s,
    )


def evaluate_batch(hypotheses: Sequence[Hypothesis], settings: ScanSettings) -> list[PointResult]:
    """Evaluate a batch (one Dask task)."""
    return [evaluate(h, settings) for h in hypotheses]


def _batches(items: Sequence[Hypothesis], n: int) -> list[list[Hypothesis]]:
    # Interleave so that cheap (exact) and expensive (fitted) points mix in every batch.
    return [list(items[i::n]) for i in range(min(n, len(items)))]


def run_scan(
    hypotheses: Sequence[Hypothesis],
    settings: ScanSettings,
    *,
    client: Any = None,
    executor: Executor | str = "inprocess",
    n_workers: int = 2,
    batches_per_worker: int = 16,
    progress: ScanProgress | None = None,
) -> list[PointResult]:
    """Evaluate all hypotheses, in input order.

    Args:
        hypotheses: The scan points.
        settings: Calculator settings.
        client: A ``distributed.Client``; when given it is used whatever ``executor`` says.
        executor: ``"inprocess"``, ``"local"`` (a LocalCluster of ``n_workers``
            single-threaded processes, started and stopped here) or ``"dask"``
            (needs ``client``).
        n_workers: Workers of the LocalCluster.
        batches_per_worker: Batches per worker thread, for load balancing and a
            progress that moves in steps of a few percent.
        progress: Told of the hypotheses done (:data:`ScanProgress`).
    """
    if not hypotheses:
        return []
    report = progress or (lambda _done, _total: None)
    report(0, len(hypotheses))
    if client is not None:
        return _on_client(client, hypotheses, settings, batches_per_worker, report)
    if executor == "dask":
        msg = "executor 'dask' needs a distributed.Client (client=...)"
        raise ValueError(msg)
    if executor == "local":
        import distributed  # noqa: PLC0415 - optional heavy import

        from belleflow.engine.executors import LOOPBACK, local_cluster  # noqa: PLC0415

        with (
            # The project's tuned LocalCluster; any free port: 8787 may be taken.
            local_cluster(n_workers, dashboard_address=f"{LOOPBACK}:0") as cluster,
            distributed.Client(cluster) as local,  # type: ignore[no-untyped-call]
        ):
            return _on_client(local, hypotheses, settings, batches_per_worker, report)
    if executor != "inprocess":
        msg = f"unknown executor {executor!r} (inprocess, local, dask)"
        raise ValueError(msg)
    results = []
    for h in hypotheses:
        results.append(evaluate(h, settings))
        report(len(results), len(hypotheses))
    return results


def _on_client(
    client: Any,
    hypotheses: Sequence[Hypothesis],
    settings: ScanSettings,
    per_worker: int,
    report: ScanProgress,
) -> list[PointResult]:
    from distributed import as_completed  # noqa: PLC0415 - optional heavy import

    threads = sum(client.nthreads().values()) or 1
    batches = _batches(hypotheses, threads * per_worker)
    log.info("limit scan: %d hypotheses in %d Dask tasks", len(hypotheses), len(batches))
    futures = client.map(evaluate_batch, batches, settings=settings, pure=False)
    by_name: dict[str, PointResult] = {}
    for _, batch in as_completed(futures, with_results=True):  # type: ignore[no-untyped-call]
        by_name.update((r.name, r) for r in batch)
        report(len(by_name), len(hypotheses))
    return [by_name[h.name] for h in hypotheses]
