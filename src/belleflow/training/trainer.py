"""Train a channel's candidate classifier and store it as portable JSON.

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
4. trains a histogram gradient-boosting classifier and a multilayer
   perceptron on 70 % and keeps the one with the larger weighted ROC AUC on
   the held-out 30 %;
5. sets the threshold at the working point's signal efficiency (held-out
   signal) and writes ``<models>/<channel>-v<N>.json``.
"""

from __future__ import annotations

import datetime as dt
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
    Classifier,
    document_hash,
)
from belleflow.training.samples import make_sample, open_sample

__all__ = [
    "TrainingData",
    "TrainingSpec",
    "collect",
    "export_gradient_boosting",
    "export_mlp",
    "train_channel",
    "train_classifier",
]

FloatArray = npt.NDArray[np.float64]


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
) -> TrainingData:
    """Generate the training samples of channel ``name`` and compute their candidates.

    Args:
        name: Channel name (selects the catalogue's signal entries and skim).
        catalogue: The loaded catalogue.
        spec: The channel's training declaration.
        feature_function: ``events -> (X, mass, truth)``.
        workdir: Folder for the temporary ntuples.
        scale: Multiplies the event counts (for quick tests).
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

    n_sig = max(int(spec.signal_events * scale), 10)
    n_bkg = max(int(spec.background_events * scale), 10)
    for entry in signals:
        grid = [m for m in entry.masses if spec.signal_masses is None or m in spec.signal_masses]
        for m in grid:
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


def export_gradient_boosting(model: Any) -> dict[str, Any]:
    """The tree ensemble of a fitted binary ``HistGradientBoostingClassifier`` as JSON."""
    trees = []
    for iteration in model._predictors:  # no public accessor for the trees
        nodes = iteration[0].nodes
        trees.append(
            [
                [
                    int(node["feature_idx"]),
                    float(node["num_threshold"]),
                    int(node["missing_go_to_left"]),
                    int(node["left"]),
                    int(node["right"]),
                    int(node["is_leaf"]),
                    float(node["value"]),
                ]
                for node in nodes
            ]
        )
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return {"kind": "gradient_boosting", "baseline": baseline, "trees": trees}


def export_mlp(pipeline: Any) -> dict[str, Any]:
    """A fitted ``StandardScaler`` + binary ``MLPClassifier`` pipeline as JSON."""
    scaler, mlp = pipeline[0], pipeline[-1]
    return {
        "kind": "mlp",
        "scaler": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},
        "activation": mlp.activation,
        "layers": [
            {"weights": w.tolist(), "biases": b.tolist()}
            for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True)
        ],
    }


def _weighted_efficiency(score: FloatArray, weight: FloatArray, cut: float) -> float:
    total = weight.sum()
    return float(weight[score >= cut].sum() / total) if total > 0 else 0.0


#: OpenMP threads for the fits: more only oversubscribe a shared machine.
_THREADS = min(4, os.cpu_count() or 1)


def _fit(kind: str, estimator: Any, x: FloatArray, y: Any, w: FloatArray) -> None:
    if kind == "mlp":
        estimator.fit(x, y, mlpclassifier__sample_weight=w)
    else:
        estimator.fit(x, y, sample_weight=w)


def train_classifier(
    data: TrainingData, spec: TrainingSpec, features: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compare gradient boosting and an MLP, keep the better; working point and figures.

    Returns:
        ``(model_part, figures)``: the JSON fields of the kept model and the
        training figures (AUCs of both, efficiency, rejection, threshold).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415
    from sklearn.neural_network import MLPClassifier  # noqa: PLC0415
    from sklearn.pipeline import make_pipeline  # noqa: PLC0415
    from sklearn.preprocessing import StandardScaler  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

    index = np.arange(len(data.label))
    train, test = train_test_split(
        index, test_size=spec.test_fraction, random_state=spec.seed % 2**31, stratify=data.label
    )
    x_tr, y_tr, w_tr = data.x[train], data.label[train], data.weight[train]
    x_te, y_te, w_te = data.x[test], data.label[test], data.weight[test]
    candidates = {
        "gradient_boosting": HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.1, max_leaf_nodes=31, random_state=0
        ),
        "mlp": make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(32, 32),
                max_iter=300,
                early_stopping=True,
                random_state=0,
            ),
        ),
    }
    aucs: dict[str, float] = {}
    exported: dict[str, dict[str, Any]] = {}
    for kind, estimator in candidates.items():
        with threadpool_limits(limits=_THREADS):
            _fit(kind, estimator, x_tr, y_tr, w_tr)
        if kind == "mlp":
            exported[kind] = export_mlp(estimator)
        else:
            exported[kind] = export_gradient_boosting(estimator)
        score = estimator.predict_proba(x_te)[:, 1]
        aucs[kind] = float(roc_auc_score(y_te, score, sample_weight=w_te))
    best = max(aucs, key=lambda k: aucs[k])
    part = exported[best]
    # Score with the exported document itself: what the processor will apply.
    probe = Classifier(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "features": list(features),
            "threshold": 0.5,
            **part,
        }
    )
    score = probe.predict(x_te)
    sig = np.sort(score[y_te])
    threshold = float(np.quantile(sig, 1.0 - spec.signal_efficiency)) if len(sig) else 0.5
    figures = {
        "roc_auc": aucs,
        "chosen": best,
        "roc_auc_exported": float(roc_auc_score(y_te, score, sample_weight=w_te)),
        "threshold": threshold,
        "signal_efficiency": _weighted_efficiency(score[y_te], w_te[y_te], threshold),
        "background_rejection": 1.0 - _weighted_efficiency(score[~y_te], w_te[~y_te], threshold),
        "train_candidates": len(train),
        "test_candidates": len(test),
    }
    return part, figures


def train_channel(
    name: str,
    *,
    catalogue: str | Path | None = None,
    out: str | Path | None = None,
    scale: float = 1.0,
    workdir: str | Path | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train channel ``name``'s classifier and write its JSON document.

    Args:
        name: Registered channel name.
        catalogue: Catalogue YAML (default the full ``datasets/belleflow.yaml``
            next to the package, else the demo's default location).
        out: Output file or folder (default the channel's ``models/`` folder).
        scale: Multiplies the training event counts (quick tests).
        workdir: Folder for the temporary ntuples (default a temporary folder).

    Returns:
        The path written and the document.
    """
    from belleflow import __version__  # noqa: PLC0415
    from belleflow.catalogue import load_catalogue  # noqa: PLC0415
    from belleflow.catalogue.loader import default_catalogue_path  # noqa: PLC0415

    declaration = _declaration(name)
    spec = declaration.spec
    cat_path = (
        Path(catalogue) if catalogue is not None else default_catalogue_path("belleflow.yaml")
    )
    cat = load_catalogue(cat_path)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        data = collect(name, cat, spec, declaration.candidates, Path(tmp), scale=scale)
    part, figures = train_classifier(data, spec, declaration.features)
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "channel": name,
        "version": spec.version,
        "features": list(declaration.features),
        "threshold": figures["threshold"],
        "working_point": {
            "signal_efficiency_target": spec.signal_efficiency,
            "signal_efficiency": figures["signal_efficiency"],
            "background_rejection": figures["background_rejection"],
        },
        **part,
        "training": {
            "catalogue": cat.name,
            "samples": data.samples,
            "scale": scale,
            "seed": spec.seed,
            "roc_auc": figures["roc_auc"],
            "chosen": figures["chosen"],
            "roc_auc_exported": figures["roc_auc_exported"],
            "train_candidates": figures["train_candidates"],
            "test_candidates": figures["test_candidates"],
            "belleflow_version": __version__,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    }
    document["sha256"] = document_hash(document)
    if out is None:
        target = declaration.models / f"{name}-v{spec.version}.json"
    else:
        target = Path(out)
        if target.is_dir() or target.suffix != ".json":
            target = target / f"{name}-v{spec.version}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=1) + "\n")
    return target, document
