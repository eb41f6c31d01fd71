"""pyhf HistFactory workspaces, one per (mass, lifetime) hypothesis.

For each sub-channel (mode, experiment) the builder takes the bins whose
centres lie within ``window * sigma(m)`` of the hypothesis mass (summed into
one bin for a counting analysis) and writes:

- ``signal``: the interpolated signal template (events per fb of sigma x B,
  times the sub-channel's ``signal_scale``) with the POI ``mu`` as
  normfactor, so that ``mu`` *is* sigma x B in fb; ``lumi`` and the signal's
  systematic variations (``normsys``, interpolated yield ratios);
- one sample per background process (``background: simulation``) with
  ``lumi``, ``staterror`` (MC statistics, from the histogram variances)
  and each declared systematic present in the histograms (``normsys`` when
  counting, ``histosys`` when binned), or one ``sideband`` sample from a fit
  to the data sidebands with a ``shapesys`` for the fit uncertainty, or a
  sideband control channel and a free ``normfactor``;
- the observations: data, or the background-only Asimov dataset while
  blinded.

Modifier names carry the correlation model: a systematic declared
``correlated`` has one parameter for all experiments; otherwise one per
experiment (``<name>_<experiment>``); each experiment has its own
luminosity parameter (pyhf's ``lumi`` modifier for a single experiment; a
``normsys`` named ``lumi_<experiment>`` in a combination, since the pyhf
schema allows only one parameter called ``lumi``).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize  # type: ignore[import-untyped]

from belleflow.limits.background import (
    WindowEstimate,
    estimate_window,
    floor_estimate,
    resolution_units,
    usable_bins,
)
from belleflow.limits.histograms import HistogramTable
from belleflow.limits.model import StatModel, SubChannel
from belleflow.limits.signal import SignalLibrary
from belleflow.naming import DATA, signal_label

__all__ = [
    "POI",
    "CountingSummary",
    "Hypothesis",
    "build_hypothesis",
    "fit_sideband",
    "validate_workspace",
    "window_indices",
    "windows_span",
]

POI = "mu"
FloatArray = npt.NDArray[np.float64]
_SCHEMA_WARNING = "jsonschema.RefResolver is deprecated"


@dataclass(frozen=True)
class CountingSummary:
    """Window totals for the exact calculator and for reporting.

    ``log_cov`` is the covariance of (ln s, ln b) from all nuisance
    parameters (log-normal, median 1: the normsys convention of pyhf).
    """

    n_obs: float
    s: float
    b: float
    log_cov: tuple[float, float, float]  # var(ln s), cov(ln s, ln b), var(ln b)

    @property
    def sigma_b(self) -> float:
        """Absolute uncertainty of the background from all nuisance parameters.

        Examples:
            >>> CountingSummary(10.0, 2.0, 100.0, (0.0, 0.0, 0.01)).sigma_b
            10.0
        """
        return self.b * math.sqrt(self.log_cov[2])


@dataclass(frozen=True)
class Hypothesis:
    """One scan point: its workspace and the summary the calculators choose from."""

    name: str
    mass: float
    ctau: float
    spec: dict[str, Any]
    summary: CountingSummary
    single_bin: bool


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def fit_sideband(
    centres: FloatArray, counts: FloatArray, predict_at: FloatArray, function: str, order: int
) -> tuple[FloatArray, FloatArray]:
    """Poisson maximum-likelihood fit of the sideband counts; prediction and its uncertainty.

    ``function`` is ``"polynomial"`` (counts per bin = polynomial in x) or
    ``"exponential"`` (exp of a polynomial). The uncertainty propagates the
    inverse Fisher information through the Jacobian at the predicted points.

    Examples:
        >>> x = np.linspace(0.0, 1.0, 20)
        >>> pred, err = fit_sideband(x, np.full(20, 100.0), np.array([0.5]), "polynomial", 0)
        >>> round(float(pred[0]), 3), round(float(err[0]), 2)
        (100.0, 2.24)
    """
    x0 = float(np.mean(centres))
    dx = np.asarray(centres) - x0
    dp = np.asarray(predict_at) - x0
    n_par = order + 1
    design = np.vander(dx, n_par, increasing=True)
    design_p = np.vander(dp, n_par, increasing=True)
    mean = max(float(np.mean(counts)), 1e-3)
    start = np.zeros(n_par)
    start[0] = math.log(mean) if function == "exponential" else mean

    def rates(params: FloatArray, matrix: FloatArray) -> FloatArray:
        linear = matrix @ params
        if function == "exponential":
            return np.asarray(np.exp(np.clip(linear, -700, 700)), np.float64)
        # A polynomial may dip below zero in a sideband; Poisson rates may not.
        return np.asarray(np.maximum(linear, 1e-9), np.float64)

    def nll(params: FloatArray) -> float:
        lam = rates(params, design)
        return float(np.sum(lam - counts * np.log(lam)))

    result = minimize(nll, start, method="Nelder-Mead" if n_par == 1 else "BFGS")
    params = np.asarray(result.x, np.float64)
    lam = rates(params, design)
    jac = design * lam[:, None] if function == "exponential" else design
    fisher = jac.T @ (jac / lam[:, None])
    cov = np.linalg.pinv(fisher)
    pred = rates(params, design_p)
    jac_p = design_p * pred[:, None] if function == "exponential" else design_p
    err = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac_p, cov, jac_p), 0.0))
    return pred, err


@dataclass
class _Effects:
    """Relative effects of each nuisance on window totals (for the counting summary)."""

    on_s: dict[str, float]
    on_b: dict[str, float]

    def add(self, name: str, target: str, absolute: float) -> None:
        book = self.on_s if target == "s" else self.on_b
        book[name] = book.get(name, 0.0) + absolute


def model_window(model: StatModel, edges: FloatArray, mass: float) -> npt.NDArray[np.intp]:
    """The bins of the window of ``model`` at ``mass``: ``model.window`` resolutions either side."""
    half = model.window * model.resolution(mass)
    return window_indices(edges, mass - half, mass + half, mass)


def windows_span(model: StatModel, edges: FloatArray) -> tuple[float, float]:
    """The range of the observable that the bins of the scan's windows cover.

    Blinding must hide at least this range: a window at an end of ``mass_range``
    reaches ``model.window`` resolutions beyond it, and counts whole bins.

    Examples:
        >>> from belleflow.limits.model import Resolution
        >>> model = StatModel(channel="c", observable="m", mass_range=(1.0, 2.0),
        ...                   resolution=Resolution(polynomial=[0.1]), signal_model="s")
        >>> windows_span(model, np.linspace(0.0, 3.0, 31))
        (0.8, 2.2)
    """
    bins = [model_window(model, edges, mass) for mass in model.hypothesis_masses()]
    return float(min(edges[b[0]] for b in bins)), float(max(edges[b[-1] + 1] for b in bins))


def window_indices(edges: FloatArray, low: float, high: float, mass: float) -> npt.NDArray[np.intp]:
    """The bins whose centres lie in ``[low, high]`` (or the bin holding ``mass``)."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    idx = np.flatnonzero((centres >= low) & (centres <= high))
    if idx.size == 0:
        # Window narrower than a bin: use the bin holding the mass.
        inside = np.flatnonzero((edges[:-1] <= mass) & (edges[1:] > mass))
        if inside.size == 0:
            msg = f"mass {mass:g} GeV is outside the observable range [{edges[0]}, {edges[-1]}]"
            raise ValueError(msg)
        idx = inside
    return idx


