"""What the figures are drawn from: the output folder of ``belleflow run`` and ``limits``.

``DIR/CHANNEL/`` holds ``report.json`` (cutflow, accounting, configuration)
and ``histograms.json``; the limits of each statistical model are in
``DIR/CHANNEL/limits.json`` (one model) or ``DIR/CHANNEL/<model>/limits.json``
(several); ``belleflow validate`` writes ``DIR/CHANNEL/validation/``.
:class:`ChannelRun` gathers them and what the labels need: experiment,
luminosity, centre-of-mass energy and blinding.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from belleflow.limits.model import StatModel

__all__ = [
    "ChannelRun",
    "LimitSet",
    "find_channels",
    "load_channel_run",
    "read_json",
    "registered_channel",
]

log = logging.getLogger(__name__)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a one-line error naming the file otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise FileNotFoundError(msg) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        msg = f"{path}: not valid JSON ({err})"
        raise ValueError(msg) from None
    if not isinstance(data, dict):
        msg = f"{path}: expected a JSON object, found {type(data).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - a bad file, not a bad argument
    return data


def registered_channel(name: str) -> Any | None:
    """The registered channel of that name, or None (a run of an unregistered channel)."""
    from belleflow.channels import load_channel  # noqa: PLC0415 - entry points on demand

    try:
        return load_channel(name)
    except KeyError:
        return None


@dataclass(frozen=True)
class LimitSet:
    """One statistical model's ``limits.json`` and the folder it is in."""

    name: str
    directory: Path
    payload: dict[str, Any]

    @property
    def model(self) -> StatModel:
        """The statistical model the limits were computed with."""
        return StatModel.model_validate(self.payload["model"])

    @property
    def blinded(self) -> bool:
        """No observation: flagged blinded, or the points carry no observed limit."""
        points = self.points
        return bool(self.payload.get("blinded", False)) or (
            bool(points) and "observed" not in points[0]
        )

    @property
    def points(self) -> list[dict[str, Any]]:
        """The scanned hypotheses (mass, ctau, method, limits, significance)."""
        return list(self.payload.get("points", []))

    @property
    def luminosity_fb(self) -> float | None:
        """Data luminosity the limits are normalised to."""
        value = self.payload.get("luminosity_fb")
        return float(value) if isinstance(value, int | float) else None


def _load_limits(path: Path, name: str) -> LimitSet:
    payload = read_json(path)
    for key in ("model", "points", "units", "cl"):
        if key not in payload:
            msg = f"{path}: not a belleflow limits.json (no {key!r})"
            raise ValueError(msg)
    return LimitSet(name, path.parent, payload)


@dataclass
class ChannelRun:
    """A channel's outputs in a run folder, read on demand."""

    name: str
    directory: Path
    report: dict[str, Any]
    limits: list[LimitSet] = field(default_factory=list)

    @functools.cached_property
    def histograms(self) -> dict[str, Any]:
        """``histograms.json``: name -> ``hist.Hist`` (process, variation, observables)."""
        from belleflow.engine import load_histograms  # noqa: PLC0415 - heavy, on demand

        path = self.directory / "histograms.json"
        if not path.exists():
            msg = f"{path}: no such file (the run of {self.name!r} wrote no histograms)"
            raise FileNotFoundError(msg)
        return dict(load_histograms(path))

    @functools.cached_property
    def channel(self) -> Any | None:
        """The registered channel (signal windows, signal-region cut), if any."""
        return registered_channel(self.name)

    @property
    def validation_dir(self) -> Path:
        """Where ``belleflow validate`` writes (may not exist)."""
        return self.directory / "validation"

    @property
    def blinded(self) -> bool:
        """Whether the run kept data out of the signal windows (not ``--unblind``)."""
        return not bool(self.report.get("configuration", {}).get("unblind", False))

    def data_samples(self) -> list[dict[str, Any]]:
        """The run's data samples as recorded in the report."""
        samples = self.report.get("samples", {})
        return [s for s in samples.values() if isinstance(s, dict) and s.get("kind") == "data"]

    @property
    def luminosity_fb(self) -> float | None:
        """Summed luminosity of the data samples read (at the catalogue's scale)."""
        total = sum(float(s.get("luminosity") or 0.0) for s in self.data_samples())
        return total or None

    @property
    def experiment(self) -> str:
        """``Belle``, ``Belle II`` or ``Belle + Belle II``: the data the channel read."""
        found = {str(s["experiment"]) for s in self.data_samples() if s.get("experiment")}
        found = found or {str(e) for e in self.report.get("experiments", [])}
        return " + ".join(sorted(found))

    @functools.cached_property
    def ecms(self) -> list[float]:
        """Centre-of-mass energies (GeV) of the data samples, from the run's catalogue."""
        path = self.report.get("catalogue", {}).get("path")
        if not path or not Path(path).exists():
            return []
        from belleflow.catalogue import load_catalogue  # noqa: PLC0415

        try:
            catalogue = load_catalogue(path)
        except (ValueError, OSError) as err:
            log.warning(
                "%s: catalogue %s unreadable, no sqrt(s) in labels: %s", self.name, path, err
            )
            return []
        names = {s.get("name") for s in self.data_samples()}
        return sorted({d.ecms for d in catalogue.data if d.name in names})

    def signal_windows(self, observable: str) -> list[tuple[float, float]]:
        """Windows of ``observable`` where data is not filled while the run is blinded."""
        if not self.blinded or self.channel is None:
            return []
        windows = getattr(self.channel.processor_class, "signal_windows", {})
        return [(float(lo), float(hi)) for lo, hi in windows.get(observable, ())]

    def signal_models(self) -> list[str]:
        """Signal models the channel sets limits on: as declared, then any other with limits."""
        declared: list[str] = []
        if self.channel is not None:
            from belleflow.limits.api import resolve_models  # noqa: PLC0415

            with contextlib.suppress(TypeError):
                declared = [m.signal_model for m in resolve_models(self.channel).values()]
        found = [str(s.payload["signal_model"]) for s in self.limits]
        return list(dict.fromkeys(declared + found))

    def experiment_of(self, model: StatModel) -> str:
        """The experiment of a model: its declared sub-channels, else the run's data."""
        if model.subchannels:
            return " + ".join(sorted({s.experiment for s in model.subchannels}))
        return self.experiment


def find_channels(run_dir: str | Path) -> list[str]:
    """Channels with outputs (a ``report.json``) in a run folder, sorted."""
    root = Path(run_dir)
    if not root.is_dir():
        msg = f"{root}: no such run folder"
        raise FileNotFoundError(msg)
    return sorted(p.parent.name for p in root.glob("*/report.json"))


def load_channel_run(run_dir: str | Path, channel: str) -> ChannelRun:
    """Read one channel's outputs from a run folder.

    Raises:
        FileNotFoundError: The folder or the channel's report is missing (the
            message lists the channels that are there).
        ValueError: A report or limits file is not what belleflow writes.
    """
    root = Path(run_dir)
    directory = root / channel
    path = directory / "report.json"
    if not path.exists():
        found = ", ".join(find_channels(root)) or "none"
        msg = f"{root}: no outputs of channel {channel!r} (channels there: {found})"
        raise FileNotFoundError(msg)
    report = read_json(path)
    limits = []
    if (directory / "limits.json").exists():
        limits.append(_load_limits(directory / "limits.json", channel))
    for sub in sorted(directory.glob("*/limits.json")):
        limits.append(_load_limits(sub, sub.parent.name))
    return ChannelRun(channel, directory, report, limits)
