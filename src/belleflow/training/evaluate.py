"""Shipped classifiers: an ONNX model and its JSON record, evaluated by onnxruntime.

A trained classifier is two files side by side (written by ``belleflow
train``, :mod:`belleflow.training.trainer`):

* ``<channel>-v<N>.onnx``: the model in the standard ONNX format (a tree
  ensemble converted from XGBoost, or a multilayer perceptron converted from
  scikit-learn); one input ``(n, n_features)``, output ``probabilities``
  ``(n, 2)``;
* ``<channel>-v<N>.json``: the record, which is the path channels name:
  ``format`` (``"belleflow-classifier"``), ``format_version``, ``channel``,
  ``version``, ``features`` (input names, in column order), ``threshold``
  (score cut of the working point), ``working_point``
  (``signal_efficiency_target``, ``signal_efficiency`` and
  ``background_rejection`` at ``threshold`` on the held-out candidates),
  ``roc_auc`` (held out), ``model`` (``file``, ``sha256`` of its bytes,
  ``bytes``, ``kind``) and ``training``
  (samples, sizes, seed, libraries, date).

Loading verifies the model's sha256 against the record. Only onnxruntime is
needed at run time; the training libraries are not.

Examples:
    >>> from pathlib import Path
    >>> import belleflow_channels
    >>> models = Path(belleflow_channels.__file__).parent / "models"
    >>> clf = shipped_classifier(models / "four_muon-v1.json", "four_muon")
    >>> clf.features[:2]
    ('cos_helicity', 'p_cand_high')
    >>> clf is shipped_classifier(models / "four_muon-v1.json", "four_muon")
    True
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Classifier",
    "ClassifierError",
    "clear_cache",
    "load_model",
    "onnx_scores",
    "onnx_session",
    "shipped_classifier",
]

FORMAT = "belleflow-classifier"
FORMAT_VERSION = 2
FloatArray = npt.NDArray[np.float64]
#: ONNX tensor element types the evaluator feeds, by their onnxruntime names.
_INPUT_DTYPES: dict[str, type[np.floating[Any]]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
}


class ClassifierError(ValueError):
    """A classifier record or model that cannot be used (corrupt, modified, wrong format)."""


def _retrain_hint(channel: str) -> str:
    return f"run `belleflow train {channel} --install`"


def onnx_session(model: bytes) -> Any:
    """An onnxruntime session on one thread: Dask runs one worker per core."""
    import onnxruntime as ort  # noqa: PLC0415 - heavy import, only where a model is used

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no optimiser chatter in the worker logs
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnx_scores(session: Any, x: npt.ArrayLike) -> FloatArray:
    """Signal probabilities of a binary classifier's ONNX session for inputs ``x``.

    The inputs are cast to the model's input type (float32 for tree
    ensembles, as XGBoost evaluates them; float64 for the MLP).
    """
    (tensor,) = session.get_inputs()
    feed = {tensor.name: np.ascontiguousarray(x, dtype=_INPUT_DTYPES[tensor.type])}
    (probabilities,) = session.run(["probabilities"], feed)
    return np.asarray(probabilities[:, 1], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Classifier:
    """A loaded classifier: ``predict(x)`` gives signal scores in [0, 1].

    Attributes:
        path: The record (``<channel>-v<N>.json``) it was loaded from.
        document: The record (see the module docstring).
        features: Input names, in the column order ``predict`` expects.
        threshold: Score cut of the working point (candidates with
            ``score >= threshold`` pass).
    """

    path: Path
    document: dict[str, Any]
    session: Any = field(repr=False)
    features: tuple[str, ...] = field(init=False)
    threshold: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.document["features"]))
        object.__setattr__(self, "threshold", float(self.document["threshold"]))
        inputs = self.session.get_inputs()
        outputs = [o.name for o in self.session.get_outputs()]
        if (
            len(inputs) != 1
            or inputs[0].type not in _INPUT_DTYPES
            or "probabilities" not in outputs
        ):
            msg = f"{self.path}: the model must map one float tensor to `probabilities`"
            raise ClassifierError(msg)

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        # An onnxruntime session does not pickle: a Dask worker loads the files again.
        return load_model, (self.path,)

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        """Signal scores in [0, 1] for inputs ``x`` (candidates x features)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            msg = f"{self.path}: expected inputs of shape (n, {len(self.features)}), got {x.shape}"
            raise ValueError(msg)
        return onnx_scores(self.session, x) if len(x) else np.zeros(0)


def load_model(path: str | os.PathLike[str], channel: str | None = None) -> Classifier:
    """Load a classifier record and its model, verifying the model's sha256.

    Args:
        path: The record, ``<channel>-v<N>.json``; the model file it names is
            looked up beside it.
        channel: Channel name for the messages (default from the file name).

    Raises:
        FileNotFoundError: The record or the model file is missing.
        ClassifierError: A record that is not JSON or not of this format, a
            model whose bytes do not match the recorded sha256, or a model
            onnxruntime cannot read.
    """
    path = Path(path)
    channel = channel or path.stem.rsplit("-v", 1)[0]
    if not path.is_file():
        msg = f"{channel} classifier {path} is missing: {_retrain_hint(channel)}"
        raise FileNotFoundError(msg)
    try:
        document = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path}: not a JSON classifier record ({err}): {_retrain_hint(channel)}"
        raise ClassifierError(msg) from err
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or document.get("format_version") != FORMAT_VERSION
        or not {"features", "threshold", "model"} <= document.keys()
    ):
        msg = f"{path}: not a {FORMAT} v{FORMAT_VERSION} record: {_retrain_hint(channel)}"
        raise ClassifierError(msg)
    model_path = path.with_name(document["model"]["file"])
    if not model_path.is_file():
        msg = f"{channel} classifier model {model_path} is missing: {_retrain_hint(channel)}"
        raise FileNotFoundError(msg)
    model = model_path.read_bytes()
    digest = hashlib.sha256(model).hexdigest()
    if digest != document["model"]["sha256"]:
        msg = (
            f"{model_path}: sha256 {digest[:12]}... does not match the record's "
            f"{str(document['model']['sha256'])[:12]}... in {path.name}: {_retrain_hint(channel)}"
        )
        raise ClassifierError(msg)
    try:
        session = onnx_session(model)
    except Exception as err:  # onnxruntime raises its own unexported exception types
        msg = f"{model_path}: onnxruntime cannot load it ({err}): {_retrain_hint(channel)}"
        raise ClassifierError(msg) from err
    return Classifier(path, document, session)


#: Classifiers loaded in this process, by the path they were asked for.
_CACHE: dict[str, Classifier] = {}


def shipped_classifier(path: str | os.PathLike[str], channel: str) -> Classifier:
    """A channel's classifier, loaded (and verified) once per process.

    Later calls with the same path are a dictionary lookup: no file system
    access per chunk. :func:`clear_cache` forgets the loaded models (``belleflow
    train --install`` calls it).

    Args:
        path: The record shipped with the channel (``models/<channel>-v<N>.json``).
        channel: Channel name, for the messages.

    Raises:
        FileNotFoundError: The model is missing: a selection without its
            classifier cut must not pass for the analysis.
        ClassifierError: The model is corrupt or was modified.
    """
    key = os.fspath(path)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _CACHE[key] = load_model(path, channel)
    return cached


def clear_cache() -> None:
    """Forget the classifiers :func:`shipped_classifier` loaded (a retrained model is read)."""
    _CACHE.clear()
