"""e+e- -> Upsilon(4S) -> B Bbar: BBcharged (B+B-) and BBmixed (B0 B0bar with mixing).

The Upsilon(4S) is written as the first particle (four-momentum of the
beams, so its mass is the event's sqrt(s)); the B pair follows the P-wave
``sin^2(theta*)`` law about the beam axis with p* about 0.33 GeV.  B decays
come from :data:`~belleflow.generation.decays.DECAY_TABLE` (generic B
decays), at vertices displaced by the B lifetime.

Mixing (BBmixed): the coherent C = -1 pair ends up same-flavour with the
time-integrated probability ``chi_d`` (:data:`CHI_D`).  In such events one of
the two B mesons, chosen at random, oscillates: as in EvtGen's record, it
"decays" at its displaced vertex into a single B of the opposite flavour,
which decays at that same vertex.
"""

from __future__ import annotations

import numpy as np

from belleflow.generation.decays import EventRecord, species
from belleflow.generation.generators.common import at_rest, beam_spot, sqrt_s
from belleflow.generation.phasespace import one_plus_a_cos2, two_body
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator
from belleflow.kinematics import mass

__all__ = ["CHI_D", "UPSILON_4S", "generate_bb", "generate_bbcharged", "generate_bbmixed"]

#: Time-integrated B0 mixing probability chi_d (PDG 2024: 0.1858 +- 0.0011).
CHI_D = 0.1858

#: PDG code of the Upsilon(4S).
UPSILON_4S = 300553


def generate_bb(n: int, context: GeneratorContext, b_pdg: int, mixing: bool) -> TruthEvents:
    """Upsilon(4S) -> B Bbar with ``B = b_pdg`` (521 or 511)."""
    rng = context.rng
    roots = sqrt_s(n, context)
    m_b = mass(b_pdg)
    threshold = 2.0 * m_b + 1e-4
    if context.machine.ecms <= threshold:
        msg = f"sqrt(s) = {context.machine.ecms:.4f} GeV is below the B-pair threshold"
        raise ValueError(msg)
    # Below threshold there are no B pairs: redraw those sqrt(s) (the spread's low tail).
    low = np.nonzero(roots <= threshold)[0]
    for _ in range(1000):
        if low.size == 0:
            break
        roots[low] = sqrt_s(low.size, context)
        low = low[roots[low] <= threshold]
    roots[low] = context.machine.ecms
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    y4s_p4 = at_rest(roots)
    y4s = record.add(events, UPSILON_4S, y4s_p4, vertex=vertex, decayed=True)
    b, bbar = two_body(
        rng, y4s_p4, m_b, m_b, one_plus_a_cos2(-1.0), np.tile([0.0, 0.0, 1.0], (n, 1))
    )
    # The B/Bbar order in the record is random, as in a generic generator.
    swap = rng.random(n) < 0.5
    first = np.where(swap[:, None], bbar, b)
    second = np.where(swap[:, None], b, bbar)
    pdg_first = np.where(swap, -b_pdg, b_pdg)
    record.add(events, pdg_first, first, vertex=vertex, mother=y4s)
    record.add(events, -pdg_first, second, vertex=vertex, mother=y4s)
    record.to_lab(context.machine)
    if mixing:
        p4 = record.p4
        mixed = np.nonzero(rng.random(n) < CHI_D)[0]
        which = rng.integers(1, 3, mixed.size)  # 1 or 2: first or second B
        # Record indices so far: Upsilon(4S) 0..n-1, first B n..2n-1, second B 2n..3n-1.
        idx = np.where(which == 1, n + mixed, 2 * n + mixed)
        s = species(b_pdg)
        assert s is not None  # B0 is in the decay table
        pb = p4[idx]
        m = np.sqrt(pb[:, 3] ** 2 - np.sum(pb[:, :3] ** 2, axis=1))
        flight = s.ctau * rng.exponential(1.0, idx.size) / m
        decay_vertex = vertex[mixed] + flight[:, None] * pb[:, :3]
        record.mark_decayed(idx)
        record.add(mixed, -record.pdg[idx], pb.copy(), vertex=decay_vertex, mother=idx, prompt=True)
    record.decay_all(rng)
    return record.build()


@register_generator("BBcharged")
def generate_bbcharged(n: int, context: GeneratorContext) -> TruthEvents:
    """Upsilon(4S) -> B+ B-, generic B decays."""
    return generate_bb(n, context, 521, mixing=False)


@register_generator("BBmixed")
def generate_bbmixed(n: int, context: GeneratorContext) -> TruthEvents:
    """Upsilon(4S) -> B0 B0bar with time-integrated mixing, generic B decays."""
    return generate_bb(n, context, 511, mixing=True)
