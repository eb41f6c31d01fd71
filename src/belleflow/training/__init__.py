"""Classifier training for the channels (``belleflow train CHANNEL``).

A channel that uses a classifier declares it in its
:class:`~belleflow.processor.Channel` (``classifier=``, a
:class:`~belleflow.spec.ClassifierStep`): the per-candidate feature columns
its selection returns, a :class:`~belleflow.training.trainer.TrainingSpec`
(signal models and masses, background processes, events, working point),
the MC-truth match of a candidate and the shipped model's path.

:func:`~belleflow.training.trainer.train_channel` makes fresh synthetic
samples (:mod:`belleflow.training.samples`), compares an XGBoost
gradient-boosting classifier with a scikit-learn multilayer perceptron by
ROC AUC on a held-out split, keeps the better, and writes it as ONNX with a
JSON record (:mod:`belleflow.training.evaluate`). The processor loads it
with :func:`~belleflow.training.evaluate.shipped_classifier` and evaluates
it with onnxruntime only.
"""

from __future__ import annotations

from belleflow.training.evaluate import Classifier, ClassifierError, load_model

__all__ = ["Classifier", "ClassifierError", "load_model"]
