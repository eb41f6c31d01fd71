"""The four_muon selection in ROOT's RDataFrame: same events as belleflow, timed side by side.

Run from anywhere, with PyPI ``root`` installed (the ``bench`` dependency
group: ``pip install --group bench -e .``, 674 MB):
``python benchmarks/bench_rdataframe.py [--datasets demo large] [--repeat R]
[--steady-chunks N] [--json FILE]``.

The RDataFrame implementation reads the flat branches and builds the
candidates in C++ helpers compiled once with ``ROOT.gInterpreter.Declare``
(:data:`CPP`); every number of the selection (cuts, mass range, veto windows,
muon mass, impact-parameter cuts, histogram bin edges) is taken from the
``four_muon`` channel module, so both implementations apply the same cuts.
It has no classifier and no systematics: it is compared with belleflow's
selection **before** the classifier step.

**Same events.** On the same files, belleflow's own selection
(``DeclaredProcessor(channel, classify=False)``: the channel's preselection
and selection, chunk by chunk as the engine plans them) and the RDataFrame
must give the same count at every step of the cutflow, plus the events with
at least one candidate in the mass range outside the vetoes (``candidate``,
what the classifier then sees), and the same dimuon-mass histogram (every
such candidate, unweighted, the channel's bins), bin by bin. The exit code
is 1 if they differ.

**Timing**, interleaved in each repeat, CPU time on one core:

- whole process: ``belleflow run four_muon --executor iterative`` (with the
  classifier, systematics, outputs) against a fresh Python process that
  imports ROOT, declares the helpers and runs the RDataFrame over the same
  files (``--rdf-worker``);
- steady state: belleflow's processor per chunk after a warm-up chunk
  (:func:`bench_throughput.steady_state`) against the RDataFrame event
  loop's CPU time as RDataFrame logs it, the just-in-time compilation
  (declaring the helpers, jitting the graph) reported separately.

The RDataFrame runs single-threaded (no implicit multi-threading), like one
belleflow worker.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CHANNEL = "four_muon"
#: belleflow's cutflow steps, in order, and the step the comparison adds before the classifier.
STEPS = (
    "all",
    "four_tracks",
    "zero_charge",
    "three_muons",
    "no_electron",
    "four_track_mass",
    "no_extra_energy",
    "candidate",
)
#: The C++ helpers; ``{...}`` fields are the channel's numbers (see :func:`constants`).
CPP = """
namespace bfbench {{
using ROOT::RVecD; using ROOT::RVecF; using ROOT::RVecI; using ROOT::RVecU;

// Prompt tracks: |dr| < {max_dr} cm and |dz| < {max_dz} cm (float comparisons, as the branches).
RVecI good(const RVecF& dr, const RVecF& dz) {{
  return abs(dr) < {max_dr}f && abs(dz) < {max_dz}f;
}}

double beam_mass(double e, double px, double py, double pz) {{
  return std::sqrt(e * e - px * px - py * py - pz * pz);
}}

// Invariant mass of the good tracks, muon mass hypothesis.
double m4(const RVecD& px, const RVecD& py, const RVecD& pz, const RVecI& ok) {{
  double sx = 0, sy = 0, sz = 0, se = 0;
  for (std::size_t i = 0; i < px.size(); ++i) {{
    if (!ok[i]) continue;
    sx += px[i]; sy += py[i]; sz += pz[i];
    se += std::sqrt(px[i] * px[i] + py[i] * py[i] + pz[i] * pz[i] + {m_mu} * {m_mu});
  }}
  return std::sqrt(se * se - sx * sx - sy * sy - sz * sz);
}}

// Sum of the CM energies of the photons above the threshold.
double extra_energy(const RVecD& e, const RVecD& px, const RVecD& py, const RVecD& pz,
                    double be, double bx, double by, double bz) {{
  const double mb = beam_mass(be, bx, by, bz);
  double sum = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {{
    const double ecm = (be * e[i] - bx * px[i] - by * py[i] - bz * pz[i]) / mb;
    if (ecm > {photon_threshold}) sum += ecm;
  }}
  return sum;
}}

// Masses of the four opposite-charge dimuon candidates of the four good tracks that lie
// in the histogram range and outside every resonance veto window.
RVecD candidate_masses(const RVecD& px, const RVecD& py, const RVecD& pz,
                       const RVecI& charge, const RVecI& ok) {{
  std::size_t pos[2], neg[2]; int np_ = 0, nn = 0;
  for (std::size_t i = 0; i < px.size(); ++i) {{
    if (!ok[i]) continue;
    if (charge[i] > 0 && np_ < 2) pos[np_++] = i; else if (charge[i] < 0 && nn < 2) neg[nn++] = i;
  }}
  RVecD out;
  if (np_ != 2 || nn != 2) return out;
  const double lows[] = {{ {veto_lows} }}, highs[] = {{ {veto_highs} }};
  for (int a = 0; a < 2; ++a) for (int b = 0; b < 2; ++b) {{
    const std::size_t i = pos[a], j = neg[b];
    const double ei = std::sqrt(px[i] * px[i] + py[i] * py[i] + pz[i] * pz[i] + {m_mu} * {m_mu});
    const double ej = std::sqrt(px[j] * px[j] + py[j] * py[j] + pz[j] * pz[j] + {m_mu} * {m_mu});
    const double x = px[i] + px[j], y = py[i] + py[j], z = pz[i] + pz[j], e = ei + ej;
    const double m = std::sqrt(std::max(e * e - x * x - y * y - z * z, 0.0));
    if (!(m >= {hist_low} && m < {hist_high})) continue;
    bool vetoed = false;
    for (std::size_t k = 0; k < sizeof(lows) / sizeof(double); ++k)
      vetoed = vetoed || (m >= lows[k] && m < highs[k]);
    if (!vetoed) out.push_back(m);
  }}
  return out;
}}
}}  // namespace bfbench
"""


def constants() -> dict[str, Any]:
    """The four_muon channel's numbers, and its histogram's bin edges."""
    from belleflow import selection  # noqa: PLC0415
    from belleflow.kinematics import mass  # noqa: PLC0415

    four_muon: Any = importlib.import_module("belleflow_channels.four_muon")  # untyped package

    windows = selection.resonance_windows(
        four_muon.VETOES, resolution=four_muon.RESOLUTION, n_sigma=four_muon.VETO_SIGMAS
    )
    (axis,) = next(h for h in four_muon.channel.histograms if h.name == "m_mumu").axes
    return {
        "max_dr": selection.DEFAULT_MAX_DR,
        "max_dz": selection.DEFAULT_MAX_DZ,
        "m_mu": repr(mass(13)),
        "photon_threshold": repr(four_muon.CUTS["photon_threshold"]),
        "hist_low": repr(four_muon.HIST_RANGE[0]),
        "hist_high": repr(four_muon.HIST_RANGE[1]),
        "veto_lows": ", ".join(repr(lo) for lo, _ in windows.values()),
        "veto_highs": ", ".join(repr(hi) for _, hi in windows.values()),
        "cuts": dict(four_muon.CUTS),
        "edges": [float(x) for x in axis.edges],
    }


def belleflow_reference(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """belleflow's four_muon selection without the classifier: counts per step, mass histogram.

    Runs the channel's preselection and selection exactly as the framework
    does (:class:`belleflow.processor.DeclaredProcessor` with
    ``classify=False``) on each chunk (see :func:`bench_throughput.chunks`).
    """
    import awkward as ak  # noqa: PLC0415
    from bench_throughput import events_of  # noqa: PLC0415

    from belleflow.channels import load_channel  # noqa: PLC0415
    from belleflow.processor import DeclaredProcessor  # noqa: PLC0415

    processor = DeclaredProcessor(load_channel(CHANNEL), classify=False)
    edges = np.asarray(constants()["edges"])
    counts = dict.fromkeys(STEPS, 0)
    histogram = np.zeros(len(edges) - 1, dtype=np.int64)
    for item in items:
        events = events_of(item)
        pre, _, view = processor.preselected(events)
        cuts, result = processor.select(view)
        counts["all"] += len(events)
        for name, mask in {**pre.steps, **cuts.steps}.items():
            counts[name] += int(np.count_nonzero(mask))
        selected = cuts.selected_candidates()
        if result is None or selected is None:
            continue
        counts["candidate"] += int(np.count_nonzero(ak.any(selected, axis=1)))
        at = slice(None) if result.at is None else result.at
        masses = ak.flatten(result.candidates["m_mumu"][selected[at]], axis=None)
        histogram += np.histogram(ak.to_numpy(masses), bins=edges)[0]
    return {"cutflow": counts, "histogram": histogram.tolist()}


def compare(reference: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """Differences between two results of the selection (empty: the same events).

    Args:
        reference: ``{"cutflow": {step: count}, "histogram": [counts per bin]}``.
        other: The same from the other implementation.

    Examples:
        >>> a = {"cutflow": {"all": 10, "four_tracks": 4}, "histogram": [1, 2]}
        >>> compare(a, a)
        []
        >>> compare(a, {"cutflow": {"all": 10, "four_tracks": 5}, "histogram": [1, 3]})
        ['four_tracks: 4 != 5', 'histogram bin 1: 2 != 3']
    """
    problems = []
    ref_flow, other_flow = reference["cutflow"], other["cutflow"]
    for step in [*ref_flow, *(s for s in other_flow if s not in ref_flow)]:
        if ref_flow.get(step) != other_flow.get(step):
            problems.append(f"{step}: {ref_flow.get(step)} != {other_flow.get(step)}")
    ref_hist, other_hist = list(reference["histogram"]), list(other["histogram"])
    if len(ref_hist) != len(other_hist):
        problems.append(f"histogram: {len(ref_hist)} bins != {len(other_hist)} bins")
    else:
        problems += [
            f"histogram bin {i}: {a} != {b}"
            for i, (a, b) in enumerate(zip(ref_hist, other_hist, strict=True))
            if a != b
        ]
    return problems


@contextlib.contextmanager
def captured_stderr() -> Iterator[Path]:
    """Redirect file descriptor 2 (where ROOT's logger writes) to a file."""
    with tempfile.NamedTemporaryFile(prefix="bench-rdf-", suffix=".log", delete=False) as log:
        path = Path(log.name)
    saved = os.dup(2)
    with path.open("w") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield path
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def rdataframe(paths: Sequence[str], numbers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the RDataFrame selection over ``paths``: counts, histogram, JIT and loop times.

    Args:
        paths: The files.
        numbers: :func:`constants` (computed here when not given; the timed
            process gets them from its parent, so that it imports ROOT only).
    """
    ROOT: Any = importlib.import_module("ROOT")  # no type information

    numbers = constants() if numbers is None else numbers
    cuts = numbers["cuts"]
    tic = time.process_time()
    if not ROOT.gInterpreter.Declare(CPP.format(**numbers)):
        msg = "the C++ helpers of bench_rdataframe.py do not compile"
        raise RuntimeError(msg)
    declare_cpu = time.process_time() - tic
    files = ROOT.std.vector["std::string"]()
    for path in paths:
        files.push_back(str(path))
    df = ROOT.RDataFrame("events", files)
    nodes = {"all": df}
    node = df.Define("good", "bfbench::good(Track_dr, Track_dz)")
    node = nodes["four_tracks"] = node.Filter("ROOT::VecOps::Sum(good) == 4", "four_tracks")
    node = nodes["zero_charge"] = node.Filter(
        "ROOT::VecOps::Sum(Track_charge[good]) == 0", "zero_charge"
    )
    node = nodes["three_muons"] = node.Filter(
        f"ROOT::VecOps::Sum(Track_muonID[good] > {cuts['muon_id']!r}f) >= {cuts['min_muons']}",
        "three_muons",
    )
    node = nodes["no_electron"] = node.Filter(
        f"ROOT::VecOps::Sum(Track_electronID[good] > {cuts['electron_id']!r}f) == 0",
        "no_electron",
    )
    node = node.Define("m4", "bfbench::m4(Track_px, Track_py, Track_pz, good)").Define(
        "ecms", "bfbench::beam_mass(beamE, beamPx, beamPy, beamPz)"
    )
    node = nodes["four_track_mass"] = node.Filter(
        f"m4 > ecms - {cuts['m4_low']!r} && m4 < ecms + {cuts['m4_high']!r}", "four_track_mass"
    )
    node = node.Define(
        "e_extra",
        "bfbench::extra_energy(Photon_E, Photon_px, Photon_py, Photon_pz,"
        " beamE, beamPx, beamPy, beamPz)",
    )
    node = nodes["no_extra_energy"] = node.Filter(
        f"e_extra < {cuts['extra_energy']!r}", "no_extra_energy"
    )
    node = node.Define(
        "m_mumu", "bfbench::candidate_masses(Track_px, Track_py, Track_pz, Track_charge, good)"
    )
    nodes["candidate"] = node.Filter("m_mumu.size() > 0", "candidate")
    edges = numbers["edges"]
    model = ROOT.RDF.TH1DModel("m_mumu", "m_mumu", len(edges) - 1, np.asarray(edges))
    histogram = node.Histo1D(model, "m_mumu")
    counts = {name: n.Count() for name, n in nodes.items()}
    verbosity = ROOT.ROOT.RLogScopedVerbosity(
        ROOT.ROOT.Detail.RDF.RDFLogChannel(), ROOT.ROOT.ELogLevel.kInfo
    )
    tic, wall = time.process_time(), time.perf_counter()
    with captured_stderr() as log:
        values = {name: int(c.GetValue()) for name, c in counts.items()}
    run_cpu, run_wall = time.process_time() - tic, time.perf_counter() - wall
    del verbosity
    text = log.read_text()
    log.unlink()
    jit = re.search(r"Just-in-time compilation phase completed in ([0-9.e+-]+) seconds", text)
    loop = re.search(r"Finished event loop number \d+ \(([0-9.e+-]+)s CPU, ([0-9.e+-]+)s", text)
    hist = histogram.GetValue()
    return {
        "cutflow": values,
        "histogram": [int(hist.GetBinContent(i)) for i in range(1, hist.GetNbinsX() + 1)],
        "underflow_overflow": [hist.GetBinContent(0), hist.GetBinContent(hist.GetNbinsX() + 1)],
        "declare_cpu_s": declare_cpu,
        "run_cpu_s": run_cpu,
        "run_wall_s": run_wall,
        "jit_s": float(jit.group(1)) if jit else None,
        "loop_cpu_s": float(loop.group(1)) if loop else None,
        "log": None if jit and loop else text[-3000:],
    }


def rdf_process(paths: Sequence[str]) -> dict[str, Any]:
    """The RDataFrame selection as a whole process: wall, CPU and its own measurements."""
    from bench_throughput import cpu_of_children  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-rdf-") as tmp:
        listing, out = Path(tmp) / "files.json", Path(tmp) / "out.json"
        listing.write_text(json.dumps({"paths": list(paths), "numbers": constants()}))
        command = [sys.executable, str(Path(__file__).resolve()), "--rdf-worker", str(listing),
                   str(out)]  # fmt: skip
        cpu0, tic = cpu_of_children(), time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall, cpu = time.perf_counter() - tic, cpu_of_children() - cpu0
        if done.returncode != 0:
            msg = f"the RDataFrame process failed ({done.returncode}): {done.stderr[-2000:]}"
            raise RuntimeError(msg)
        result: dict[str, Any] = json.loads(out.read_text())
    return {"wall_s": wall, "cpu_s": cpu, **result}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets", nargs="+", default=["demo", "large"], choices=["demo", "large"]
    )
    parser.add_argument("--repeat", type=int, default=1, help="interleaved repeats (median)")
    parser.add_argument("--steady-chunks", type=int, default=30,
                        help="at most this many chunks timed in belleflow's steady state")  # fmt: skip
    parser.add_argument("--large-root", type=Path, default=Path("/tmp/bench-data"))
    parser.add_argument("--json", type=Path, default=Path("bench_rdataframe.json"))
    parser.add_argument("--rdf-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rdf_worker:
        listing, out = args.rdf_worker
        job = json.loads(listing.read_text())
        out.write_text(json.dumps(rdataframe(job["paths"], job["numbers"])))
        return
    # Not imported by the timed RDataFrame process above: it imports ROOT only.
    from bench_throughput import (  # noqa: PLC0415
        DEMO_CATALOGUE,
        chunks,
        every_kth,
        large_catalogue,
        steady_state,
        whole_process,
    )

    catalogues = {"demo": (DEMO_CATALOGUE, None, None)}
    if "large" in args.datasets:
        root = args.large_root.resolve()
        catalogues["large"] = (large_catalogue(root), root, None)
    report: dict[str, Any] = {}
    same = True
    for dataset in args.datasets:
        catalogue, data_root, maxchunks = catalogues[dataset]
        items = chunks(CHANNEL, catalogue, data_root=data_root, maxchunks=maxchunks)
        paths = list(dict.fromkeys(c["path"] for c in items))
        events = sum(c["stop"] - c["start"] for c in items)
        reference = belleflow_reference(items)
        repeats: list[dict[str, Any]] = []
        for i in range(args.repeat):
            whole = whole_process(CHANNEL, catalogue, data_root=data_root, maxchunks=maxchunks)
            rdf = rdf_process(paths)
            timed = steady_state(CHANNEL, every_kth(items, args.steady_chunks))
            repeats.append({"belleflow_whole": whole, "rdf": rdf, "belleflow_steady": timed})
            print(f"{dataset}: repeat {i + 1} done (load {os.getloadavg()[0]:.1f})", flush=True)
        problems = compare(reference, repeats[0]["rdf"])
        same = same and not problems
        report[dataset] = {"events": events, "files": len(paths), "reference": reference,
                           "differences": problems, "repeats": repeats}  # fmt: skip
        print_dataset(dataset, report[dataset])
    args.json.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.json}")
    sys.exit(0 if same else 1)


def print_dataset(dataset: str, result: Mapping[str, Any]) -> None:
    """The comparison and the timing table of one dataset (markdown)."""
    events, repeats = result["events"], result["repeats"]

    def med(values: Any) -> float:
        return float(statistics.median(list(values)))

    bf_whole = med(r["belleflow_whole"]["cpu_s"] for r in repeats)
    bf_wall = med(r["belleflow_whole"]["wall_s"] for r in repeats)
    rdf_whole = med(r["rdf"]["cpu_s"] for r in repeats)
    rdf_wall = med(r["rdf"]["wall_s"] for r in repeats)
    bf_steady = med(
        sum(n for n, _ in r["belleflow_steady"]) / sum(c for _, c in r["belleflow_steady"])
        for r in repeats
    )
    loops = [r["rdf"]["loop_cpu_s"] for r in repeats if r["rdf"]["loop_cpu_s"]]
    rdf_steady = events / med(loops) if loops else float("nan")
    # JIT: declaring the helpers, and the event loop's CPU beyond the loop itself
    # (RDataFrame jits the graph's expressions when the loop starts).
    jit = med(
        r["rdf"]["declare_cpu_s"] + r["rdf"]["run_cpu_s"] - (r["rdf"]["loop_cpu_s"] or 0.0)
        for r in repeats
    )
    jit_wall = med(r["rdf"]["jit_s"] or 0.0 for r in repeats)
    print(f"\n### four_muon on {dataset}: {events:,} events in {result['files']} files, "
          f"medians of {len(repeats)} repeats\n")  # fmt: skip
    flow = result["reference"]["cutflow"]
    diff = result["differences"]
    print("same events: " + ("yes" if not diff else "NO: " + "; ".join(diff[:10])))
    print("cutflow (belleflow = RDataFrame): "
          + ", ".join(f"{k} {v:,}" for k, v in flow.items()))  # fmt: skip
    print(f"dimuon-mass histogram: {sum(result['reference']['histogram']):,} candidates, "
          f"{len(result['reference']['histogram'])} bins, "
          + ("identical" if not any("histogram" in d for d in diff) else "DIFFERENT"))  # fmt: skip
    print("\n| | belleflow | RDataFrame | belleflow / RDataFrame (time) |")
    print("|---|---|---|---|")
    print(f"| whole process, CPU (s) | {bf_whole:.1f} | {rdf_whole:.1f} "
          f"| {bf_whole / rdf_whole:.2f} |")  # fmt: skip
    print(f"| whole process, wall (s) | {bf_wall:.1f} | {rdf_wall:.1f} "
          f"| {bf_wall / rdf_wall:.2f} |")  # fmt: skip
    print(f"| whole process (k events/s/core) | {events / bf_whole / 1e3:.1f} "
          f"| {events / rdf_whole / 1e3:.1f} | |")  # fmt: skip
    print(f"| steady state (k events/s/core) | {bf_steady / 1e3:.1f} | {rdf_steady / 1e3:.1f} "
          f"| {rdf_steady / bf_steady:.2f} |")  # fmt: skip
    print(f"| JIT: declare + graph, CPU (wall) s | - | {jit:.1f} ({jit_wall:.1f}) | |")
    print(
        "\nbelleflow: with the classifier and the systematics (what it is for); "
        "RDataFrame: the selection and the histogram only."
    )


if __name__ == "__main__":
    main()
