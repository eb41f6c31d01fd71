"""Signal models: declaration, registration and reusable generator building blocks.

A channel declares its signal with a :class:`SignalModel` and
:func:`register_signal`; this also registers the model's generator under the
model name, so the production makes a signal sample like any other process.
The generator reads ``mass`` (GeV), ``ctau`` (cm) and the model parameters
from :attr:`GeneratorContext.parameters` (defaults from the model).

Dark particles carry PDG codes from the 9000001+ block (:data:`DARK_PDG`);
a dark particle without decay channels stays in the record as a final,
invisible particle.

Building blocks:

* :func:`radiated_boson`: e+e- -> l+l- X with X radiated off the final-state
  lepton line (three-body phase space weighted by the emission factor,
  unweighted by accept-reject).
* :func:`dark_species`: the decay information of X (two-body to a lepton or
  hadron pair with the angular law of its spin; any other channel list,
  e.g. three-body, or none for invisible X), decaying at a displaced vertex
  drawn from its c*tau.
* :func:`b_to_h_x`: Upsilon(4S) -> B Bbar with one B -> h X (two-body), the
  other B generic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from belleflow.generation.decays import Channel, EventRecord, Species, species
from belleflow.generation.generators.common import at_rest, beam_spot, finish, sqrt_s
from belleflow.generation.phasespace import FloatArray, mass_of, n_body, two_body
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator
from belleflow.kinematics import mass as pdg_mass

__all__ = [
    "DARK_PDG",
    "SignalModel",
    "b_to_h_x",
    "boson_off_muon_line",
    "dark_species",
    "emission_weight",
    "radiated_boson",
    "register_signal",
    "registered_signals",
]

#: PDG codes used for dark-sector particles (not in the PDG tables).
DARK_PDG: dict[str, int] = {
    "Zprime": 9000001,  # L_mu - L_tau Z' (vector)
    "S_mu": 9000002,  # muonphilic scalar
    "S": 9000003,  # long-lived scalar in B -> K(*) S
    "phi_L": 9000004,  # leptophilic scalar
    "a": 9000005,  # axion-like particle
    "h'": 9000006,  # dark Higgs
    "chi1": 9000007,  # inelastic dark matter, lighter state (invisible)
    "chi2": 9000008,  # inelastic dark matter, heavier state
    "N": 9000009,  # heavy neutral lepton
}

SignalGenerator = Callable[[int, GeneratorContext, float, float, Mapping[str, Any]], TruthEvents]


@dataclass(frozen=True)
class SignalModel:
    """A signal model a channel searches for.

    Attributes:
        name: Model name (the catalogue's ``model``; also the generator name).
        description: One line of physics.
        production: Production mechanism, e.g. ``"e+e- -> mu+mu- Z'"``.
        decay: Decay chain, e.g. ``"Z' -> mu+mu-"``.
        generate: ``(n, context, mass, ctau, parameters) -> TruthEvents``.
        parameters: Model parameters with their defaults.
        limit_units: Units of the quantity the channel limits (e.g. ``"fb"``).
        mass_range: Validity range of the mass, GeV.
    """

    name: str
    description: str
    production: str
    decay: str
    generate: SignalGenerator
    parameters: Mapping[str, Any] = field(default_factory=dict)
    limit_units: str = "fb"
    mass_range: tuple[float, float] = (0.0, math.inf)


_SIGNALS: dict[str, SignalModel] = {}


def register_signal(model: SignalModel) -> SignalModel:
    """Register ``model`` and its generator (under ``model.name``).

    Raises:
        ValueError: If the name is taken.
    """
    if model.name in _SIGNALS:
        msg = f"a signal model {model.name!r} is registered already"
        raise ValueError(msg)

    def generator(n: int, context: GeneratorContext) -> TruthEvents:
        params = {**model.parameters, **context.parameters}
        if "mass" not in params:
            msg = f"signal {model.name!r} needs a 'mass' parameter (GeV)"
            raise ValueError(msg)
        m = float(params["mass"])
        ctau = float(params.get("ctau", 0.0))
        lo, hi = model.mass_range
        if not lo <= m <= hi:
            msg = f"signal {model.name!r}: mass {m} GeV outside its range [{lo}, {hi}]"
            raise ValueError(msg)
        if ctau < 0.0:
            msg = f"signal {model.name!r}: ctau must be >= 0, got {ctau}"
            raise ValueError(msg)
        return model.generate(n, context, m, ctau, params)

    generator.__doc__ = f"Signal generator of {model.name}: {model.description}"
    register_generator(model.name)(generator)
    _SIGNALS[model.name] = model
    return model


def registered_signals() -> dict[str, SignalModel]:
    """All registered signal models by name."""
    return dict(_SIGNALS)


def _dot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(a[:, 3] * b[:, 3] - np.einsum("ij,ij->i", a[:, :3], b[:, :3]), float)


def emission_weight(
    p1: FloatArray, p2: FloatArray, k: FloatArray, m: float, spin: int
) -> FloatArray:
    """Emission factor of a boson k (mass^2 = k^2) off a lepton pair p1, p2 of mass m.

    With the lepton propagators ``D_i = 2 p_i.k + M^2``:

    * spin 1: the eikonal current squared,
      ``8 p1.p2/(D1 D2) - 4 m^2/D1^2 - 4 m^2/D2^2`` (soft and collinear enhanced);
    * spin 0: ``4 m^2 (1/D1 + 1/D2)^2 + (1/D1 + 1/D2)``, the Yukawa emission,
      collinear but not soft enhanced.

    Each is multiplied by the ``1 + cos^2`` law of the underlying
    e+e- -> l+l- (averaged over the two leptons' CM angles).
    """
    big_m2 = np.maximum(_dot(k, k), 0.0)
    d1 = 2.0 * _dot(p1, k) + big_m2
    d2 = 2.0 * _dot(p2, k) + big_m2
    if spin == 1:
        w = 8.0 * _dot(p1, p2) / (d1 * d2) - 4.0 * m * m / d1**2 - 4.0 * m * m / d2**2
    elif spin == 0:
        s = 1.0 / d1 + 1.0 / d2
        w = 4.0 * m * m * s * s + s
    else:
        msg = f"spin must be 0 or 1, got {spin}"
        raise ValueError(msg)
    c1 = p1[:, 2] / np.linalg.norm(p1[:, :3], axis=1)
    c2 = p2[:, 2] / np.linalg.norm(p2[:, :3], axis=1)
    return np.asarray(np.maximum(w, 0.0) * (1.0 + 0.5 * (c1 * c1 + c2 * c2)), float)


def radiated_boson(
    rng: np.random.Generator,
    roots: FloatArray,
    lepton_mass: float,
    boson_mass: FloatArray | Callable[[np.random.Generator, int], tuple[FloatArray, FloatArray]],
    spin: int,
    pilot: int = 20000,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """e+e- -> l- l+ X in the CM frame, X radiated off the lepton line.

    Flat three-body phase space weighted by :func:`emission_weight`,
    unweighted by accept-reject against 1.2 x the 99.9 % quantile of a pilot
    sample; the rare events above keep a residual weight.

    Args:
        rng: Random generator.
        roots: Per-event sqrt(s) (n,).
        lepton_mass: Mass of the radiating lepton, GeV.
        boson_mass: X mass per event (n,) (or a scalar broadcast), or a
            callable ``(rng, m) -> (masses, extra_weights)`` that draws masses
            (e.g. a virtual photon's) with an extra weight.
        spin: 0 or 1.
        pilot: Size of the pilot sample that fixes the weight cap.

    Returns:
        l-, l+, X four-vectors (n, 4) and the per-event residual weight.
    """
    n = roots.size

    def trial(m_events: np.ndarray) -> tuple[FloatArray, FloatArray]:
        if callable(boson_mass):
            mx, extra = boson_mass(rng, m_events.size)
        else:
            mx = np.broadcast_to(np.asarray(boson_mass, float), (n,))[m_events]
            extra = np.ones(m_events.size)
        masses = np.stack(
            (np.full(m_events.size, lepton_mass), np.full(m_events.size, lepton_mass), mx), axis=1
        )
        parent = np.zeros((m_events.size, 4))
        parent[:, 3] = roots[m_events]
        d = n_body(rng, parent, masses)
        w = emission_weight(d[:, 0], d[:, 1], d[:, 2], lepton_mass, spin) * extra
        return d, w

    _, w_pilot = trial(rng.integers(0, n, pilot))
    cap = 1.2 * float(np.quantile(w_pilot, 0.999))
    efficiency = max(float(np.mean(np.minimum(w_pilot, cap))) / cap, 1e-4)
    out = np.empty((n, 3, 4))
    weight = np.ones(n)
    todo = np.arange(n)
    for _ in range(10000):
        if todo.size == 0:
            break
        batch = rng.choice(todo, size=min(int(1.3 * todo.size / efficiency) + 10, 2_000_000))
        d, w = trial(batch)
        keep = rng.random(batch.size) * cap < w
        # Fill each pending event with the first accepted trial drawn for it.
        accepted_events, first = np.unique(batch[keep], return_index=True)
        rows = np.nonzero(keep)[0][first]
        out[accepted_events] = d[rows]
        weight[accepted_events] = np.maximum(w[rows] / cap, 1.0)
        todo = np.setdiff1d(todo, accepted_events, assume_unique=True)
    if todo.size:
        msg = "radiated_boson: accept-reject did not converge"
        raise RuntimeError(msg)
    return out[:, 0], out[:, 1], out[:, 2], weight


def dark_species(
    pdg: int, mass: float, ctau: float, daughters: tuple[int, ...] | None, spin: int
) -> Species:
    """Decay information of a dark particle.

    Args:
        pdg: Its code (:data:`DARK_PDG`).
        mass: Mass, GeV.
        ctau: Mean decay length, cm (0: prompt).
        daughters: Decay products (two-body: lepton or hadron pair; any
            number for phase space), None for an invisible particle.
        spin: 1 gives a two-body lepton pair ``1 + a cos^2`` about the
            helicity axis (``vector_ll``), 0 isotropy.
    """
    if daughters is None:
        return Species(pdg, mass, 0.0, 0.0, ())
    model = "vector_ll" if spin == 1 and len(daughters) == 2 else "phsp"
    return Species(pdg, mass, 0.0, ctau, (Channel(1.0, daughters, model),))


def b_to_h_x(
    n: int,
    context: GeneratorContext,
    b_pdg: int,
    h_pdg: int,
    x: Species,
) -> TruthEvents:
    """Upsilon(4S) -> B Bbar, one B (random charge) -> h X, the other generic.

    The signal B decays at its displaced vertex; X then flies according to
    its ``ctau`` and decays as ``x`` says.
    """
    rng = context.rng
    roots = sqrt_s(n, context)
    m_b = pdg_mass(b_pdg)
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    y4s_p4 = at_rest(roots)
    y4s = record.add(events, 300553, y4s_p4, vertex=vertex, decayed=True)
    sign = np.where(rng.random(n) < 0.5, 1, -1)
    masses = np.stack((np.full(n, m_b), np.full(n, m_b)), axis=1)
    bb = n_body(rng, y4s_p4, masses)
    # The first B is the signal one: the caller-side decay below replaces its table.
    sig = record.add(events, sign * b_pdg, bb[:, 0], vertex=vertex, mother=y4s, decayed=True)
    record.add(events, -sign * b_pdg, bb[:, 1], vertex=vertex, mother=y4s)
    record.to_lab(context.machine)
    pb = record.p4[sig]
    b_species = species(b_pdg)
    ctau_b = 0.0 if b_species is None else b_species.ctau
    flight = ctau_b * rng.exponential(1.0, n) / mass_of(pb)
    decay_vertex = vertex + flight[:, None] * pb[:, :3]
    h, xp = two_body(rng, pb, pdg_mass(h_pdg), x.mass)
    record.add(events, sign * h_pdg, h, vertex=decay_vertex, mother=sig)
    record.add(events, x.pdg, xp, vertex=decay_vertex, mother=sig)
    record.decay_all(rng, {x.pdg: x})
    return record.build()


# --- The first signals: four-muon Z' and muonphilic scalar ------------------


def boson_off_muon_line(spin: int, pdg: int, daughters: tuple[int, int]) -> SignalGenerator:
    """Generator of e+e- -> mu+mu- X, X radiated off the muon line and decaying to ``daughters``.

    Args:
        spin: Spin of X (1 for a Z', 0 for a scalar): emission factor and decay angles.
        pdg: PDG code of X (:data:`DARK_PDG`).
        daughters: PDG codes of the X decay products (e.g. ``(13, -13)``, ``(15, -15)``).
    """

    def generate(
        n: int, context: GeneratorContext, m: float, ctau: float, params: Mapping[str, Any]
    ) -> TruthEvents:
        del params  # the coupling scales the rate, not the kinematics
        m_mu = pdg_mass(13)
        threshold = sum(pdg_mass(abs(d)) for d in daughters)
        if m <= threshold:
            msg = f"X -> {daughters} needs a mass above {threshold:.4f} GeV, got {m}"
            raise ValueError(msg)
        roots = sqrt_s(n, context)
        if m >= float(np.min(roots)) - 2.0 * m_mu:
            msg = f"X mass {m} GeV is above the e+e- -> mu+mu- X end point"
            raise ValueError(msg)
        lm, lp, xp, w = radiated_boson(context.rng, roots, m_mu, np.full(n, m), spin)
        events = np.arange(n)
        vertex = beam_spot(n, context)
        record = EventRecord(n)
        record.add(events, 13, lm, vertex=vertex)
        record.add(events, -13, lp, vertex=vertex)
        record.add(events, pdg, xp, vertex=vertex)
        x = dark_species(pdg, m, ctau, daughters, spin)
        return finish(record, context, w, {pdg: x})

    return generate


ZPRIME_LMU_LTAU = register_signal(
    SignalModel(
        name="zprime_lmu_ltau",
        description="Z' of gauged L_mu - L_tau radiated off a muon, Z' -> mu+mu-",
        production="e+e- -> mu+mu- Z' (Z' off the muon line)",
        decay="Z' -> mu+mu-",
        generate=boson_off_muon_line(1, DARK_PDG["Zprime"], (13, -13)),
        parameters={"coupling": 0.01},
        limit_units="fb (sigma x B)",
        mass_range=(0.212, 9.0),
    )
)

MUONPHILIC_SCALAR = register_signal(
    SignalModel(
        name="muonphilic_scalar",
        description="Muonphilic scalar S radiated off a muon, S -> mu+mu-",
        production="e+e- -> mu+mu- S (S off the muon line)",
        decay="S -> mu+mu-",
        generate=boson_off_muon_line(0, DARK_PDG["S_mu"], (13, -13)),
        parameters={"coupling": 0.01},
        limit_units="fb (sigma x B)",
        mass_range=(0.212, 9.0),
    )
)
