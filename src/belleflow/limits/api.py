"""``compute_limits``: from a channel's histograms to limits, workspaces and plots.

Examples:
    A background-free counting search (histograms built on the spot): no
    simulated background event passes, so the window's background is the
    floor of one simulated event of weight 0.01, and no data event is seen:

    >>> import hist, tempfile
    >>> from belleflow.limits.model import Background, Resolution, StatModel
    >>> h = hist.Hist(
    ...     hist.axis.StrCategory(["data", "zp_m1_ctau0", "zp_m2_ctau0"], name="process"),
    ...     hist.axis.StrCategory(["nominal"], name="variation"),
    ...     hist.axis.Regular(100, 0.5, 2.5, name="m"),
    ... )
    >>> _ = h.fill("zp_m1_ctau0", "nominal", [1.0] * 10)
    >>> _ = h.fill("zp_m2_ctau0", "nominal", [2.0] * 10)
    >>> model = StatModel(channel="toy", observable="m", mass_range=(1.0, 1.0),
    ...                   resolution=Resolution(polynomial=[0.05]), signal_model="zp",
    ...                   window=3.0, cl=0.9, background=Background(floor_weight=0.01))
    >>> result = compute_limits(model, {"m": h}, out_dir=tempfile.mkdtemp(), plots=False)
    >>> p = result.points[0]
    >>> p.method, round(p.observed * p.s_per_fb, 2)
    ('exact', 2.3)
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from belleflow.limits.conversion import convert
from belleflow.limits.histograms import HistogramTable, table_from_hist
from belleflow.limits.model import StatModel
from belleflow.limits.outputs import OBSERVED_KEYS, write_csv, write_json
from belleflow.limits.scan import Executor, PointResult, ScanSettings, run_scan
from belleflow.limits.signal import SignalGrid, SignalLibrary
from belleflow.limits.significance import GlobalSignificance, global_significance
from belleflow.limits.workspace import (
    Hypothesis,
    build_hypothesis,
    model_window,
    validate_workspace,
)
from belleflow.progress import Counter

__all__ = [
    "LimitResult",
    "build_hypotheses",
    "compute_limits",
    "compute_limits_from_run",
    "load_run_histograms",
    "resolve_model",
    "scan_label",
    "scan_points",
    "signal_table",
    "with_run_floor",
]

log = logging.getLogger(__name__)


@dataclass
class LimitResult:
    """Everything a limit scan produced."""

    model: StatModel
    points: list[PointResult]
    converted: list[dict[str, Any]]
    global_significance: GlobalSignificance
    luminosity_fb: float | None
    files: dict[str, Path] = field(default_factory=dict)
    signal_table: list[dict[str, Any]] = field(default_factory=list)
    projection: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The content of limits.json."""
        methods: dict[str, int] = {}
        for p in self.points:
            methods[p.method] = methods.get(p.method, 0) + 1
        blinded = self.model.blinded
        return {
            "channel": self.model.channel,
            "signal_model": self.model.signal_model,
            "cl": self.model.cl,
            "units": self.model.units,
            "poi_units": "sigma_B_fb",
            "luminosity_fb": self.luminosity_fb,
            "projection_factor": self.projection,
            "blinded": blinded,
            "methods": methods,
            # Significances need an observation: a blinded scan has none to report.
            "global_significance": None if blinded else self.global_significance.to_dict(),
            "model": self.model.model_dump(mode="json"),
            "signal": self.signal_table,
            "points": [
                {k: v for k, v in p.items() if not (blinded and k in OBSERVED_KEYS)}
                for p in self.converted
            ],
        }


def resolve_models(channel_or_model: Any) -> dict[str, StatModel]:
    """Every StatModel a channel declares, by name.

    Accepts a StatModel, a channel (its ``statistical_model``: one model, or a
    mapping of names to models, e.g. one per signal model or lifetime regime)
    or a registered channel name. A lone model is named after its signal model.
    """
    if isinstance(channel_or_model, StatModel):
        return {channel_or_model.signal_model: channel_or_model}
    if isinstance(channel_or_model, str):
        from belleflow.channels import load_channel  # noqa: PLC0415 - entry points on demand

        channel_or_model = load_channel(channel_or_model)
    declared = getattr(channel_or_model, "statistical_model", None)
    if callable(declared):
        declared = declared()
    if isinstance(declared, Mapping) and "channel" in declared:
        declared = StatModel.model_validate(declared)
    if isinstance(declared, StatModel):
        return {declared.signal_model: declared}
    if isinstance(declared, Mapping) and declared:
        return {
            str(name): m if isinstance(m, StatModel) else StatModel.model_validate(m)
            for name, m in declared.items()
        }
    msg = f"{channel_or_model!r} declares no statistical model ('statistical_model' attribute)"
    raise TypeError(msg)