def _collapse(values: FloatArray, counting: bool) -> list[float]:
    return [float(np.sum(values))] if counting else [float(v) for v in values]


def _systematic_names(model: StatModel, sub: SubChannel, multi_experiment: bool) -> dict[str, str]:
    names = {}
    for syst in model.systematics:
        uncorrelated = multi_experiment and not syst.correlated
        names[syst.name] = f"{syst.name}_{_slug(sub.experiment)}" if uncorrelated else syst.name
    return names


def _simulation_estimates(
    model: StatModel, table: HistogramTable, idx: npt.NDArray[np.intp], mass: float
) -> dict[str, WindowEstimate]:
    """Per background process, its estimate in the window (sparse ones smoothed, floored)."""
    u_edges = resolution_units(table.edges, model.resolution)
    # The hypothesis's own window is always usable, even next to a vetoed resonance.
    usable = usable_bins(table.edges, model.vetoed)
    estimates: dict[str, WindowEstimate] = {}
    weights: list[float] = []
    for process in table.background_processes():
        values = table.get(process)
        variance = table.variance(process)
        if float(values.sum()) > 0 and variance is not None:
            weights.append(float(variance.sum()) / float(values.sum()))
        estimate = estimate_window(
            table.edges,
            values,
            variance,
            idx,
            u_edges=u_edges,
            usable=usable,
            min_events=model.background.min_events,
        )
        if estimate is not None and float(estimate.values.sum()) > 0:
            estimates[process] = estimate
    if not estimates:
        # The least-known process (largest per-event weight) sets what could have been missed.
        weight = max(weights, default=model.background.floor_weight or 0.0)
        if weight <= 0:
            msg = (
                f"no simulated background event anywhere in the spectrum at m = {mass:g} GeV "
                "and no simulation weight to floor it with: declare background.floor_weight"
            )
            raise ValueError(msg)
        estimates["simulation_floor"] = floor_estimate(
            idx, u_edges=u_edges, usable=usable, weight=weight
        )
    return estimates


