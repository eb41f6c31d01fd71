"""QED s- and t-channel processes: mumu, ee (Bhabha), gg, tautau.

See ``docs/generation/processes.md`` for the physics and the approximations.
"""

from __future__ import annotations

import math

import numpy as np

from belleflow.generation.decays import EventRecord
from belleflow.generation.generators.common import (
    at_rest,
    beam_spot,
    finish,
    flag,
    fsr_pair,
    isr,
    sqrt_s,
)
from belleflow.generation.phasespace import (
    CosSampler,
    FloatArray,
    boost,
    one_plus_a_cos2,
    two_body,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator
from belleflow.kinematics import mass

__all__ = [
    "THETA_WINDOW_DEG",
    "bhabha_cos",
    "generate_ee",
    "generate_gg",
    "generate_mumu",
    "generate_tautau",
    "lepton_pair",
]

#: CM polar-angle window (degrees) of the Bhabha and gamma gamma samples.
THETA_WINDOW_DEG = (10.0, 170.0)


def _window() -> tuple[float, float]:
    lo, hi = THETA_WINDOW_DEG
    return math.cos(math.radians(hi)), math.cos(math.radians(lo))


def bhabha_cos(rng: np.random.Generator, n: int) -> FloatArray:
    """cos(theta*) of the e- in Bhabha scattering, ``((3 + c^2)/(1 - c))^2``, in the window.

    Proposal ``1/(1 - c)^2`` (``1/(1 - c)`` uniform), accepted with
    ``(3 + c^2)^2 / 16``.
    """
    c_lo, c_hi = _window()
    u_lo, u_hi = 1.0 / (1.0 - c_lo), 1.0 / (1.0 - c_hi)
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        c = 1.0 - 1.0 / rng.uniform(u_lo, u_hi, todo.size)
        ok = rng.random(todo.size) * 16.0 < (3.0 + c * c) ** 2
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def _gg_cos(rng: np.random.Generator, n: int) -> FloatArray:
    """cos(theta*) for e+e- -> gamma gamma: ``(1 + c^2)/(1 - c^2)`` in the window."""
    c_lo, c_hi = _window()
    a_lo, a_hi = math.atanh(c_lo), math.atanh(c_hi)
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        c = np.tanh(rng.uniform(a_lo, a_hi, todo.size))
        ok = rng.random(todo.size) * 2.0 < 1.0 + c * c
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def _pair_sampler(m: float, w: FloatArray) -> CosSampler:
    """1 + a cos^2 for a fermion pair of mass m at pair mass w: a = beta^2/(2 - beta^2)."""
    beta2 = float(np.clip(1.0 - 4.0 * m * m / float(np.mean(w)) ** 2, 0.0, 1.0))
    return one_plus_a_cos2(beta2 / (2.0 - beta2))


def lepton_pair(
    n: int, context: GeneratorContext, pdg: int, *, fsr_default: bool
) -> tuple[EventRecord, FloatArray]:
    """e+e- -> l+l-(gamma) with ISR and FSR; returns the record (CM frame) and sqrt(s)."""
    rng = context.rng
    m = mass(pdg)
    roots = sqrt_s(n, context)
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    if flag(context, "isr", True):
        photon, system, emit = isr(rng, roots, 2.0 * m + 0.05)
    else:
        photon, system, emit = np.zeros((n, 4)), at_rest(roots), np.zeros(n, bool)
    radiate = flag(context, "fsr", fsr_default)
    lm, lp, g1, g2 = fsr_pair(rng, system, m, _pair_sampler(m, roots), radiate)
    record.add(events, pdg, lm, vertex=vertex)
    record.add(events, -pdg, lp, vertex=vertex)
    record.add(events[emit], 22, photon[emit], vertex=vertex[emit])
    for g in (g1, g2):
        has = g[:, 3] > 0.0
        record.add(events[has], 22, g[has], vertex=vertex[has])
    return record, roots


@register_generator("mumu")
def generate_mumu(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> mu+mu-(gamma): 1 + cos^2, leading-log ISR, collinear FSR."""
    record, _ = lepton_pair(n, context, 13, fsr_default=True)
    return finish(record, context)


@register_generator("tautau")
def generate_tautau(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> tau+tau-(gamma): 1 + a cos^2, ISR, tau decays from the table (unpolarised)."""
    record, _ = lepton_pair(n, context, 15, fsr_default=False)
    return finish(record, context)


@register_generator("ee")
def generate_ee(n: int, context: GeneratorContext) -> TruthEvents:
    """Bhabha e+e- -> e+e-(gamma) in 10-170 deg: t-channel angular law, collinear FSR.

    No ISR: the t-channel dominates and E* > 0.15 GeV is then automatic.
    """
    rng = context.rng
    m = mass(11)
    roots = sqrt_s(n, context)
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    lm, lp, g1, g2 = fsr_pair(rng, at_rest(roots), m, bhabha_cos, flag(context, "fsr", True))
    record.add(events, 11, lm, vertex=vertex)
    record.add(events, -11, lp, vertex=vertex)
    for g in (g1, g2):
        has = g[:, 3] > 0.0
        record.add(events[has], 22, g[has], vertex=vertex[has])
    return finish(record, context)


@register_generator("gg")
def generate_gg(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> gamma gamma(gamma): (1 + c^2)/(1 - c^2) in 10-170 deg, third photon from ISR.

    The radiated photon uses the ISR spectrum with the hard system above
    sqrt(s)/2, so the two hard photons stay energetic.
    """
    rng = context.rng
    roots = sqrt_s(n, context)
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    if flag(context, "isr", True):
        photon, system, emit = isr(rng, roots, 0.5 * float(np.mean(roots)))
    else:
        photon, system, emit = np.zeros((n, 4)), at_rest(roots), np.zeros(n, bool)
    z = np.tile([0.0, 0.0, 1.0], (n, 1))
    g1, g2 = two_body(rng, at_rest(np.sqrt(system[:, 3] ** 2 - np.sum(system[:, :3] ** 2, 1))),
                      0.0, 0.0, _gg_cos, z)  # fmt: skip
    beta = system[:, :3] / system[:, 3:4]
    record.add(events, 22, boost(g1, beta), vertex=vertex)
    record.add(events, 22, boost(g2, beta), vertex=vertex)
    record.add(events[emit], 22, photon[emit], vertex=vertex[emit])
    return finish(record, context)
