"""Signal-injection and null runs of the whole chain, through the command line.

As a user would: ``belleflow generate CATALOGUE --samples <data sample>
--seed S --data-root ROOT [--inject MODEL:MASS:CTAU:XSECfb]`` for each data
sample the channel reads, ``belleflow run CHANNEL --unblind`` and
``belleflow limits CHANNEL``, each as a subprocess of this interpreter. The
simulation and signal files are the production's own, linked into
``ROOT`` (only the data changes from run to run).

Then, per injected run: the largest local Z lies within one resolution of
the injected mass (plus half a scan step, the scan's own granularity); the fitted sigma x B at the scan point nearest to it
agrees with the injected one within three standard deviations (the
backend's workspace rebuilt from the run's histograms; for exact counting
the deviation of the observed count from the injection's prediction comes
from the Poisson probabilities, otherwise from the profile-likelihood
error). Over three or more injected runs: the observed limit excludes
the injected cross section in no more runs than a CLs limit allows (at most
``1 - CL`` of them; the check fails at a 1 % chance). Per null run: no local
Z above 5 and a finite global significance.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy.special import ndtri  # type: ignore[import-untyped]
from scipy.stats import binom, poisson  # type: ignore[import-untyped]

from belleflow.catalogue import load_catalogue
from belleflow.limits.api import build_hypotheses, load_run_histograms, with_run_floor
from belleflow.limits.model import StatModel
from belleflow.validation.checks import Check
from belleflow.validation.windows import WindowEvaluator

__all__ = [
    "ChainInjection",
    "ChainRun",
    "belleflow_cli",
    "chain_checks",
    "link_simulation",
    "peak_position",
    "run_chain",
    "unblind_arguments",
]

#: Fewest injected runs that can test the exclusion rate 1 - CL (with 2, one
#: exclusion in two is not unlikely enough to fail on).
MIN_SEEDS_EXCLUSION = 3
#: The reason given to ``belleflow run --unblind`` where it asks for one.
UNBLIND_REASON = "belleflow validate: signal-injection and null runs on pseudo-data"


@dataclass(frozen=True)
class ChainInjection:
    """The signal injected into the pseudo-data of a run."""

    model: str
    mass: float
    ctau: float
    cross_section_fb: float

    def argument(self) -> str:
        """The ``--inject`` argument of ``belleflow generate``."""
        return f"{self.model}:{self.mass:.6g}:{self.ctau:g}:{self.cross_section_fb:.6g}fb"


@dataclass(frozen=True)
class ChainRun:
    """One generate -> run -> limits pass and what ``belleflow limits`` wrote."""

    seed: int
    injection: ChainInjection | None
    run_dir: Path
    limits: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the points stay in the run's limits.json)."""
        return {
            "seed": self.seed,
            "injection": None if self.injection is None else vars(self.injection),
            "run_dir": str(self.run_dir),
            "global_significance": self.limits["global_significance"],
        }


def belleflow_cli(arguments: Sequence[str], env: dict[str, str] | None = None) -> str:
    """Run ``belleflow ARGUMENTS`` with this interpreter; its output, or an error with its tail.

    Raises:
        RuntimeError: The command failed (the message names it and ends with its stderr).
    """
    command = [sys.executable, "-c", "from belleflow.cli import main; main()", *arguments]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        msg = f"`belleflow {' '.join(arguments)}` failed ({done.returncode}):\n{tail}"
        raise RuntimeError(msg)
    return done.stdout


def unblind_arguments() -> list[str]:
    """``--unblind``, with a reason when ``belleflow run`` asks for one."""
    from belleflow.cli.run import run  # noqa: PLC0415 - the installed command's signature

    option = inspect.signature(run).parameters["unblind"].default
    default = getattr(option, "default", option)
    return ["--unblind"] if isinstance(default, bool) else ["--unblind", UNBLIND_REASON]