def _stat_errors(estimate: WindowEstimate, counting: bool) -> list[float]:
    """MC-statistics errors of an estimate, per bin, or of its window total when counting."""
    if not counting:
        return [float(e) for e in estimate.errors]
    if estimate.method == "histogram":
        return [math.sqrt(float(np.sum(estimate.errors**2)))]
    # The bins of a smoothed estimate share one neighbourhood: fully correlated.
    return [float(np.sum(estimate.errors))]


def _background_systematics(
    table: HistogramTable,
    process: str,
    idx: npt.NDArray[np.intp],
    nominal: FloatArray,
    syst_names: Mapping[str, str],
    counting: bool,
    mods: list[dict[str, Any]],
    effects: _Effects,
) -> None:
    """Append the declared systematics present for ``process`` (window bins) to ``mods``."""
    total = float(np.sum(nominal))
    for syst, mod_name in syst_names.items():
        has_up = table.has(process, f"{syst}_up")
        has_down = table.has(process, f"{syst}_down")
        if not (has_up or has_down):
            continue
        # One-sided variations are symmetrised around the nominal.
        if has_up and has_down:
            up_b = table.get(process, f"{syst}_up")[idx]
            down_b = table.get(process, f"{syst}_down")[idx]
        elif has_up:
            up_b = table.get(process, f"{syst}_up")[idx]
            down_b = 2 * nominal - up_b
        else:
            down_b = table.get(process, f"{syst}_down")[idx]
            up_b = 2 * nominal - down_b
        up_t, down_t = float(np.sum(up_b)), float(np.sum(down_b))
        if counting:
            data = {"hi": max(up_t / total, 1e-3), "lo": max(down_t / total, 1e-3)}
            mods.append({"name": mod_name, "type": "normsys", "data": data})
        else:
            hist_data = {
                "hi_data": np.maximum(up_b, 0.0).tolist(),
                "lo_data": np.maximum(down_b, 0.0).tolist(),
            }
            mods.append({"name": mod_name, "type": "histosys", "data": hist_data})
        effects.add(mod_name, "b", 0.5 * (up_t - down_t))


