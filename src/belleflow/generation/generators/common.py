"""Shared pieces of the generators: CM energy, beam spot, ISR, FSR, finishing.

Every generator works the same way: draw the hard process in the CM frame
(``sqrt(s)`` per event, smeared by ``machine.ecms_spread`` unless the context
parameter ``smear_ecms`` is False), add the primaries to an
:class:`~belleflow.generation.decays.EventRecord`, transform them to the lab
with the machine's exact CM -> lab matrix, decay everything and pack.

Context parameters understood by all generators:

* ``smear_ecms`` (bool, default True): per-event Gaussian sqrt(s) spread.
* ``beam_spot`` (bool, default False): primaries at a Gaussian beam spot
  (:data:`BEAM_SPOT_CM`) instead of exactly at the origin.
* ``isr`` (bool, default True): initial-state radiation where a process has it.
* ``fsr`` (bool, default True): final-state radiation off leptons (mumu, ee).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from belleflow.beams import electron_mass
from belleflow.generation.decays import EventRecord, Species
from belleflow.generation.phasespace import (
    CosSampler,
    FloatArray,
    boost,
    mass_of,
    rotate_from_axis,
    two_body,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents
from belleflow.theory import ALPHA

__all__ = [
    "ALPHA",
    "BEAM_SPOT_CM",
    "ISR_SOFT_FRACTION",
    "accept_reject",
    "at_rest",
    "beam_spot",
    "finish",
    "flag",
    "fsr_pair",
    "isr",
    "sqrt_s",
]


#: Gaussian beam-spot sizes (x, y, z) in cm, SuperKEKB nano-beam scale
#: (about 10 um x 0.2 um x 350 um): an estimate, used only with ``beam_spot``.
BEAM_SPOT_CM = (10e-4, 0.2e-4, 350e-4)

#: ISR energy fractions below this (E_gamma below about 1 MeV) are not emitted:
#: the photon would be invisible and the soft part of the spectrum only
#: shifts sqrt(s') by less than the beam-energy spread.
ISR_SOFT_FRACTION = 2e-4


def flag(context: GeneratorContext, name: str, default: bool) -> bool:
    """A boolean context parameter."""
    return bool(context.parameters.get(name, default))


def sqrt_s(n: int, context: GeneratorContext) -> FloatArray:
    """Per-event sqrt(s) in GeV: the machine's, Gaussian-smeared by its spread."""
    ecms = float(context.machine.ecms)
    spread = float(context.machine.ecms_spread)
    if spread > 0.0 and flag(context, "smear_ecms", True):
        return np.asarray(ecms + spread * context.rng.standard_normal(n), dtype=np.float64)
    return np.full(n, ecms)


def at_rest(mass: FloatArray) -> FloatArray:
    """Four-vectors (n, 4) at rest with the given masses."""
    out = np.zeros((mass.size, 4))
    out[:, 3] = mass
    return out


def beam_spot(n: int, context: GeneratorContext) -> FloatArray:
    """Primary vertices (n, 3) in cm: the origin, or a Gaussian beam spot if asked."""
    if not flag(context, "beam_spot", False):
        return np.zeros((n, 3))
    return np.asarray(context.rng.standard_normal((n, 3)) * np.array(BEAM_SPOT_CM), float)


def accept_reject(
    rng: np.random.Generator, weight: FloatArray, cap_quantile: float = 0.999
) -> tuple[np.ndarray, FloatArray]:
    """Unweight events: keep each with probability min(w, cap)/cap.

    The cap is 1.2 x the ``cap_quantile`` of the weights; the few events above
    it keep the residual weight ``w / cap`` (partial unweighting), so the
    sample stays exact.

    Returns:
        The kept indices and their residual weights (1 for most).
    """
    cap = 1.2 * float(np.quantile(weight, cap_quantile)) if weight.size else 1.0
    if cap <= 0.0:
        cap = 1.0
    keep = rng.random(weight.size) * cap < weight
    idx = np.nonzero(keep)[0]
    return idx, np.maximum(weight[idx] / cap, 1.0)


def _isr_beta(s: float) -> float:
    """Leading-log ISR exponent beta = 2 alpha/pi (ln(s/m_e^2) - 1)."""
    return 2.0 * ALPHA / math.pi * (math.log(s / electron_mass() ** 2) - 1.0)


