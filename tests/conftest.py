"""Shared fixtures: small belleflow ntuples made on the fly, a Dask client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from belleflow.ntuple import COLLECTIONS, FileMetadata, write_ntuple

MakeNtuple = Callable[..., Path]


def random_events(n_events: int, *, seed: int = 1, simulation: bool = True) -> dict[str, Any]:
    """Events with every branch of the format and random, structurally valid content.

    Cross-reference indices point inside their target collections (or are -1).
    """
    rng = np.random.default_rng(seed)
    counts = {
        "Track": rng.integers(0, 7, n_events),
        "Photon": rng.integers(0, 5, n_events),
        "V0": rng.integers(0, 2, n_events),
        "MCParticle": rng.integers(2, 9, n_events),
    }
    content: dict[str, Any] = {
        "__experiment__": np.full(n_events, 26, np.int32),
        "__run__": np.full(n_events, 1, np.int32),
        "__event__": np.arange(n_events, dtype=np.uint32),
        "__production__": np.zeros(n_events, np.int32),
        "__weight__": np.ones(n_events),
        "Ecms": np.full(n_events, 10.58),
        "beamE": np.full(n_events, 11.0),
        "beamPx": np.full(n_events, 0.457),
        "beamPy": np.zeros(n_events),
        "beamPz": np.full(n_events, 3.0),
    }
    for name, spec in COLLECTIONS.items():
        total = int(counts[name].sum())
        columns = {}
        for branch in spec:
            if branch.dtype.startswith("int"):
                values = rng.integers(-1, 2, total)
            else:
                values = rng.normal(size=total)
            columns[branch.name] = ak.unflatten(values.astype(branch.dtype), counts[name])
        columns["E"] = ak.unflatten(rng.uniform(5.0, 6.0, total), counts[name])
        content[name] = ak.zip(columns, depth_limit=2)
    local = ak.local_index(content["Track"].px)
    # V0 daughters: the first two tracks when there are two, else -1.
    n_tracks = ak.num(content["Track"].px)
    v0 = content["V0"]
    has_two = ak.broadcast_arrays(n_tracks >= 2, v0.chiProb)[0]
    content["V0"] = ak.with_field(v0, ak.where(has_two, 0, -1), "track0")
    content["V0"] = ak.with_field(content["V0"], ak.where(has_two, 1, -1), "track1")
    n_mc = ak.num(content["MCParticle"].PDG)
    content["Track"] = ak.with_field(
        content["Track"],
        ak.where(local < ak.broadcast_arrays(n_mc, local)[0], local, -1),
        "mcIndex",
    )
    mc_local = ak.local_index(content["MCParticle"].PDG)
    content["MCParticle"] = ak.with_field(content["MCParticle"], mc_local - 1, "mother")
    content["Photon"] = ak.with_field(
        content["Photon"], ak.zeros_like(content["Photon"].mcIndex) - 1, "mcIndex"
    )
    if not simulation:
        del content["MCParticle"]
    return content


@pytest.fixture
def events_maker() -> Callable[..., dict[str, Any]]:
    """The :func:`random_events` builder, for tests that compare with file content."""
    return random_events


@pytest.fixture
def make_ntuple(tmp_path: Path) -> MakeNtuple:
    """Write a small valid ntuple into ``tmp_path`` and return its path."""

    def make(
        name: str = "sample.root",
        n_events: int = 200,
        *,
        seed: int = 1,
        simulation: bool = True,
        **metadata: Any,
    ) -> Path:
        fields: dict[str, Any] = {
            "sample": "test_sample",
            "process": "mumu" if simulation else "data",
            "kind": "simulation" if simulation else "data",
            "experiment": "Belle II",
            "machine": "SuperKEKB",
            "ecms": 10.58,
            "n_events": n_events,
        }
        fields.update(metadata)
        events = random_events(n_events, seed=seed, simulation=simulation)
        return write_ntuple(tmp_path / name, events, FileMetadata(**fields))

    return make


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A small in-process-friendly Dask cluster shared by the session (2 workers, 1 thread)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit="2GiB",
            dashboard_address=":0",  # a random port: 8787 may be taken
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


MakeRun = Callable[..., Path]


def _toy_histograms(rng: np.random.Generator, lifetimes: tuple[float, ...], blinded: bool) -> Any:
    """m_mumu (1-D) and mass_plane (2-D) of a toy dimuon search, weighted like a run's."""
    import hist  # noqa: PLC0415 - only for the plotting and report tests
    from scipy.special import ndtr  # noqa: PLC0415

    from belleflow.naming import signal_label  # noqa: PLC0415

    edges = np.linspace(0.5, 3.0, 501)
    centres = 0.5 * (edges[1:] + edges[:-1])
    background = {
        "mumu": (rng.poisson(40, 500).astype(float), 0.05),
        "tautau": (rng.poisson(200 * np.exp(-centres), 500).astype(float), 0.02),
        "eeee": (rng.poisson(0.5, 500).astype(float), 0.01),
    }
    signals = {
        signal_label("zp", m, c): 0.005 * 1000 * np.diff(ndtr((edges - m) / 0.02))
        for m in (1.0, 1.5, 2.0, 2.5)
        for c in lifetimes
    }
    expected = sum(n * w for n, w in background.values())
    data = rng.poisson(expected).astype(float)
    if blinded:
        data[(centres > 1.0) & (centres < 2.6)] = 0.0
    processes = ["data", *background, *signals]
    h = hist.Hist(
        hist.axis.StrCategory(processes, name="process"),
        hist.axis.StrCategory(["nominal", "pid_up"], name="variation"),
        hist.axis.Variable(edges, name="m_mumu", label=r"$m(\mu^+\mu^-)$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    plane = hist.Hist(
        hist.axis.StrCategory(processes, name="process"),
        hist.axis.StrCategory(["nominal"], name="variation"),
        hist.axis.Regular(20, 0.5, 3.0, name="m_12", label="$m_{12}$ [GeV]"),
        hist.axis.Regular(20, 0.5, 3.0, name="m_34", label="$m_{34}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    view["value"][0, 0], view["variance"][0, 0] = data, data
    for i, (n, w) in enumerate(background.values(), start=1):
        view["value"][i, 0], view["variance"][i, 0] = n * w, n * w * w
        view["value"][i, 1] = 1.02 * n * w
    for i, values in enumerate(signals.values(), start=1 + len(background)):
        view["value"][i, 0], view["variance"][i, 0] = values, values * 1e-3
    plane_view = plane.view()
    for i, process in enumerate(processes):
        x, y = rng.uniform(0.5, 3.0, (2, 200))
        if process in signals:
            x = y = np.full(200, float(process.split("_m")[1].split("_")[0]))
        plane_view["value"][i, 0] = np.histogram2d(x, y, bins=20, range=[[0.5, 3], [0.5, 3]])[0]
    return {"m_mumu": h, "mass_plane": plane}


def _toy_limits(model: Any, lifetimes: tuple[float, ...], blinded: bool) -> dict[str, Any]:
    """A limits.json of the toy model, as the backend writes it: exact-method steps; a
    blinded one has no observation (no observed limit, p0, Z or count, no global Z)."""
    points = []
    for ctau in lifetimes:
        for i, mass in enumerate(model.hypothesis_masses()):
            base = 2.3 / 0.005 * (1 + 0.1 * mass) * (1 + ctau)
            # Every fifth point has a little background: the upper quantiles jump.
            bump = 1.7 if i % 5 == 0 else 1.0
            expected = [base, base, base, base * bump, base * bump * 1.3]
            point = {
                "name": f"zp_m{mass:g}_ctau{ctau:g}",
                "mass": mass,
                "ctau": ctau,
                "method": "exact",
                "expected": expected,
                "expected_converted": expected,
                "b": 0.01,
                "s_per_fb": 0.005,
            }
            if not blinded:
                point["observed"] = point["observed_converted"] = base * (1.2 if i % 7 else 2.0)
                point["p0"] = 0.5
                point["z_local"] = 0.2 + 1.5 * np.exp(-(((mass - 1.9) / 0.05) ** 2))
                point["n_obs"] = 0.0
            points.append(point)
    g = {
        "z_local": 1.7,
        "p_local": 0.045,
        "mass": 1.9,
        "ctau": 0.0,
        "trials": 30.0,
        "p_global_trials": 0.7,
        "upcrossings": 1.0,
        "p_global_gv": 0.6,
        "p_global": 0.7,
        "z_global": 0.0,
        "method": "trials",
    }
    return {
        "channel": model.channel,
        "signal_model": model.signal_model,
        "cl": model.cl,
        "units": model.units,
        "poi_units": "sigma_B_fb",
        "luminosity_fb": 1.0,
        "blinded": blinded,
        "methods": {"exact": len(points)},
        "global_significance": None if blinded else g,
        "model": model.model_dump(mode="json"),
        "signal": [
            {
                "subchannel": model.channel,
                "mass": m,
                "ctau": c,
                "sigma": 0.02,
                "yield_per_fb": 0.005,
                "window_yield_per_fb": 0.0045,
                "window_fraction": 0.9,
                "window_efficiency": 0.0045,
            }
            for c in lifetimes
            for m in (1.0, 1.5, 2.0, 2.5)
        ],
        "points": points,
    }


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """Write the output folder of a toy dimuon channel run and its limits; return the folder.

    ``make(experiment="Belle", blinded=True, lifetimes=(0.0,), validation=False)``:
    ``DIR/toy_mumu/`` with report.json, histograms.json and ``zp/limits.json``
    (a model with a vetoed window), and ``validation/`` when asked.
    """
    import json  # noqa: PLC0415

    from belleflow.engine.outputs import write_histograms_json  # noqa: PLC0415
    from belleflow.limits import Resolution, StatModel  # noqa: PLC0415
    from belleflow.naming import signal_label  # noqa: PLC0415

    def make(
        *,
        experiment: str = "Belle",
        blinded: bool = True,
        lifetimes: tuple[float, ...] = (0.0,),
        validation: bool = False,
    ) -> Path:
        run = tmp_path / "run"
        channel = run / "toy_mumu"
        channel.mkdir(parents=True)
        rng = np.random.default_rng(7)
        write_histograms_json(_toy_histograms(rng, lifetimes, blinded), channel / "histograms.json")
        inputs = tmp_path / "inputs"
        inputs.mkdir()
        samples: dict[str, Any] = {}
        cutflow: dict[str, Any] = {}
        files: dict[str, Any] = {}
        cuts = ("all", "two_muons", "signal_region")
        entries = [
            ("run_a", "data", "data", None),
            ("run_b", "data", "data", None),
            ("mc_mumu", "simulation", "mumu", None),
            ("mc_tautau", "simulation", "tautau", None),
        ]
        entries += [
            (f"sig_m{m}_c{c}", "signal", signal_label("zp", m, c), (m, c))
            for m in (1.0, 1.5, 2.0, 2.5)
            for c in lifetimes
        ]
        for k, (name, kind, process, point) in enumerate(entries):
            path = inputs / f"{name}.root"
            path.write_bytes(bytes([k]) * 64)
            files[str(path)] = {"sample": name, "entries": 1000, "read": 1000, "status": "ok"}
            samples[name] = {
                "name": name,
                "kind": kind,
                "process": process,
                "experiment": experiment,
                "luminosity": 0.5,
                "model": "zp" if point else None,
                "mass": point[0] if point else None,
                "ctau": point[1] if point else None,
            }
            weight = 1.0 if kind == "data" else 0.5
            passed = [1000, 400 + 10 * k, 100 + k]
            flow = {c: [float(n), n * weight] for c, n in zip(cuts, passed, strict=True)}
            if kind == "data" and blinded:
                del flow["signal_region"]  # the data cutflow stops before the signal region
            cutflow[name] = flow
        report = {
            "channel": "toy_mumu",
            "description": "toy dimuon search",
            "experiments": [experiment],
            "complete": True,
            "belleflow_version": "0.1.0",
            "git_revision": "0123456789abcdef",
            "catalogue": {
                "path": str(tmp_path / "gone.yaml"),
                "name": "toy",
                "sha256": "ab" * 32,
                "scale": 1e-5,
            },
            "command_line": "belleflow run toy_mumu",
            "executor": "iterative",
            "configuration": {"unblind": not blinded, "chunksize": 1000},
            "configuration_hash": "cafe",
            "start": "2026-12-03T10:00:00+00:00",
            "end": "2026-12-03T10:01:00+00:00",
            "events": {"expected": 8000, "read": 8000, "missing": 0},
            "files": files,
            "samples": samples,
            "cutflow": cutflow,
        }
        (channel / "report.json").write_text(json.dumps(report))
        model = StatModel(
            channel="toy_mumu",
            observable="m_mumu",
            mass_range=(1.0, 2.5),
            resolution=Resolution(polynomial=[0.02]),
            signal_model="zp",
            cl=0.9,
            vetoed=[(1.7, 1.8)],
            ctau_values=list(lifetimes),
            blinded=blinded,
        )
        limits = _toy_limits(model, lifetimes, blinded)
        (channel / "zp").mkdir()
        (channel / "zp" / "limits.json").write_text(json.dumps(limits))
        if validation:
            import matplotlib.pyplot as plt  # noqa: PLC0415

            (channel / "validation").mkdir()
            # As belleflow validate writes it (belleflow.validation.report.to_dict).
            payload = {
                "channel": "toy_mumu",
                "model": "zp",
                "passed": False,
                "checks": [
                    {
                        "study": "injection",
                        "name": "closure",
                        "figure": "closure.png",
                        "expectation": "mu_hat / mu_true within 10 %",
                        "passed": True,
                        "value": 1.02,
                    },
                    {
                        "study": "background-only",
                        "name": "pulls",
                        "figure": "pulls.png",
                        "expectation": "mean pull within 0.2",
                        "passed": False,
                        "value": 0.4,
                    },
                ],
            }
            (channel / "validation" / "validation.json").write_text(json.dumps(payload))
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, 1])
            fig.savefig(channel / "validation" / "closure.png")
            plt.close(fig)
        return run

    return make