def _sub_channel(
    model: StatModel,
    sub: SubChannel,
    table: HistogramTable,
    signal: SignalLibrary,
    mass: float,
    ctau: float,
    lumi_name: str | None,
    lumi_sigma: float,
    effects: _Effects,
    multi_experiment: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, float]]:
    """Channels and observations of one sub-channel, and its window totals."""
    counting = model.counting
    edges = table.edges
    idx = model_window(model, edges, mass)
    channel = _slug(sub.name)
    syst_names = _systematic_names(model, sub, multi_experiment)
    lumi_mod: list[dict[str, Any]] = []
    if lumi_name == "lumi":
        lumi_mod = [{"name": "lumi", "type": "lumi", "data": None}]
    elif lumi_name is not None:
        # pyhf allows one 'lumi' parameter per workspace: in a combination each
        # experiment's luminosity is a normsys of its own, same Gaussian prior to first order.
        hi_lo = {"hi": 1.0 + lumi_sigma, "lo": max(1.0 - lumi_sigma, 1e-3)}
        lumi_mod = [{"name": lumi_name, "type": "normsys", "data": hi_lo}]

    prediction = signal.at(mass, ctau)
    # The signal that lands in the window, tails and wrong pairings included.
    s_bins = prediction.in_window(edges, idx, signal.shape) * sub.signal_scale
    signal_mods: list[dict[str, Any]] = [{"name": POI, "type": "normfactor", "data": None}]
    signal_mods += lumi_mod
    s_total = float(np.sum(s_bins))
    if lumi_name is not None:
        effects.add(lumi_name, "s", lumi_sigma * s_total)
    ratios = prediction.window_ratios(edges, idx)
    for syst, mod_name in syst_names.items():
        up = ratios.get(f"{syst}_up", 1.0)
        down = ratios.get(f"{syst}_down", 2.0 - up)
        if up != 1.0 or down != 1.0:
            signal_mods.append(
                {
                    "name": mod_name,
                    "type": "normsys",
                    "data": {"hi": max(up, 1e-3), "lo": max(down, 1e-3)},
                }
            )
            effects.add(mod_name, "s", 0.5 * (up - down) * s_total)
    samples: list[dict[str, Any]] = [
        {"name": "signal", "data": _collapse(s_bins, counting), "modifiers": signal_mods}
    ]
    channels: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    b_total = 0.0
    data_window = table.get(DATA)[idx] if table.has(DATA) else None

    if model.background.source == "simulation":
        staterr = f"staterror_{channel}"
        stat_var = 0.0
        estimates = _simulation_estimates(model, table, idx, mass)
        asimov_bins = np.zeros(idx.size)
        for process, estimate in estimates.items():
            nominal = estimate.values
            total = float(np.sum(nominal))
            b_total += total
            asimov_bins += nominal
            mods: list[dict[str, Any]] = list(lumi_mod)
            if lumi_name is not None:
                effects.add(lumi_name, "b", lumi_sigma * total)
            if model.mc_stat and np.any(estimate.errors > 0):
                errors = _stat_errors(estimate, counting)
                mods.append({"name": staterr, "type": "staterror", "data": errors})
                stat_var += sum(e * e for e in errors)
            if estimate.method == "histogram":
                # Shape systematics are read off the window's own bins; a smoothed or
                # floor estimate has too few events to resolve them beyond MC statistics.
                _background_systematics(
                    table, process, idx, nominal, syst_names, counting, mods, effects
                )
            samples.append(
                {"name": _slug(process), "data": _collapse(nominal, counting), "modifiers": mods}
            )
        if stat_var > 0:
            effects.add(staterr, "b", math.sqrt(stat_var))
        asimov = _collapse(asimov_bins, counting)
    else:
        if data_window is None:
            msg = f"sub-channel {sub.name!r}: a sideband background needs 'data' histograms"
            raise ValueError(msg)
        centres = 0.5 * (edges[1:] + edges[:-1])
        sigma = model.resolution(mass)
        far = model.background.sideband * sigma
        dist = np.abs(centres - mass)
        side = np.flatnonzero(
            (dist > model.window * sigma) & (dist <= far) & ~np.isin(np.arange(centres.size), idx)
        )
        if side.size < model.background.order + 2:
            msg = f"sub-channel {sub.name!r}: too few sideband bins at m = {mass:g} GeV"
            raise ValueError(msg)
        data_all = table.get(DATA)
        pred, err = fit_sideband(
            centres[side],
            data_all[side],
            centres[idx],
            model.background.function,
            model.background.order,
        )
        b_total = float(np.sum(pred))
        asimov = _collapse(pred, counting)
        if model.background.constraint == "shapesys":
            # Bin errors of a common fit are fully correlated; summing them linearly is
            # the conservative counting-mode choice, per-bin shapesys the binned one.
            sys_data = [float(np.sum(err))] if counting else err.tolist()
            mods = [{"name": f"sideband_{channel}", "type": "shapesys", "data": sys_data}]
            effects.add(f"sideband_{channel}", "b", float(np.sum(err)))
        else:
            norm = f"bkg_norm_{channel}"
            mods = [{"name": norm, "type": "normfactor", "data": None}]
            side_pred, _ = fit_sideband(
                centres[side],
                data_all[side],
                centres[side],
                model.background.function,
                model.background.order,
            )
            side_samples = [
                {"name": "sideband", "data": _collapse(side_pred, counting), "modifiers": mods}
            ]
            channels.append({"name": f"{channel}_sideband", "samples": side_samples})
            observations.append(
                {"name": f"{channel}_sideband", "data": _collapse(data_all[side], counting)}
            )
            # The control region constrains the normalisation to about 1/sqrt(N_sideband).
            effects.add(norm, "b", b_total / math.sqrt(max(float(np.sum(data_all[side])), 1.0)))
        samples.append({"name": "sideband", "data": asimov, "modifiers": mods})

    observed = (
        asimov if (model.blinded or data_window is None) else _collapse(data_window, counting)
    )
    channels.insert(0, {"name": channel, "samples": samples})
    observations.insert(0, {"name": channel, "data": observed})
    totals = {"s": s_total, "b": b_total, "n": float(np.sum(observed))}
    return channels, observations, totals