def resolve_model(channel_or_model: Any) -> StatModel:
    """The one StatModel of a channel; an error if it declares several."""
    models = resolve_models(channel_or_model)
    if len(models) > 1:
        msg = f"{channel_or_model!r} declares several statistical models ({', '.join(models)})"
        raise ValueError(msg)
    return next(iter(models.values()))


def _tables(
    model: StatModel, histograms: Mapping[str, Any], projection: float | None = None
) -> dict[str, HistogramTable]:
    """Per sub-channel table of its observable.

    ``histograms`` maps observable -> histogram (one source for all
    sub-channels) or source -> (observable -> histogram); ``projection``
    scales the simulation to another luminosity (:meth:`HistogramTable.projected`).
    """
    tables = {}
    for sub in model.subchannels_or_default():
        observable = sub.observable or model.observable
        source = sub.source or sub.name
        group = histograms.get(source) if isinstance(histograms.get(source), Mapping) else None
        pool = group if group is not None else histograms
        if observable not in pool:
            msg = f"no histogram {observable!r} for sub-channel {sub.name!r} (have {sorted(pool)})"
            raise KeyError(msg)
        h = pool[observable]
        table = h if isinstance(h, HistogramTable) else table_from_hist(h)
        tables[sub.name] = table if projection is None else table.projected(projection)
    return tables


def _signals(model: StatModel, tables: Mapping[str, HistogramTable]) -> dict[str, SignalLibrary]:
    names = [s.name for s in model.systematics]
    libraries = {}
    for sub, table in tables.items():
        ctaus = sorted({p.ctau for p in table.signal_points(model.signal_model)})
        if not ctaus:
            msg = f"sub-channel {sub!r}: no signal of model {model.signal_model!r}"
            raise ValueError(msg)
        # The core of each template is the window the workspace reads at its mass.
        core = partial(model_window, model)
        grids = {
            c: SignalGrid.from_histograms(table, model.signal_model, c, names, core) for c in ctaus
        }
        libraries[sub] = SignalLibrary(grids, model.resolution, model.signal_shape)
    return libraries


def _covered(
    model: StatModel, signals: Mapping[str, SignalLibrary], ctaus: Sequence[float]
) -> list[float]:
    """The declared scan masses where every sub-channel has signal templates.

    A channel may declare the paper's range while its generated grid is
    narrower; the scan stops at the grid rather than extrapolate the signal.
    """
    low = max(lib.mass_coverage(ctaus)[0] for lib in signals.values())
    high = min(lib.mass_coverage(ctaus)[1] for lib in signals.values())
    masses = model.hypothesis_masses()
    kept = [m for m in masses if low <= m <= high]
    if len(kept) < len(masses):
        log.info(
            "%s/%s: scanning %g-%g GeV, where signal was generated (declared %g-%g GeV)",
            model.channel,
            model.signal_model,
            low,
            high,
            *model.mass_range,
        )
    if not kept:
        msg = (
            f"{model.channel}/{model.signal_model}: no declared mass in {model.mass_range} "
            f"lies within the generated signal grid [{low:g}, {high:g}] GeV"
        )
        raise ValueError(msg)
    return kept