def isr(
    rng: np.random.Generator, roots: FloatArray, w_min: float
) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """One collinear-ish ISR photon per event and the recoiling hard system.

    The energy fraction x = E_gamma/E_beam follows the leading-log radiator
    times the 1/s' rise of an s-channel cross section,
    ``beta x^(beta-1) (1 - x + x^2/2) / (1 - x)``, for ``x < 1 - w_min^2/s``,
    sampled exactly as the sum of ``beta x^(beta-1)`` and
    ``beta x^(beta+1) / (2 (1 - x))``.  The photon goes along the e- or e+
    with ``dN/dcos ~ 1/(1 - beta_e cos)``.  Fractions below
    :data:`ISR_SOFT_FRACTION` emit nothing.

    Args:
        rng: Random generator.
        roots: Per-event sqrt(s) (n,).
        w_min: Lowest invariant mass of the hard system, GeV.

    Returns:
        Photon four-vectors (n, 4) (zero where none), hard-system four-vectors
        (n, 4), and the mask of events with a photon.
    """
    n = roots.size
    s0 = float(np.mean(roots)) ** 2
    beta = _isr_beta(s0)
    x_max = 1.0 - w_min * w_min / s0
    y_max = -math.log1p(-x_max)
    grid = np.linspace(0.0, y_max, 2001)
    xg = -np.expm1(-grid)
    f = 0.5 * beta * xg ** (beta + 1.0)
    i_b = float(np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(grid)))
    i_a = x_max**beta
    x = np.empty(n)
    hard = rng.random(n) < i_b / (i_a + i_b)
    n_a = int(n - hard.sum())
    x[~hard] = x_max * rng.random(n_a) ** (1.0 / beta)
    todo = np.nonzero(hard)[0]
    while todo.size:
        y = y_max * rng.random(todo.size)
        xt = -np.expm1(-y)
        ok = rng.random(todo.size) < xt ** (beta + 1.0)
        x[todo[ok]] = xt[ok]
        todo = todo[~ok]
    emit = x > ISR_SOFT_FRACTION
    k = np.where(emit, 0.5 * x * roots, 0.0)
    be = np.sqrt(np.maximum(1.0 - (2.0 * electron_mass() / roots) ** 2, 0.0))
    t = (1.0 - be) * ((1.0 + be) / (1.0 - be)) ** rng.random(n)
    cos = (1.0 - t) / be * np.where(rng.random(n) < 0.5, 1.0, -1.0)
    direction = rotate_from_axis(cos, rng.uniform(0.0, 2.0 * np.pi, n), None)
    photon = np.zeros((n, 4))
    photon[:, :3] = k[:, None] * direction
    photon[:, 3] = k
    system = -photon
    system[:, 3] += roots
    return photon, system, emit


def fsr_pair(
    rng: np.random.Generator,
    system: FloatArray,
    lepton_mass: float,
    cos_sampler: CosSampler,
    radiate: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """A lepton pair from ``system`` with collinear final-state radiation.

    Each lepton leaves the hard vertex as a virtual lepton of mass
    ``m / sqrt(1 - z)``, z drawn from ``beta_f z^(beta_f - 1)`` with
    ``beta_f = alpha/pi (ln(s/m^2) - 1)``; it then splits isotropically in its
    rest frame into the real lepton and a photon, which is therefore nearly
    collinear with energy fraction about z.  The pair axis follows
    ``cos_sampler`` about +z in the system rest frame.

    Returns:
        lepton-, lepton+, photon from lepton-, photon from lepton+ (n, 4) each;
        photons are zero four-vectors where none is emitted.
    """
    n = system.shape[0]
    m_sys = mass_of(system)
    zero = np.zeros((n, 4))
    if radiate:
        beta_f = ALPHA / math.pi * (math.log(float(np.mean(m_sys)) ** 2 / lepton_mass**2) - 1.0)
        z = rng.random((n, 2)) ** (1.0 / beta_f)
        z = np.where(z > ISR_SOFT_FRACTION, np.minimum(z, 0.99), 0.0)
        m_star = lepton_mass / np.sqrt(1.0 - z)
        # Keep both virtual masses within the pair's phase space.
        m_star = np.minimum(m_star, 0.49 * m_sys[:, None])
        m_star = np.maximum(m_star, lepton_mass)
    else:
        m_star = np.full((n, 2), lepton_mass)
    rest = at_rest(m_sys)
    a, b = two_body(
        rng, rest, m_star[:, 0], m_star[:, 1], cos_sampler, np.tile([0.0, 0, 1], (n, 1))
    )
    beta = system[:, :3] / system[:, 3:4]
    a, b = boost(a, beta), boost(b, beta)
    out = [a, b]
    photons = [zero.copy(), zero.copy()]
    if radiate:
        for j in range(2):
            split = m_star[:, j] > lepton_mass * (1.0 + 1e-12)
            if split.any():
                lep, gam = two_body(
                    rng, out[j][split], lepton_mass, 0.0, parent_mass=m_star[split, j]
                )
                out[j][split] = lep
                photons[j][split] = gam
    return out[0], out[1], photons[0], photons[1]


def finish(
    record: EventRecord,
    context: GeneratorContext,
    weight: FloatArray | None = None,
    overrides: Mapping[int, Species] | None = None,
    cos_samplers: Mapping[int, CosSampler] | None = None,
) -> TruthEvents:
    """CM -> lab, decay everything, pack."""
    record.to_lab(context.machine)
    record.decay_all(context.rng, overrides, cos_samplers)
    return record.build(weight)
