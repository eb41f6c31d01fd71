"""Classifier training for the channels (``belleflow train CHANNEL``).

A channel that uses a classifier declares, in its module:

* ``features(events) -> (X, mass, truth)``: inputs per candidate of its
  preselected events (column order ``FEATURES``), the candidate mass and
  the truth match (signal candidates);
* ``FEATURES``: the input names;
* ``TRAINING``: a :class:`~belleflow.training.trainer.TrainingSpec` (signal
  models and masses, background processes, events, working point).

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
