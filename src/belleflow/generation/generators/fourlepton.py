"""Annihilation four-lepton processes: mumumumu and mumutautau.

e+e- -> l+l- gamma*, gamma* -> l'+l'-: the virtual photon is radiated off
the final-state lepton line with the spin-1 emission factor of
:func:`belleflow.generation.signals.radiated_boson`; its mass is drawn from
``dM^2/M^2`` times ``beta (1 + 2 m'^2/M^2)`` (the vacuum-polarisation
spectral function of the pair) between ``2 m'`` and ``sqrt(s) - 2 m``.
mumutautau is half mu+mu- (gamma* -> tau+tau-), half tau+tau- (gamma* -> mu+mu-).
The virtual photon is not written to the record: the four leptons are primaries.
"""

from __future__ import annotations

import numpy as np

from belleflow.generation.decays import EventRecord
from belleflow.generation.generators.common import beam_spot, finish, sqrt_s
from belleflow.generation.phasespace import FloatArray, one_plus_a_cos2, two_body
from belleflow.generation.signals import radiated_boson
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator
from belleflow.kinematics import mass

__all__ = ["generate_mumumumu", "generate_mumutautau", "lepton_pair_emission"]


def lepton_pair_emission(
    rng: np.random.Generator, roots: FloatArray, radiator: int, pair: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """radiator-, radiator+, pair-, pair+ four-vectors (CM) and residual weights."""
    m_r, m_p = mass(radiator), mass(pair)
    lo = 2.0 * m_p * 1.0001
    hi = float(np.min(roots)) - 2.0 * m_r

    def draw(g: np.random.Generator, k: int) -> tuple[FloatArray, FloatArray]:
        m = lo * (hi / lo) ** g.random(k)  # dM/M = dM^2/(2 M^2)
        beta = np.sqrt(np.maximum(1.0 - 4.0 * m_p**2 / m**2, 0.0))
        return m, beta * (1.0 + 2.0 * m_p**2 / m**2)

    lm, lp, gstar, w = radiated_boson(rng, roots, m_r, draw, spin=1)
    pm = np.sqrt(np.maximum(gstar[:, 3] ** 2 - np.sum(gstar[:, :3] ** 2, 1), 0.0))
    r = 4.0 * m_p**2 / float(np.mean(pm**2))
    a, b = two_body(rng, gstar, m_p, m_p, one_plus_a_cos2((1.0 - r) / (1.0 + r)))
    return lm, lp, a, b, w


def _fill(
    record: EventRecord,
    events: np.ndarray,
    vertex: FloatArray,
    codes: tuple[int, int],
    vectors: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    for code, (minus, plus) in zip(codes, (vectors[:2], vectors[2:]), strict=True):
        record.add(events, code, minus, vertex=vertex)
        record.add(events, -code, plus, vertex=vertex)


@register_generator("mumumumu")
def generate_mumumumu(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> mu+mu- mu+mu- (a muon pair radiated off the muon line)."""
    roots = sqrt_s(n, context)
    lm, lp, a, b, w = lepton_pair_emission(context.rng, roots, 13, 13)
    record = EventRecord(n)
    _fill(record, np.arange(n), beam_spot(n, context), (13, 13), (lm, lp, a, b))
    return finish(record, context, w)


@register_generator("mumutautau")
def generate_mumutautau(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> mu+mu- tau+tau- (either pair radiated off the other), taus decayed."""
    rng = context.rng
    roots = sqrt_s(n, context)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    weight = np.ones(n)
    first = rng.random(n) < 0.5
    for radiator, pair, sel in ((13, 15, first), (15, 13, ~first)):
        ev = np.nonzero(sel)[0]
        if ev.size == 0:
            continue
        lm, lp, a, b, w = lepton_pair_emission(rng, roots[ev], radiator, pair)
        _fill(record, ev, vertex[ev], (radiator, pair), (lm, lp, a, b))
        weight[ev] = w
    return finish(record, context, weight)
