"""Portable classifiers: a JSON document and a NumPy evaluator (no scikit-learn needed).

A trained classifier is stored as one JSON file (never a pickle) with:

* ``format``: ``"belleflow-classifier"`` and ``format_version``;
* ``channel``, ``version`` (the ``<channel>-v<N>.json`` number), ``features``
  (input names, in order), ``threshold`` (score cut of the working point)
  and ``working_point`` (how it was chosen, with its signal efficiency and
  background rejection);
* ``kind``: ``"gradient_boosting"`` (a tree ensemble: ``baseline`` and
  ``trees``, each tree a list of nodes ``[feature, threshold,
  missing_left, left, right, is_leaf, value]``; a sample goes left when
  ``x[feature] <= threshold`` or, for NaN, when ``missing_left``) or
  ``"mlp"`` (``scaler`` mean and scale, ``layers`` of ``weights`` and
  ``biases``, hidden ``activation``); the score is the logistic function
  of the raw output in both cases;
* ``training``: metadata (samples, sizes, ROC AUC of the candidates, the
  selection between models, belleflow version, date) and ``sha256``, the
  hash of the document without that key, checked on loading.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Classifier",
    "document_hash",
    "load_model",
    "shipped_classifier",
]

FORMAT = "belleflow-classifier"
FORMAT_VERSION = 1
FloatArray = npt.NDArray[np.float64]


def document_hash(document: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``document`` without its ``sha256`` key."""
    body = {k: v for k, v in document.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


_ACTIVATIONS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "logistic": _sigmoid,
    "identity": lambda x: x,
}


@dataclass(frozen=True)
class Classifier:
    """A loaded classifier: ``predict(x)`` gives scores in [0, 1].

    Attributes:
        document: The JSON document (see the module docstring).
        features: Input names, in the column order ``predict`` expects.
        threshold: Score cut of the working point (candidates with
            ``score >= threshold`` pass).
    """

    document: dict[str, Any]
    features: tuple[str, ...] = field(init=False)
    threshold: float = field(init=False)

    def __post_init__(self) -> None:
        doc = self.document
        if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
            msg = f"not a {FORMAT} v{FORMAT_VERSION} document"
            raise ValueError(msg)
        if doc.get("kind") not in ("gradient_boosting", "mlp"):
            msg = f"unknown classifier kind {doc.get('kind')!r}"
            raise ValueError(msg)
        object.__setattr__(self, "features", tuple(doc["features"]))
        object.__setattr__(self, "threshold", float(doc["threshold"]))

    def raw(self, x: npt.ArrayLike) -> FloatArray:
        """The raw output (log-odds) for inputs ``x`` (samples x features)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            msg = f"expected inputs of shape (n, {len(self.features)}), got {x.shape}"
            raise ValueError(msg)
        if self.document["kind"] == "mlp":
            return self._raw_mlp(x)
        return self._raw_trees(x)

    def predict(self, x: npt.ArrayLike) -> FloatArray:
        """Signal scores in [0, 1]."""
        return _sigmoid(self.raw(x))

    def _raw_mlp(self, x: FloatArray) -> FloatArray:
        scaler = self.document["scaler"]
        a = (x - np.asarray(scaler["mean"])) / np.asarray(scaler["scale"])
        layers = self.document["layers"]
        act = _ACTIVATIONS[self.document["activation"]]
        for i, layer in enumerate(layers):
            a = a @ np.asarray(layer["weights"]) + np.asarray(layer["biases"])
            if i < len(layers) - 1:
                a = act(a)
        return np.asarray(a[:, 0], dtype=np.float64)

    def _raw_trees(self, x: FloatArray) -> FloatArray:
        out = np.full(len(x), float(self.document["baseline"]))
        rows = np.arange(len(x))
        for tree in self.document["trees"]:
            nodes = np.asarray(tree, dtype=np.float64)
            feature = nodes[:, 0].astype(np.int64)
            node = np.zeros(len(x), dtype=np.int64)
            # Descend all samples level by level; a tree is shallow.
            while True:
                leaf = nodes[node, 5] > 0
                if leaf.all():
                    break
                value = x[rows, feature[node]]
                go_left = np.where(np.isnan(value), nodes[node, 2] > 0, value <= nodes[node, 1])
                child = np.where(go_left, nodes[node, 3], nodes[node, 4]).astype(np.int64)
                node = np.where(leaf, node, child)
            out += nodes[node, 6]
        return out


def load_model(path: str | os.PathLike[str]) -> Classifier:
    """Load and verify a classifier JSON document.

    Raises:
        ValueError: Wrong format or a hash mismatch (the file was edited).
    """
    document = json.loads(Path(path).read_text())
    expected = document.get("sha256")
    if expected != document_hash(document):
        msg = f"{path}: sha256 mismatch, the classifier document was modified"
        raise ValueError(msg)
    return Classifier(document)


def shipped_classifier(path: str | os.PathLike[str], channel: str) -> Classifier:
    """A channel's classifier, loaded once per process (again if the file changes).

    Args:
        path: The model shipped with the channel (``models/<channel>-v<N>.json``).
        channel: Channel name, for the message.

    Raises:
        FileNotFoundError: The model is missing: a selection without its
            classifier cut must not pass for the analysis.
    """
    path = Path(path)
    if not path.exists():
        msg = f"{channel} classifier {path} is missing: run `belleflow train {channel}`"
        raise FileNotFoundError(msg)
    return _cached(path, path.stat().st_mtime_ns)


@functools.cache
def _cached(path: Path, mtime: int) -> Classifier:
    del mtime  # part of the cache key: a retrained model is reloaded
    return load_model(path)
