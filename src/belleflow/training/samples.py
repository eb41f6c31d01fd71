"""Small synthetic samples made on the fly: for training, tests and studies.

:func:`make_sample` runs a registered generator and the detector simulation
and writes one belleflow ntuple; :func:`open_sample` reads it back as
``Belle2Schema`` NanoEvents with ``events.metadata`` filled as the run engine
fills it, so a channel's processor (or its feature function) runs on it
unchanged. The samples are independent of the catalogue's files: a
classifier trained on them is never evaluated on its own training events.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["make_sample", "open_sample"]


def make_sample(
    path: str | os.PathLike[str],
    process: str,
    n_events: int,
    *,
    machine: str = "SuperKEKB",
    ecms: float | None = None,
    parameters: Mapping[str, Any] | None = None,
    seed: int = 0,
    label: str | None = None,
) -> Path:
    """Generate, simulate and write ``n_events`` of ``process`` (MC truth kept).

    Args:
        path: Output ROOT file.
        process: Registered generator name (a background process or a signal model).
        n_events: Number of events.
        machine: ``SuperKEKB`` or ``KEKB`` (or an experiment name).
        ecms: Centre-of-mass energy (GeV); default the machine's nominal one.
        parameters: Generator parameters (signals: ``mass``, ``ctau``, ...).
        seed: Seed of the random stream.
        label: ``process`` recorded in the file (default ``process``).

    Returns:
        The path written.
    """
    # Imported here: the production pulls in every generator module.
    from belleflow.beams import get_machine  # noqa: PLC0415
    from belleflow.generation.detector import simulate  # noqa: PLC0415
    from belleflow.generation.production import load_generators  # noqa: PLC0415
    from belleflow.generation.truth import GeneratorContext  # noqa: PLC0415
    from belleflow.ntuple import FileMetadata, write_ntuple  # noqa: PLC0415

    base = get_machine(machine)
    mach = base.scaled_to(ecms) if ecms is not None else base
    generators = load_generators()
    if process not in generators:
        msg = f"no generator registered for {process!r}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    context = GeneratorContext(machine=mach, rng=rng, parameters=dict(parameters or {}))
    truth = generators[process](n_events, context)
    content = simulate(truth, mach, rng, simulation=True)
    metadata = FileMetadata(
        sample=label or process,
        process=label or process,
        kind="simulation",
        experiment=mach.experiment,  # type: ignore[arg-type]
        machine=mach.name,
        ecms=float(mach.ecms),
        n_events=len(truth),
        generator={"seed": seed, "process": process, **dict(parameters or {})},
    )
    return write_ntuple(path, content, metadata)


def open_sample(
    path: str | os.PathLike[str],
    *,
    sample: str | None = None,
    process: str | None = None,
    kind: str = "simulation",
    weight: float = 1.0,
    machine: str = "SuperKEKB",
    experiment: str = "Belle II",
    access_log: list[Any] | None = None,
    unblind: bool = False,
) -> Any:
    """Read a belleflow ntuple as NanoEvents with the engine's ``metadata``.

    Args:
        path: The ROOT file.
        sample: ``metadata["dataset"]`` (default the file stem).
        process: ``metadata["process"]`` (default ``sample``).
        kind: ``data``, ``simulation`` or ``signal``.
        weight: Per-event normalisation ``metadata["weight"]``.
        machine: ``metadata["machine"]``.
        experiment: ``metadata["experiment"]``.
        access_log: Optional list that records the branches read.
        unblind: ``metadata["unblind"]``: whether data may be filled in signal windows.

    Returns:
        Virtual-mode NanoEvents (``Belle2Schema``).
    """
    from coffea.nanoevents import NanoEventsFactory  # noqa: PLC0415

    from belleflow.schema import Belle2Schema  # noqa: PLC0415

    path = Path(path)
    name = sample or path.stem
    metadata = {
        "dataset": name,
        "kind": kind,
        "process": process or name,
        "weight": weight,
        "experiment": experiment,
        "machine": machine,
        "unblind": unblind,
        "filename": str(path),
    }
    kwargs: dict[str, Any] = {}
    if access_log is not None:
        kwargs["access_log"] = access_log
    factory = NanoEventsFactory.from_root(
        {str(path): "events"},
        schemaclass=Belle2Schema,
        mode="virtual",
        metadata=metadata,
        **kwargs,
    )
    return factory.events()