def scan_points(model: StatModel, histograms: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The (mass, lifetime) of every hypothesis of the scan, in the order they are built.

    Cheaper than :func:`build_hypotheses` when only some of them are needed
    (the validation evaluates a spread of a scan of thousands).
    """
    signals = _signals(model, _tables(model, histograms, None))
    ctaus = model.ctau_values or next(iter(signals.values())).ctaus
    masses = _covered(model, signals, ctaus)
    return [(float(m), float(c)) for c in ctaus for m in masses]


def build_hypotheses(
    model: StatModel,
    histograms: Mapping[str, Any],
    masses: Sequence[float] | None = None,
    ctaus: Sequence[float] | None = None,
    projection: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Hypothesis]:
    """The workspaces of every (mass, lifetime) hypothesis of the scan.

    ``projection`` scales signal and simulation by that luminosity factor
    (expected limits only; see :meth:`HistogramTable.projected`). ``progress``
    is told ``(built, total)`` as they are built (minutes for a large scan).
    """
    tables = _tables(model, histograms, projection)
    signals = _signals(model, tables)
    if ctaus is None:
        ctaus = model.ctau_values or next(iter(signals.values())).ctaus
    if masses is None:
        masses = _covered(model, signals, ctaus)
    points = [(float(m), float(c)) for c in ctaus for m in masses]
    hypotheses = []
    for mass, ctau in points:
        hypotheses.append(build_hypothesis(model, tables, signals, mass, ctau))
        if progress is not None:
            progress(len(hypotheses), len(points))
    return hypotheses


def signal_table(
    model: StatModel,
    histograms: Mapping[str, Any],
    luminosity_fb: float | None = None,
    projection: float | None = None,
) -> list[dict[str, Any]]:
    """Signal yield, in-window yield and efficiency at every generated grid point.

    The in-window numbers are those the workspaces use: the generated
    signal in the bins of the window at the grid mass (``window`` declared
    resolutions either side), tails and wrong pairings included. The
    efficiency is the in-window yield per fb over the data luminosity.
    """
    tables = _tables(model, histograms, projection)
    rows = []
    for sub, library in _signals(model, tables).items():
        edges = tables[sub].edges
        for ctau, grid in sorted(library.grids.items()):
            for mass, total in zip(grid.masses, grid.yields, strict=True):
                sigma = model.resolution(float(mass))
                idx = model_window(model, edges, float(mass))
                inside = float(library.at(float(mass), ctau).in_window(edges, idx).sum())
                rows.append(
                    {
                        "subchannel": sub,
                        "mass": float(mass),
                        "ctau": ctau,
                        "sigma": sigma,
                        "yield_per_fb": float(total),
                        "window_yield_per_fb": inside,
                        "window_fraction": inside / float(total) if total > 0 else 0.0,
                        "window_efficiency": inside / luminosity_fb if luminosity_fb else None,
                    }
                )
    return rows


def _convert(model: StatModel, point: PointResult, lumi: float | None) -> dict[str, Any]:
    out = point.to_dict()

    def conv(value: float) -> float:
        return (
            convert(value, point.mass, point.ctau, model, lumi) if math.isfinite(value) else value
        )

    out["observed_converted"] = conv(point.observed)
    out["expected_converted"] = [conv(v) for v in point.expected]
    return out


def compute_limits(
    channel_or_model: Any,
    histograms: Mapping[str, Any],
    *,
    out_dir: str | Path,
    client: Any = None,
    executor: Executor | str = "inprocess",
    n_workers: int = 2,
    masses: Sequence[float] | None = None,
    ctaus: Sequence[float] | None = None,
    luminosity_fb: float | None = None,
    cl: float | None = None,
    calculator: str | None = None,
    projection: float | None = None,
    write_workspaces: bool = True,
    plots: bool = True,
    progress: Counter | None = None,
) -> LimitResult:
    """Scan the channel's hypotheses and write limits.json, limits.csv, Brazil plots.

    Args:
        channel_or_model: A :class:`StatModel`, a channel object with ``stat_model``,
            or a registered channel name.
        histograms: observable -> histogram, or source -> (observable -> histogram)
            for sub-channels that read other run outputs.
        out_dir: ``DIR/CHANNEL``: outputs go here, workspaces into ``workspaces/``.
        client: A ``distributed.Client`` to run the hypotheses on.
        executor: ``"inprocess"``, ``"local"`` or ``"dask"`` when no client is given.
        n_workers: Workers of a LocalCluster started for ``executor="local"``.
        masses: Scan these masses instead of the declared ones.
        ctaus: Scan these lifetimes instead of the declared (or generated) ones.
        luminosity_fb: Data luminosity, when the model does not declare it.
        cl: Override the declared confidence level.
        calculator: Override the declared calculator choice.
        projection: Expected limits as if the data had ``projection`` times the
            luminosity: signal and background scaled, the relative MC-statistics
            uncertainty of the simulation kept, no observation (the result is
            blinded by construction).
        write_workspaces: Write ``workspaces/<hypothesis>.json``.
        plots: Draw the Brazil plots.
        progress: Told ``(label, done, total)`` as hypotheses finish, ``label``
            naming the channel and the model (:func:`scan_label`).
    """
    model = resolve_model(channel_or_model)
    overrides: dict[str, Any] = {}
    if cl is not None:
        overrides["cl"] = cl
    if calculator is not None:
        overrides["calculator"] = calculator
    if projection is not None:
        overrides["blinded"] = True
    if overrides:
        model = StatModel.model_validate({**model.model_dump(), **overrides})
    lumi = model.luminosity_fb or luminosity_fb
    if projection is not None and lumi is not None:
        lumi *= projection
    out = Path(out_dir)
    label = scan_label(model, projection)
    building = functools.partial(progress, f"{label}: workspaces") if progress else None
    hypotheses = build_hypotheses(model, histograms, masses, ctaus, projection, building)
    if not hypotheses:
        msg = "no hypotheses to scan"
        raise ValueError(msg)
    if progress is not None:
        # The bar shows from here: writing thousands of workspaces takes a while too.
        progress(label, 0, len(hypotheses))
    # Schema validation costs ~30 ms a workspace; one builder writes them all,
    # so validating the first catches structural mistakes at a fraction of the cost.
    validate_workspace(hypotheses[0].spec)
    files: dict[str, Path] = {}
    if write_workspaces:
        ws_dir = out / "workspaces"
        ws_dir.mkdir(parents=True, exist_ok=True)
        for h in hypotheses:
            (ws_dir / f"{h.name}.json").write_text(json.dumps(h.spec, indent=1))
        files["workspaces"] = ws_dir
    settings = ScanSettings(model.cl, model.calculator, model.exact_below, model.ntoys)
    points = run_scan(
        hypotheses,
        settings,
        client=client,
        executor=executor,
        n_workers=n_workers,
        progress=functools.partial(progress, label) if progress is not None else None,
    )
    converted = [_convert(model, p, lumi) for p in points]
    glob = global_significance(
        [p.mass for p in points],
        [p.z_local for p in points],
        [model.resolution(p.mass) for p in points],
        ctaus=[p.ctau for p in points],
        k=2.0,
    )
    table = signal_table(model, histograms, lumi, projection)
    result = LimitResult(model, points, converted, glob, lumi, files, table, projection)
    files["json"] = write_json(out / "limits.json", result.to_dict())
    files["csv"] = write_csv(out / "limits.csv", converted, blinded=model.blinded)
    if plots:
        from belleflow.plotting import plot_limit_outputs  # noqa: PLC0415 - matplotlib on demand

        files.update(plot_limit_outputs(result.to_dict(), out))
    return result


def scan_label(model: StatModel, projection: float | None = None) -> str:
    """What a progress bar calls a model's scan: channel, model, projection.

    Examples:
        >>> from belleflow.limits.model import Resolution
        >>> m = StatModel(channel="four_muon", observable="m", mass_range=(1.0, 2.0),
        ...               resolution=Resolution(polynomial=[0.05]), signal_model="zprime")
        >>> scan_label(m), scan_label(m, 2.0)
        ('four_muon zprime', 'four_muon zprime (projection x2)')
    """
    label = f"{model.channel} {model.signal_model}"
    return label if projection is None else f"{label} (projection x{projection:.3g})"


def _load_uhi_json(path: Path) -> dict[str, Any]:
    """Fallback reader: a JSON object of name -> UHI histogram dictionaries."""
    import uhi.io.json  # noqa: PLC0415
    from hist import Hist  # noqa: PLC0415
    from hist.serialization import from_uhi  # noqa: PLC0415

    raw = json.loads(path.read_text(), object_hook=uhi.io.json.object_hook)
    return {name: Hist(from_uhi(obj)) for name, obj in raw.items()}


def load_run_histograms(run_dir: str | Path, source: str) -> dict[str, Any]:
    """Histograms of ``run_dir/source/histograms.json`` (engine's loader when available)."""
    path = Path(run_dir) / source / "histograms.json"
    if not path.exists():
        msg = f"no histograms for {source!r} in {run_dir} (expected {path})"
        raise FileNotFoundError(msg)
    try:
        from belleflow.engine import load_histograms  # noqa: PLC0415 - heavy, on demand
    except ImportError:
        return _load_uhi_json(path)
    return dict(load_histograms(path))


def _luminosity_from_report(path: Path) -> float | None:
    """Data luminosity from a run report: top-level, or summed over data samples."""
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    for key in ("luminosity_fb", "luminosity"):
        if isinstance(report.get(key), int | float):
            return float(report[key])
    samples = report.get("samples", {})
    items = samples.values() if isinstance(samples, Mapping) else samples
    total = 0.0
    for sample in items:
        if isinstance(sample, Mapping) and sample.get("kind", sample.get("process")) == "data":
            value = sample.get("luminosity_fb", sample.get("luminosity"))
            if isinstance(value, int | float):
                total += float(value)
    return total or None


def _simulation_weight_from_report(path: Path) -> float | None:
    """The largest per-event weight of the run's background simulation samples."""
    if not path.exists():
        return None
    samples = json.loads(path.read_text()).get("samples", {})
    items = samples.values() if isinstance(samples, Mapping) else samples
    weights = [
        float(s["weight"])
        for s in items
        if isinstance(s, Mapping)
        and s.get("kind") == "simulation"
        and isinstance(s.get("weight"), int | float)
        and s["weight"] > 0
    ]
    return max(weights, default=None)


def with_run_floor(model: StatModel, run_dir: str | Path) -> StatModel:
    """``model`` with the floor weight of the run's simulation, unless it declares one.

    The largest per-event weight of the background simulation samples, from
    ``run_dir/<channel>/report.json``: where no simulated background event
    passes anywhere, it is what the simulation could have missed.
    """
    floor = _simulation_weight_from_report(Path(run_dir) / model.channel / "report.json")
    if model.background.floor_weight is not None or floor is None:
        return model
    background = model.background.model_copy(update={"floor_weight": floor})
    return model.model_copy(update={"background": background})


def _run_was_blinded(path: Path) -> bool:
    """Whether ``belleflow run`` kept data out of the signal windows (not ``--unblind``)."""
    if not path.exists():
        return False
    configuration = json.loads(path.read_text()).get("configuration", {})
    return not bool(configuration.get("unblind", False))


def compute_limits_from_run(
    channel_or_model: Any,
    run_dir: str | Path,
    *,
    target_luminosity_fb: float | None = None,
    **kwargs: Any,
) -> LimitResult:
    """:func:`compute_limits` on the output of ``belleflow run`` in ``run_dir``.

    Reads ``run_dir/<source>/histograms.json`` of each sub-channel and the
    data luminosity from ``run_dir/<channel>/report.json``; writes into
    ``run_dir/<channel>/``. With ``target_luminosity_fb`` the expected limits
    are projected to that luminosity (``projection`` = target / run
    luminosity) and written into ``projection_<L>fb/`` below the output folder.

    Raises:
        ValueError: A projection was asked for but the run's luminosity is unknown.
    """
    model = resolve_model(channel_or_model)
    run = Path(run_dir)
    report = run / model.channel / "report.json"
    if not model.blinded and _run_was_blinded(report):
        # Data in the signal windows was never filled: fitting the empty bins
        # would pass off a blinded run as an observation. Use Asimov data.
        log.info("%s: the run is blinded; limits use Asimov data", model.channel)
        model = model.model_copy(update={"blinded": True})
    histograms: dict[str, Any] = {}
    for sub in model.subchannels_or_default():
        source = sub.source or sub.name
        if source not in histograms:
            histograms[source] = load_run_histograms(run, source)
    model = with_run_floor(model, run)
    kwargs.setdefault("luminosity_fb", _luminosity_from_report(report))
    kwargs.setdefault("out_dir", run / model.channel)
    if target_luminosity_fb is not None:
        lumi = model.luminosity_fb or kwargs["luminosity_fb"]
        if not lumi:
            msg = f"{model.channel}: the run's luminosity is unknown, nothing to project from"
            raise ValueError(msg)
        kwargs["projection"] = target_luminosity_fb / lumi
        kwargs["out_dir"] = Path(kwargs["out_dir"]) / f"projection_{target_luminosity_fb:g}fb"
    return compute_limits(model, histograms, **kwargs)


def compute_channel_limits(
    channel: str,
    run_dir: str | Path,
    *,
    models: Mapping[str, StatModel] | None = None,
    **kwargs: Any,
) -> list[LimitResult]:
    """Limits of every statistical model of a channel, from a ``belleflow run`` output.

    One model writes into ``run_dir/<channel>/``; several each into
    ``run_dir/<channel>/<model name>/``.

    Args:
        channel: Channel name (its folder in ``run_dir``).
        run_dir: Output folder of ``belleflow run``.
        models: The models by name (default: those the registered channel declares).
        **kwargs: Passed to :func:`compute_limits`.
    """
    run = Path(run_dir)
    chosen = dict(models) if models is not None else resolve_models(channel)
    progress: Counter | None = kwargs.pop("progress", None)
    results = []
    for name, model in chosen.items():
        out_dir = run / channel if len(chosen) == 1 else run / channel / name
        # Two models may scan one signal model (tautau_phil's prompt and displaced):
        # the bar names each by its folder.
        relabel = (
            None if progress is None else functools.partial(_relabel, progress, f"{channel} {name}")
        )
        results.append(
            compute_limits_from_run(model, run, out_dir=out_dir, progress=relabel, **kwargs)
        )
    return results


def _relabel(progress: Counter, label: str, _label: str, done: int, total: int) -> None:
    progress(label, done, total)
