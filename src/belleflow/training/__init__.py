"""Classifier training for the channels (``belleflow train CHANNEL``).

A channel that uses a classifier declares it in its
:class:`~belleflow.processor.Channel` (``classifier=``, a
:class:`~belleflow.spec.ClassifierStep`): the per-candidate feature columns
its selection returns, a :class:`~belleflow.training.trainer.TrainingSpec`
(signal models and masses, background processes, events, working point),
the MC-truth match of a candidate and the shipped model's path.

:func:`~belleflow.training.trainer.train_channel` makes fresh synthetic
samples (:mod:`belleflow.training.samples`), compares a histogram
gradient-boosting classifier with a multilayer perceptron by ROC AUC on a
held-out split, keeps the better, and writes it as JSON
(:mod:`belleflow.training.evaluate`) to
``processors/belleflow_channels/models/<channel>-v<N>.json``. The
processor loads it with :func:`~belleflow.training.evaluate.load_model` and
evaluates it with NumPy only.
"""

from __future__ import annotations

from belleflow.training.evaluate import Classifier, load_model

__all__ = ["Classifier", "load_model"]
