"""Train a channel's candidate classifier and store it as ONNX with a JSON record.

The channel declares its classifier (``Channel.classifier``, a
:class:`belleflow.spec.ClassifierStep`: features, :class:`TrainingSpec`, MC
truth, the shipped model's path). :func:`train_channel`:

1. takes the signal models and masses of the channel from the catalogue
   (``signals`` entries with ``channel: <name>``, optionally a subset of the
   masses) and the background processes from its skim (optionally a subset),
   with the machine and energy of the data the signal stands for;
2. generates fresh samples of each with :mod:`belleflow.training.samples`
   (independent of the catalogue's files, so the analysis never evaluates
   the classifier on its own training events) and runs the channel's
   selection without its classifier on them (the selected candidates and
   their features);
3. weights background candidates by cross section / generated events and
   signal candidates (truth-matched only) equally per grid point, the two
   classes to equal total weight;
4. trains an XGBoost gradient-boosting classifier and a scikit-learn
   multilayer perceptron on 70 % and keeps the one with the larger weighted
   ROC AUC on the held-out 30 %, converted to ONNX (onnxmltools, skl2onnx);
5. sets the threshold at the working point's signal efficiency (held-out
   signal, scored by the ONNX model) and writes ``<channel>-v<N>.onnx`` and
   its record ``<channel>-v<N>.json`` (:mod:`belleflow.training.evaluate`).

XGBoost, scikit-learn and the converters are needed only here (the ``train``
dependency group); running a channel needs only onnxruntime.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from belleflow.training.evaluate import (
    FORMAT,
    FORMAT_VERSION,
    clear_cache,
    load_model,
    onnx_scores,
    onnx_session,
)
from belleflow.training.samples import make_sample, open_sample

__all__ = [
    "DEFAULT_OUT",
    "FIT_STEPS",
    "GRADIENT_BOOSTING",
    "Steps",
    "TrainedModel",
    "TrainingData",
    "TrainingSpec",
    "collect",
    "fit_gradient_boosting",
    "fit_mlp",
    "to_onnx",
    "train_channel",
    "train_classifier",
    "write_classifier",
]

FloatArray = npt.NDArray[np.float64]
#: Where ``belleflow train`` writes without ``--out`` or ``--install``.
DEFAULT_OUT = "belleflow-output/models"
#: ``progress(line, done, total)``: a step starts (``line``), ``done`` of ``total`` steps are done.
Steps = Callable[[str, int, int], None]
#: Steps of :func:`train_classifier`: two fits and the ONNX export.
FIT_STEPS = 3


@dataclass(frozen=True)
class TrainingSpec:
    """What a channel trains on and where it works.

    Attributes:
        version: Model version ``N`` of ``<channel>-v<N>.json``.
        signal_masses: Subset of the catalogue's signal masses (None: all).
        backgrounds: Subset of the skim's processes (None: all of them).
        signal_events: Generated events per signal grid point.
        background_events: Generated events per background process.
        signal_efficiency: Working point: fraction of held-out signal
            candidates above the threshold.
        seed: Seed of the training samples (different from the production's).
        test_fraction: Held-out fraction for the model comparison and working point.
    """

    version: int = 1
    signal_masses: Sequence[float] | None = None
    backgrounds: Sequence[str] | None = None
    signal_events: int = 2000
    background_events: int = 20000
    signal_efficiency: float = 0.8
    seed: int = 20240521
    test_fraction: float = 0.3


@dataclass
class TrainingData:
    """Candidates of all training samples."""

    x: FloatArray
    label: npt.NDArray[np.bool_]
    weight: FloatArray
    mass: FloatArray
    source: list[str]
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Declaration:
    """What training needs from a channel: its spec, features and where the model goes."""

    spec: TrainingSpec
    features: tuple[str, ...]
    candidates: Callable[[Any], tuple[Any, Any, Any]]
    models: Path


def _declaration(name: str) -> _Declaration:
    # Imported on demand: channels import this module (TrainingSpec).
    from belleflow.channels import load_channel  # noqa: PLC0415
    from belleflow.processor import DeclaredProcessor  # noqa: PLC0415

    channel = load_channel(name)
    step = getattr(channel, "classifier", None)
    if step is None:
        msg = f"channel {name!r} declares no classifier"
        raise ValueError(msg)
    processor = DeclaredProcessor(channel, classify=False)
    return _Declaration(
        step.training, tuple(step.features), processor.training_candidates, step.model.parent
    )


def collect(
    name: str,
    catalogue: Any,
    spec: TrainingSpec,
    feature_function: Callable[[Any], tuple[Any, Any, Any]],
    workdir: Path,
    *,
    scale: float = 1.0,
    progress: Steps | None = None,
) -> TrainingData:
    """Generate the training samples of channel ``name`` and compute their candidates.

    Args:
        name: Channel name (selects the catalogue's signal entries and skim).
        catalogue: The loaded catalogue.
        spec: The channel's training declaration.
        feature_function: ``events -> (X, mass, truth)``.
        workdir: Folder for the temporary ntuples.
        scale: Multiplies the event counts (for quick tests).
        progress: Told ``(line, samples done, samples)`` as each sample starts (:data:`Steps`).
    """
    from belleflow.processes import get_process  # noqa: PLC0415

    signals = [s for s in catalogue.signals if s.channel == name]
    if not signals:
        msg = f"the catalogue has no signal entries for channel {name!r}"
        raise ValueError(msg)
    data = {d.name: d for d in catalogue.data}
    reference = data[signals[0].stands_for[0]]
    skims = [k for k in catalogue.skims if name in k.channels]
    processes = list(spec.backgrounds or (skims[0].processes if skims else []))
    xs: list[Any] = []
    labels: list[Any] = []
    weights: list[Any] = []
    masses: list[Any] = []
    sources: list[str] = []
    records: list[dict[str, Any]] = []
    rng_seed = spec.seed

    def add(path: Path, label: str, is_signal: bool, norm: float) -> None:
        if progress is not None:
            progress(f"sample {len(records) + 1}/{n_samples}: {label}", len(records), n_samples)
        events = open_sample(path, machine=reference.machine, experiment=reference.experiment)
        x, m, truth = feature_function(events)
        keep = np.asarray(truth, dtype=bool) if is_signal else np.ones(len(m), dtype=bool)
        xs.append(np.asarray(x, dtype=np.float64)[keep])
        masses.append(np.asarray(m, dtype=np.float64)[keep])
        n = int(keep.sum())
        labels.append(np.full(n, is_signal))
        weights.append(np.full(n, norm))
        sources.extend([label] * n)
        records.append({"sample": label, "events": len(events), "candidates": n})

    grids = {
        id(entry): [
            m for m in entry.masses if spec.signal_masses is None or m in spec.signal_masses
        ]
        for entry in signals
    }
    n_samples = sum(len(g) for g in grids.values()) + len(processes)
    n_sig = max(int(spec.signal_events * scale), 10)
    n_bkg = max(int(spec.background_events * scale), 10)
    for entry in signals:
        for m in grids[id(entry)]:
            rng_seed += 1
            label = f"{entry.model}_m{m:g}"
            path = make_sample(
                workdir / f"{label}.root",
                entry.model,
                n_sig,
                machine=reference.machine,
                ecms=reference.ecms,
                parameters={**entry.parameters, "mass": m, "ctau": 0.0},
                seed=rng_seed,
            )
            add(path, label, True, 1.0)
    for process in processes:
        rng_seed += 1
        path = make_sample(
            workdir / f"{process}.root",
            process,
            n_bkg,
            machine=reference.machine,
            ecms=reference.ecms,
            seed=rng_seed,
        )
        add(path, process, False, get_process(process).cross_section_at(reference.ecms) / n_bkg)
    x = np.concatenate(xs) if xs else np.zeros((0, 0))
    label_all = np.concatenate(labels)
    weight = np.concatenate(weights)
    # Signal points count equally; the two classes get equal total weight.
    for source in {s for s, lab in zip(sources, label_all, strict=True) if lab}:
        pick = np.asarray([s == source for s in sources])
        weight[pick] = 1.0 / pick.sum()
    for cls in (True, False):
        pick = label_all == cls
        total = weight[pick].sum()
        if total <= 0:
            kind = "signal" if cls else "background"
            msg = f"no {kind} candidates survive the preselection of {name!r}"
            raise ValueError(msg)
        weight[pick] *= pick.sum() / total
    return TrainingData(x, label_all, weight, np.concatenate(masses), sources, records)


#: The gradient-boosting configuration (XGBoost): up to 400 trees of at most 31
#: leaves grown best-first, stopped when 20 trees in a row do not lower the
#: loss on a 10 % validation split of the training candidates. The
#: ``min_child_weight`` keeps leaves from fitting a handful of heavily
#: weighted background candidates (it gave the best held-out AUC of 1, 5 and
#: 20 on ``mumu_tautau``).
GRADIENT_BOOSTING: dict[str, Any] = {
    "n_estimators": 400,
    "learning_rate": 0.1,
    "max_leaves": 31,
    "max_depth": 0,
    "grow_policy": "lossguide",
    "tree_method": "hist",
    "min_child_weight": 5.0,
    "early_stopping_rounds": 20,
    "random_state": 0,
}
#: OpenMP threads for the fits: more only oversubscribe a shared machine.
_THREADS = min(4, os.cpu_count() or 1)
#: ONNX opset of the tree ensemble (the highest onnxmltools' XGBoost converter supports).
_TREE_OPSET = 15


def fit_gradient_boosting(x: FloatArray, y: npt.NDArray[np.bool_], w: FloatArray) -> Any:
    """An ``xgboost.XGBClassifier`` fitted with :data:`GRADIENT_BOOSTING` (early stopping)."""
    import xgboost as xgb  # noqa: PLC0415 - training only
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    fit, valid = train_test_split(np.arange(len(y)), test_size=0.1, random_state=0, stratify=y)
    model = xgb.XGBClassifier(**GRADIENT_BOOSTING, n_jobs=_THREADS)
    model.fit(
        x[fit],
        y[fit],
        sample_weight=w[fit],
        eval_set=[(x[valid], y[valid])],
        sample_weight_eval_set=[w[valid]],
        verbose=False,
    )
    return model


def fit_mlp(x: FloatArray, y: npt.NDArray[np.bool_], w: FloatArray) -> Any:
    """A ``StandardScaler`` + 2 x 32 ReLU ``MLPClassifier`` pipeline (early stopping)."""
    from sklearn.neural_network import MLPClassifier  # noqa: PLC0415 - training only
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(32, 32), max_iter=300, early_stopping=True, random_state=0
        ),
    )
    with threadpool_limits(limits=_THREADS):
        model.fit(x, y, mlpclassifier__sample_weight=w)
    return model


def to_onnx(model: Any, n_features: int) -> bytes:
    """The ONNX bytes of a fitted XGBoost classifier or scikit-learn MLP pipeline.

    One input tensor (float32 for trees, which XGBoost evaluates in float32
    too; float64 for the MLP) and the output ``probabilities`` (n x 2).
    """
    if type(model).__name__ == "XGBClassifier":
        from onnxmltools import convert_xgboost  # noqa: PLC0415 - training only
        from onnxmltools.convert.common.data_types import FloatTensorType  # noqa: PLC0415

        onx = convert_xgboost(
            model,
            initial_types=[("x", FloatTensorType([None, n_features]))],
            target_opset=_TREE_OPSET,
        )
    else:
        from skl2onnx import to_onnx as sklearn_to_onnx  # noqa: PLC0415

        onx = sklearn_to_onnx(model, np.zeros((1, n_features)), options={"zipmap": False})
    return bytes(onx.SerializeToString())


def _weighted_efficiency(score: FloatArray, weight: FloatArray, cut: float) -> float:
    total = weight.sum()
    return float(weight[score >= cut].sum() / total) if total > 0 else 0.0


@dataclass(frozen=True)
class TrainedModel:
    """The kept classifier of a training and its figures on the held-out candidates.

    Attributes:
        onnx: The model's ONNX bytes.
        kind: ``gradient_boosting`` or ``mlp``.
        roc_auc: Weighted held-out ROC AUC of both kinds (the kept one scored by
            its ONNX model, i.e. as the processor scores it).
        threshold: Score cut at the working point.
        signal_efficiency: Weighted held-out signal efficiency at ``threshold``.
        background_rejection: Weighted held-out background rejection there.
        train_candidates: Candidates fitted on.
        test_candidates: Held-out candidates.
        trees: Trees of the gradient boosting after early stopping.
    """

    onnx: bytes
    kind: str
    roc_auc: dict[str, float]
    threshold: float
    signal_efficiency: float
    background_rejection: float
    train_candidates: int
    test_candidates: int
    trees: int


def train_classifier(
    data: TrainingData, spec: TrainingSpec, progress: Steps | None = None
) -> TrainedModel:
    """Fit gradient boosting and an MLP, keep the better by held-out ROC AUC.

    The working point is set on the held-out signal scored by the kept model's
    ONNX export (what the processor applies), not by the training library.
    """
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415 - training only
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    say = progress or (lambda _line, _done, _total: None)
    train, test = train_test_split(
        np.arange(len(data.label)),
        test_size=spec.test_fraction,
        random_state=spec.seed % 2**31,
        stratify=data.label,
    )
    x_tr, y_tr, w_tr = data.x[train], data.label[train], data.weight[train]
    x_te, y_te, w_te = data.x[test], data.label[test], data.weight[test]
    models: dict[str, Any] = {}
    aucs: dict[str, float] = {}
    for kind, fit in (("gradient_boosting", fit_gradient_boosting), ("mlp", fit_mlp)):
        say(f"fitting {kind} on {len(train)} candidates", len(models), FIT_STEPS)
        models[kind] = fit(x_tr, y_tr, w_tr)
        score = models[kind].predict_proba(x_te)[:, 1]
        aucs[kind] = float(roc_auc_score(y_te, score, sample_weight=w_te))
    kind = max(aucs, key=lambda k: aucs[k])
    say(f"kept {kind}; exporting to ONNX", len(models), FIT_STEPS)
    onnx = to_onnx(models[kind], data.x.shape[1])
    say(f"exported {kind}", FIT_STEPS, FIT_STEPS)
    score = onnx_scores(onnx_session(onnx), x_te)
    aucs[kind] = float(roc_auc_score(y_te, score, sample_weight=w_te))
    threshold = float(np.quantile(score[y_te], 1.0 - spec.signal_efficiency))
    return TrainedModel(
        onnx=onnx,
        kind=kind,
        roc_auc=aucs,
        threshold=threshold,
        signal_efficiency=_weighted_efficiency(score[y_te], w_te[y_te], threshold),
        background_rejection=1.0 - _weighted_efficiency(score[~y_te], w_te[~y_te], threshold),
        train_candidates=len(train),
        test_candidates=len(test),
        trees=int(models["gradient_boosting"].best_iteration) + 1,
    )


def _library_versions() -> dict[str, str]:
    names = ("belleflow", "xgboost", "sklearn", "onnx", "onnxmltools", "skl2onnx", "onnxruntime")
    return {name: str(importlib.import_module(name).__version__) for name in names}


def write_classifier(
    target: Path,
    model: TrainedModel,
    *,
    channel: str,
    spec: TrainingSpec,
    features: Sequence[str],
    training: dict[str, Any],
) -> Path:
    """Write ``<target>.onnx`` and its record ``<target>.json``; return the record's path.

    Args:
        target: The record's path (``.../<channel>-v<N>.json``).
        model: The trained model and its figures.
        channel: Channel name.
        spec: The channel's training declaration (version, working point).
        features: Input names, in column order.
        training: Provenance (samples, catalogue, scale, ...) merged into ``training``.
    """
    model_path = target.with_suffix(".onnx")
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "channel": channel,
        "version": spec.version,
        "features": list(features),
        "threshold": model.threshold,
        "working_point": {
            "signal_efficiency_target": spec.signal_efficiency,
            "signal_efficiency": model.signal_efficiency,
            "background_rejection": model.background_rejection,
        },
        "roc_auc": model.roc_auc[model.kind],
        "model": {
            "file": model_path.name,
            "format": "onnx",
            "sha256": hashlib.sha256(model.onnx).hexdigest(),
            "bytes": len(model.onnx),
            "kind": model.kind,
        },
        "training": {
            **training,
            "seed": spec.seed,
            "test_fraction": spec.test_fraction,
            "roc_auc": model.roc_auc,
            "chosen": model.kind,
            "gradient_boosting": {**GRADIENT_BOOSTING, "trees": model.trees},
            "train_candidates": model.train_candidates,
            "test_candidates": model.test_candidates,
            "libraries": _library_versions(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(model.onnx)
    target.write_text(json.dumps(document, indent=1) + "\n")
    return target


def train_channel(
    name: str,
    *,
    catalogue: str | Path | None = None,
    out: str | Path | None = None,
    install: bool = False,
    scale: float = 1.0,
    workdir: str | Path | None = None,
    progress: Steps | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train channel ``name``'s classifier and write its model and record.

    Args:
        name: Registered channel name.
        catalogue: Catalogue YAML (default the full ``datasets/belleflow.yaml``
            next to the package, else the demo's default location).
        out: Output record file (``.json``) or folder (default
            ``belleflow-output/models/``, as ``belleflow run`` writes to
            ``belleflow-output``).
        install: Write into the channel's ``models/`` folder instead, replacing
            the shipped classifier (not together with ``out``).
        scale: Multiplies the training event counts (quick tests).
        workdir: Folder for the temporary ntuples (default a temporary folder).
        progress: Told ``(line, steps done, steps)`` at each step: one per sample
            generated, then the two fits and the ONNX export (:data:`Steps`).

    Returns:
        The record's path and the record.
    """
    from belleflow.catalogue import load_catalogue  # noqa: PLC0415
    from belleflow.catalogue.loader import default_catalogue_path  # noqa: PLC0415

    if install and out is not None:
        msg = "give either --out or --install, not both"
        raise ValueError(msg)
    declaration = _declaration(name)
    spec = declaration.spec
    file_name = f"{name}-v{spec.version}.json"
    if install:
        target = declaration.models / file_name
    else:
        target = Path(out) if out is not None else Path(DEFAULT_OUT)
        if target.suffix != ".json":
            target = target / file_name
    cat_path = (
        Path(catalogue) if catalogue is not None else default_catalogue_path("belleflow.yaml")
    )
    cat = load_catalogue(cat_path)
    say = progress or (lambda _line, _done, _total: None)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        data = collect(
            name,
            cat,
            spec,
            declaration.candidates,
            Path(tmp),
            scale=scale,
            progress=lambda line, done, total: say(line, done, total + FIT_STEPS),
        )
    n = len(data.samples)
    model = train_classifier(data, spec, lambda line, done, total: say(line, n + done, n + total))
    training = {"catalogue": cat.name, "samples": data.samples, "scale": scale}
    write_classifier(
        target, model, channel=name, spec=spec, features=declaration.features, training=training
    )
    clear_cache()  # a model installed in this process is read again
    return target, load_model(target).document