def link_simulation(catalogue: Path, root: Path) -> list[str]:
    """Link every simulation and signal file of ``catalogue`` into ``root``; the data samples.

    Files keep their path relative to the catalogue's data root, so the same
    catalogue finds them under ``BELLEFLOW_DATA_ROOT=root``.
    """
    cat = load_catalogue(catalogue)
    base = Path(cat.data_root)
    data = []
    for view in cat.iter_samples():
        if view.kind == "data":
            data.append(view.name)
            continue
        for file in cat.resolve_files(view, check=False):
            source = Path(file)
            if not source.is_relative_to(base):
                continue  # absolute paths and URLs are read where they are
            target = root / source.relative_to(base)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)
    return data


def _channel_data(catalogue: Path, channel: str) -> list[str]:
    from belleflow.channels import load_channel  # noqa: PLC0415 - entry points on demand

    info = load_channel(channel)
    cat = load_catalogue(catalogue)
    return [
        v.name
        for v in cat.skim(info.skim)
        if v.kind == "data" and v.experiment in tuple(info.experiments)
    ]


def limits_path(run_dir: Path, channel: str, model_name: str, n_models: int) -> Path:
    """Where ``belleflow limits`` writes a model's limits.json."""
    folder = run_dir / channel if n_models == 1 else run_dir / channel / model_name
    return folder / "limits.json"


def run_chain(
    channel: str,
    model_name: str,
    n_models: int,
    *,
    catalogue: Path,
    root: Path,
    seed: int,
    injection: ChainInjection | None,
) -> ChainRun:
    """Generate the channel's data samples into ``root``, run the channel unblinded, compute limits."""
    root.mkdir(parents=True, exist_ok=True)
    link_simulation(catalogue, root)
    for sample in _channel_data(catalogue, channel):
        arguments = ["generate", str(catalogue), "--samples", sample, "--seed", str(seed)]
        arguments += ["--data-root", str(root), "--no-progress"]
        if injection is not None:
            arguments += ["--inject", injection.argument()]
        belleflow_cli(arguments)
    out = root / "out"
    env = {"BELLEFLOW_DATA_ROOT": str(root)}
    belleflow_cli(
        [
            "run",
            channel,
            "--catalogue",
            str(catalogue),
            *unblind_arguments(),
            "--out",
            str(out),
            "--no-progress",
        ],
        env,
    )
    belleflow_cli(["limits", channel, "--in", str(out), "--no-plots"], env)
    limits = json.loads(limits_path(out, channel, model_name, n_models).read_text())
    return ChainRun(seed, injection, out, limits)


#: Fewest events in the window that make a peak to find: one event scores Z ~ 3 on
#: b ~ 0.005, as single background events elsewhere in the scan do. Fewer events
#: than this are a Poisson fluctuation of the injection, which the fit check judges.
PEAK_EVENTS = 2


def peak_position(points: list[dict[str, Any]]) -> tuple[list[tuple[float, float]], float]:
    """Where the local significance peaks: the runs of scan points of its top, and the largest Z.

    Windows overlap (``window`` resolutions either side, one resolution apart),
    so every window holding the injected events shares their count, and which
    of them has the largest Z is decided by small differences of background.
    The peak is therefore every scan point whose ``Z**2`` (the likelihood ratio
    ``q0``) is within 1 of the largest, as a profile-likelihood set in mass would
    be. That set may fall apart into runs: two excesses of one size (the injected
    events here, two background events there on a background smaller by 1e-3) are
    equally good positions, and keeping only the run around the largest Z let that
    background difference decide.

    Returns:
        The lowest and highest mass of each run, in mass order, and the largest Z.

    Examples:
        >>> z = [(1, 0.5), (2, 3.0), (3, 3.1), (4, 0.2), (5, 3.05), (6, 1.0)]
        >>> peak_position([{"mass": m, "z_local": v} for m, v in z])
        ([(2.0, 3.0), (5.0, 5.0)], 3.1)
    """
    ordered = sorted(points, key=lambda p: p["mass"])
    z_max = max(float(p["z_local"]) for p in ordered)
    threshold = z_max**2 - 1.0
    runs: list[tuple[float, float]] = []
    first: float | None = None
    last = 0.0
    for point in ordered:
        z = float(point["z_local"])
        if z > 0 and z**2 >= threshold:
            first = float(point["mass"]) if first is None else first
            last = float(point["mass"])
        elif first is not None:
            runs.append((first, last))
            first = None
    if first is not None:
        runs.append((first, last))
    return runs, z_max