def build_hypothesis(
    model: StatModel,
    tables: Mapping[str, HistogramTable],
    signals: Mapping[str, SignalLibrary],
    mass: float,
    ctau: float = 0.0,
) -> Hypothesis:
    """Build the workspace of one hypothesis from per-sub-channel tables and signal libraries.

    ``tables`` and ``signals`` are keyed by sub-channel name.
    """
    subs = model.subchannels_or_default()
    experiments = {sub.experiment for sub in subs}
    multi = len(experiments) > 1
    channels: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    parameters: list[dict[str, Any]] = []
    effects = _Effects({}, {})
    s_sum = b_sum = n_sum = 0.0
    seen_lumi: set[str] = set()
    for sub in subs:
        sigma_lumi = (
            model.lumi_uncertainty if sub.lumi_uncertainty is None else sub.lumi_uncertainty
        )
        lumi_name = None
        if sigma_lumi > 0:
            lumi_name = f"lumi_{_slug(sub.experiment)}" if multi else "lumi"
            if lumi_name == "lumi" and lumi_name not in seen_lumi:
                seen_lumi.add(lumi_name)
                low, high = max(1 - 10 * sigma_lumi, 1e-3), 1 + 10 * sigma_lumi
                parameters.append(
                    {
                        "name": lumi_name,
                        "auxdata": [1.0],
                        "sigmas": [sigma_lumi],
                        "bounds": [[low, high]],
                        "inits": [1.0],
                    }
                )
        chans, obs, totals = _sub_channel(
            model,
            sub,
            tables[sub.name],
            signals[sub.name],
            mass,
            ctau,
            lumi_name,
            sigma_lumi,
            effects,
            multi,
        )
        channels += chans
        observations += obs
        s_sum += totals["s"]
        b_sum += totals["b"]
        n_sum += totals["n"]
    if s_sum <= 0:
        msg = f"no signal expected in the window at m = {mass:g} GeV, ctau = {ctau:g} cm"
        raise ValueError(msg)
    # Covariance of (ln s, ln b): each named nuisance shifts both totals coherently.
    names = set(effects.on_s) | set(effects.on_b)
    ds = np.array([effects.on_s.get(k, 0.0) / s_sum for k in names])
    db = np.array([effects.on_b.get(k, 0.0) / b_sum if b_sum > 0 else 0.0 for k in names])
    log_cov = (float(ds @ ds), float(ds @ db), float(db @ db))
    summary = CountingSummary(n_sum, s_sum, b_sum, log_cov)
    # POI range: wide enough for any sensible limit (statistical and background
    # uncertainty: a poorly known background, e.g. a projected sparse simulation,
    # loosens the limit far beyond sqrt(b)), narrow enough for stable fits.
    spread = 3.0 * math.sqrt(max(n_sum, b_sum)) + 3.0 * b_sum * math.sqrt(log_cov[2])
    scale = (3.0 + max(n_sum - b_sum, 0.0) + spread) / s_sum
    parameters.insert(0, {"name": POI, "bounds": [[0.0, 10.0 * scale]], "inits": [scale / 3.0]})
    for extra in {m["name"] for c in channels for s in c["samples"] for m in s["modifiers"]}:
        if extra.startswith("bkg_norm_"):
            parameters.append({"name": extra, "bounds": [[0.0, 10.0]], "inits": [1.0]})
    name = signal_label(model.signal_model, mass, ctau)
    spec = {
        "channels": channels,
        "observations": observations,
        "measurements": [{"name": name, "config": {"poi": POI, "parameters": parameters}}],
        "version": "1.0.0",
    }
    single_bin = len(channels) == 1 and len(observations[0]["data"]) == 1
    return Hypothesis(name, mass, ctau, spec, summary, single_bin)


def validate_workspace(spec: Mapping[str, Any]) -> None:
    """Validate ``spec`` against the pyhf workspace schema and build its model.

    pyhf's schema validation emits jsonschema's ``RefResolver``
    DeprecationWarning on every call; it is harmless and ignored here only.

    Raises:
        pyhf.exceptions.InvalidSpecification: The workspace is not valid.
    """
    import pyhf  # noqa: PLC0415 - heavy import, only needed here

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_SCHEMA_WARNING, category=DeprecationWarning)
        workspace = pyhf.Workspace(dict(spec))
        workspace.model()
