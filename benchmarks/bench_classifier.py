"""Choose the classifier format by measurement: speed per candidate and model size.

For each channel with a classifier, the candidates of the demo production
(the first file of every simulation sample of the channel's skim, and the
truth-matched candidates of up to ``--signal-points`` of its signal points)
are the inputs. Chunks of 1,000 and 100,000 candidates are drawn from them (with
replacement). Every evaluator runs on one thread, as a Dask worker does.

Evaluators:

* ``shipped (onnxruntime)``: the channel's shipped model through
  :func:`belleflow.training.evaluate.shipped_classifier`, wrapper included;
* for a gradient-boosting channel, a model of the same configuration and
  number of trees (the trainer's :func:`~belleflow.training.trainer.fit_gradient_boosting`
  without early stopping, fitted on these candidates) in each candidate format:
  XGBoost native JSON (``Booster.inplace_predict``), ONNX (onnxmltools,
  onnxruntime), treelite (its ``gtil`` interpreter) and treelite compiled to a
  shared library by tl2cgen (gcc);
* for an MLP channel, scikit-learn's own ``predict_proba`` of an MLP of the
  trainer's configuration.

Prints CPU nanoseconds per candidate (median of interleaved repeats) and file sizes.
Needs the ``train`` dependency group plus ``treelite`` and ``tl2cgen``.

Run: ``python benchmarks/bench_classifier.py [--channels four_muon ...]
[--data-root ~/.cache/belleflow/demo-data]``
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from belleflow.catalogue import load_catalogue
from belleflow.processor import DeclaredProcessor
from belleflow.training.evaluate import onnx_scores, onnx_session, shipped_classifier
from belleflow.training.samples import open_sample
from belleflow.training.trainer import GRADIENT_BOOSTING, fit_mlp, to_onnx

REPO = Path(__file__).resolve().parents[1]
CHANNELS = ("four_muon", "mumu_tautau", "tautau_phil")
CHUNKS = (1_000, 100_000)


def candidates(
    channel: str, module: Any, data_root: Path | None, signal_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, labels (truth-matched signal) and sample weights of the demo's candidates."""
    catalogue = load_catalogue(REPO / "datasets" / "demo.yaml", data_root=data_root)
    views = catalogue.skim(module.channel.skim)
    signals = [v for v in views if v.kind == "signal" and v.channel == channel][:signal_points]
    backgrounds = [v for v in views if v.kind == "simulation"]
    xs, labels, weights = [], [], []
    for view in backgrounds + signals:
        path = catalogue.resolve_files(view)[0]
        events = open_sample(path, machine=view.machine, experiment=view.experiment)
        x, _, truth = DeclaredProcessor(module.channel, classify=False).training_candidates(events)
        # Signal files: the truth-matched candidates, as the trainer takes them.
        keep = np.asarray(truth, dtype=bool) if view.kind == "signal" else slice(None)
        xs.append(np.asarray(x, dtype=np.float64)[keep])
        labels.append(np.full(len(xs[-1]), view.kind == "signal"))
        weights.append(np.full(len(xs[-1]), view.weight))
    return np.concatenate(xs), np.concatenate(labels), np.concatenate(weights)


def per_candidate(
    functions: dict[str, Callable[[np.ndarray], Any]], x: np.ndarray, rounds: int
) -> dict[str, float]:
    """Median CPU nanoseconds per candidate of each ``function(x)``.

    The evaluators take turns, round after round, and CPU time (not wall time)
    is measured: on a shared machine both keep other jobs' load out of the
    comparison.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function(x)  # warm-up
    for _ in range(rounds):
        for name, function in functions.items():
            tic = time.process_time()
            function(x)
            times[name].append(time.process_time() - tic)
    return {name: statistics.median(t) / len(x) * 1e9 for name, t in times.items()}


def tree_formats(
    x: np.ndarray, y: np.ndarray, trees: int, folder: Path
) -> dict[str, tuple[Callable[[np.ndarray], Any], Path]]:
    """The same XGBoost model in each candidate format: evaluator and file."""
    import tl2cgen  # noqa: PLC0415 - benchmark-only packages
    import treelite  # noqa: PLC0415
    import xgboost as xgb  # noqa: PLC0415

    config = {k: v for k, v in GRADIENT_BOOSTING.items() if k != "early_stopping_rounds"}
    model = xgb.XGBClassifier(**{**config, "n_estimators": trees}, n_jobs=1).fit(x, y)
    booster = model.get_booster()
    booster.set_param({"nthread": 1})
    native = folder / "model.json"
    booster.save_model(native)
    onnx_file = folder / "model.onnx"
    onnx_file.write_bytes(to_onnx(model, x.shape[1]))
    session = onnx_session(onnx_file.read_bytes())
    tl_model = treelite.frontend.load_xgboost_model(str(native))
    tl_file = folder / "model.treelite"
    tl_model.serialize(str(tl_file))
    library = folder / "model.so"
    tl2cgen.export_lib(tl_model, toolchain="gcc", libpath=str(library), nthread=1)
    predictor = tl2cgen.Predictor(str(library), nthread=1)
    return {
        "XGBoost JSON (inplace_predict)": (booster.inplace_predict, native),
        "ONNX (onnxruntime)": (lambda a: onnx_scores(session, a), onnx_file),
        "treelite (gtil)": (
            lambda a: treelite.gtil.predict(tl_model, a.astype(np.float32), nthread=1),
            tl_file,
        ),
        "treelite + tl2cgen (gcc -O2)": (
            lambda a: predictor.predict(tl2cgen.DMatrix(a.astype(np.float32))),
            library,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", nargs="+", default=list(CHANNELS))
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--signal-points", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'channel':12} {'evaluator':32} {'ns/cand 1k':>11} {'ns/cand 100k':>13} {'file':>10}")
    for channel in args.channels:
        module = importlib.import_module(f"belleflow_channels.{channel}")
        record = module.channel.classifier.model
        shipped = shipped_classifier(record, channel)
        x, y, _ = candidates(channel, module, args.data_root, args.signal_points)
        chunks = {n: x[rng.integers(0, len(x), n)] for n in CHUNKS}
        model_file = record.with_name(shipped.document["model"]["file"])
        rows: dict[str, tuple[Callable[[np.ndarray], Any], Path]] = {
            "shipped (onnxruntime)": (shipped.predict, model_file)
        }
        with tempfile.TemporaryDirectory() as tmp:
            if shipped.document["model"]["kind"] == "gradient_boosting":
                trees = shipped.document["training"]["gradient_boosting"]["trees"]
                rows |= tree_formats(x, y, trees, Path(tmp))
            else:
                mlp = fit_mlp(x, y, np.ones(len(y)))
                rows["scikit-learn MLP (predict_proba)"] = (mlp.predict_proba, model_file)
            print(
                f"{channel}: {len(x)} candidates ({int(y.sum())} signal), {shipped.document['model']['kind']}"
            )
            functions = {name: function for name, (function, _) in rows.items()}
            with threadpool_limits(limits=1):  # BLAS and OpenMP pools: one thread
                small = per_candidate(functions, chunks[CHUNKS[0]], 200)
                large = per_candidate(functions, chunks[CHUNKS[1]], 7)
            for name, (_, path) in rows.items():
                size = f"{path.stat().st_size / 1e3:9.0f}k" if "scikit" not in name else "-"
                print(f"{'':12} {name:32} {small[name]:11.0f} {large[name]:13.0f} {size:>10}")


if __name__ == "__main__":
    main()