def _nearest(points: list[dict[str, Any]], mass: float, ctau: float) -> dict[str, Any]:
    same = [p for p in points if math.isclose(p["ctau"], ctau, abs_tol=1e-12)] or points
    return min(same, key=lambda p: abs(p["mass"] - mass))


def injected_fit(model: StatModel, run: ChainRun) -> dict[str, float]:
    """Fitted sigma x B, its errors, Z and limit at the scan point nearest to the injection."""
    assert run.injection is not None
    point = _nearest(run.limits["points"], run.injection.mass, run.injection.ctau)
    histograms = {
        sub.source or sub.name: load_run_histograms(run.run_dir, sub.source or sub.name)
        for sub in model.subchannels_or_default()
    }
    unblinded = with_run_floor(model, run.run_dir).model_copy(update={"blinded": False})
    (hypothesis,) = build_hypotheses(
        unblinded, histograms, masses=[point["mass"]], ctaus=[point["ctau"]]
    )
    if not math.isclose(hypothesis.summary.n_obs, point["n_obs"]):
        msg = (
            f"{run.run_dir}: the rebuilt workspace at {point['mass']:g} GeV has "
            f"{hypothesis.summary.n_obs} events, limits.json {point['n_obs']}"
        )
        raise RuntimeError(msg)
    evaluator = WindowEvaluator(hypothesis, model.cl)
    n = round(point["n_obs"])
    low, high = evaluator.errors(n)
    mu = float(evaluator.mu_hat(n))
    truth = run.injection.cross_section_fb
    if point["method"] == "exact":
        # Few events: how far the count lies from what the injection predicts, from the
        # Poisson probabilities themselves (a likelihood interval of 0 events is 0.5 events
        # wide and would call n = 0 on 3 expected a 6 sigma deviation; it is a 5 % one).
        rate = hypothesis.summary.b + truth * hypothesis.summary.s
        tail = poisson.cdf(n, rate) if n < rate else poisson.sf(n - 1, rate)
        deviation = math.copysign(float(ndtri(max(1.0 - tail, 0.5))), n - rate)
    else:
        deviation = (mu - truth) / (high if mu < truth else low)
    return {
        "mass": point["mass"],
        "mu_hat": mu,
        "error_low": low,
        "error_high": high,
        "pull": deviation,
        "ratio": mu / truth,
        "z_local": point["z_local"],
        "observed": point["observed"],
        "expected_events": truth * hypothesis.summary.s + hypothesis.summary.b,
        "n_obs": float(point["n_obs"]),
    }


def chain_checks(
    model: StatModel, runs: Sequence[ChainRun]
) -> tuple[list[Check], list[dict[str, Any]]]:
    """Checks of the injected and null runs, and the per-run figures."""
    checks: list[Check] = []
    figures: list[dict[str, Any]] = []
    for run in runs:
        glob = run.limits["global_significance"]
        points = run.limits["points"]
        z_max = max(p["z_local"] for p in points)
        if run.injection is None:
            figures.append({"seed": run.seed, "kind": "null", "z_max": z_max, **glob})
            checks.append(
                Check(
                    "chain",
                    f"null seed {run.seed}: largest local Z",
                    f"{z_max:.2f}",
                    "< 5",
                    z_max < 5.0,
                    z_max,
                )
            )
            checks.append(
                Check(
                    "chain",
                    f"null seed {run.seed}: global Z",
                    f"{glob['z_global']:.2f}",
                    "finite",
                    math.isfinite(glob["z_global"]),
                    glob["z_global"],
                )
            )
            continue
        inj = run.injection
        same = [p for p in points if math.isclose(p["ctau"], inj.ctau, abs_tol=1e-12)] or points
        top, z_peak = peak_position(same)
        peak_mass = max(same, key=lambda p: p["z_local"])["mass"]
        sigma = model.resolution(inj.mass)
        fit = injected_fit(model, run)
        # How far the injected mass lies outside the peak's top (0 inside it).
        distance = min(max(low - inj.mass, inj.mass - high, 0.0) for low, high in top) / sigma
        figures.append(
            {
                "seed": run.seed,
                "kind": "injection",
                "peak_mass": peak_mass,
                "peak_top": [list(run) for run in top],
                "z_peak": z_peak,
                "peak_distance": distance,
                "injected": vars(inj),
                **fit,
            }
        )
        label = f"seed {run.seed}"
        n_window = round(fit["n_obs"])
        # The scan evaluates windows `scan_step` resolutions apart, so it places its
        # maximum only to half a step: one resolution plus that (1.5 at the default step).
        tolerance = 1.0 + 0.5 * model.scan_step
        top_text = ", ".join(f"{lo:.4g}-{hi:.4g}" if hi > lo else f"{lo:.4g}" for lo, hi in top)
        where = f"Z = {z_peak:.2f}, top {top_text} GeV ({distance:.1f} sigma off)"
        checks += [
            Check(
                "chain",
                f"{label}: Z peak at the injected mass",
                where
                if n_window >= PEAK_EVENTS
                else f"{n_window} event(s) in the window ({fit['expected_events']:.1f} expected): "
                f"no peak to find; {where}",
                f"top (Z**2 within 1 of its largest) within 1 resolution + half a scan step "
                f"({tolerance:g}) of {inj.mass:.4g} GeV (when the window holds >= {PEAK_EVENTS} "
                "events)",
                n_window < PEAK_EVENTS or distance <= tolerance + 1e-6,
                distance,
            ),
            Check(
                "chain",
                f"{label}: fitted sigma x B",
                f"{fit['mu_hat']:.3g} -{fit['error_low']:.2g} +{fit['error_high']:.2g} fb "
                f"(injected {inj.cross_section_fb:.3g}, ratio {fit['ratio']:.2f}; "
                f"{fit['pull']:+.1f} sigma)",
                "within 3 sigma (Poisson for exact counting)",
                abs(fit["pull"]) <= 3.0,
                fit["pull"],
            ),
        ]
    injected = [f for f in figures if f["kind"] == "injection"]
    if len(injected) >= MIN_SEEDS_EXCLUSION:
        checks.append(_exclusion_check(injected, model.cl))
    return checks, figures


def _exclusion_check(injected: list[dict[str, Any]], cl: float) -> Check:
    """How many seeds' observed limits exclude the injected signal, against the CL's rate.

    A CLs limit excludes a true signal in at most ``1 - CL`` of experiments, so
    one seed in ten may: the check fails when the count would happen in
    less than 1 % of sets of seeds of a correct chain.
    """
    ratios = [f["observed"] / f["injected"]["cross_section_fb"] for f in injected]
    excluded = sum(r <= 1.0 for r in ratios)
    allowed = int(binom.isf(0.01, len(ratios), 1.0 - cl))
    return Check(
        "chain",
        "observed limits above injection",
        f"{excluded} of {len(ratios)} seeds excluded; limit / injected "
        f"{min(ratios):.2f}-{max(ratios):.2f}",
        f"<= {allowed} excluded (1 % chance at a {1 - cl:.0%} rate)",
        excluded <= allowed,
        float(excluded),
    )
