"""Continuum e+e- -> q qbar (uubar, ddbar, ssbar, ccbar): a two-jet string-chain model.

A deliberately simple fragmentation model, vectorised over events:

1. ISR as for mu pairs (hard system above :data:`W_MIN`).
2. Flavour chain: the string between q and qbar breaks ``N - 1`` times
   (``N = 2 + Poisson(mu)``, :data:`MEAN_EXTRA_HADRONS`), each break making a
   u, d or s pair with probabilities 1 : 1 : 0.3; consecutive quark and
   antiquark form a meson, pseudoscalar or vector (:data:`VECTOR_FRACTION`).
   Charge, strangeness and charm are conserved exactly; the primary quark
   sits in the leading meson of each jet (charm gives D, D*, Ds, Ds*).
   Same-flavour light pairs become pi0/eta/eta' or rho0/omega, s sbar
   eta/eta' or phi.  With probability :data:`BARYON_PAIR_PROBABILITY` an
   event also gets a baryon pair (p pbar, n nbar or Lambda Lambdabar), one
   baryon per jet.
3. Kinematics: the first half of the chain is jet 1, the rest jet 2.  In
   each jet, hadrons share the longitudinal momentum with Dirichlet
   fractions (harder for the leading meson, hardest for charm) and get a
   Gaussian pT of :data:`PT_SIGMA` per component (jet sum zero).  Each jet
   then has an invariant mass; the two jets are placed back to back in the
   hard-system frame with exact two-body kinematics, along an axis drawn
   from ``1 + cos^2``, so energy and momentum are conserved exactly.
   Events whose jet masses do not fit are redrawn.

Partons and strings are not written to the record: the primaries are the
hadrons.  Charm baryons are not produced.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from belleflow.generation.decays import EventRecord, sample_masses
from belleflow.generation.generators.common import at_rest, beam_spot, finish, flag, isr, sqrt_s
from belleflow.generation.phasespace import (
    FloatArray,
    boost,
    kallen_momentum,
    one_plus_a_cos2,
    orthonormal_frame,
    rotate_from_axis,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator

__all__ = [
    "BARYON_PAIR_PROBABILITY",
    "MEAN_EXTRA_HADRONS",
    "PT_SIGMA",
    "VECTOR_FRACTION",
    "W_MIN",
    "generate_qqbar",
]

IntArray = npt.NDArray[np.int64]

#: Mean of the Poisson number of primary hadrons beyond the two leading ones.
MEAN_EXTRA_HADRONS = 5.5
#: Gaussian pT per component (GeV) of hadrons about their jet axis.
PT_SIGMA = 0.30
#: Vector / (pseudoscalar + vector) by heaviest flavour in the meson (d, u, s, c).
VECTOR_FRACTION = {1: 0.45, 2: 0.45, 3: 0.55, 4: 0.6}
#: Probability of an extra baryon-antibaryon pair per event.
BARYON_PAIR_PROBABILITY = 0.08
#: Lowest hard-system mass after ISR, by primary flavour (GeV).
W_MIN = {1: 2.0, 2: 2.0, 3: 2.0, 4: 4.5}

#: String-break flavours d, u, s with u : d : s = 1 : 1 : 0.3.
_BREAK_P = np.array([1.0, 1.0, 0.3]) / 2.3
#: Dirichlet shapes of the leading hadron by primary flavour, and of the others.
_LEAD_SHAPE = {1: 2.5, 2: 2.5, 3: 3.0, 4: 7.0}
_OTHER_SHAPE = 1.6

# Meson codes (pseudoscalar, vector) for quark q and antiquark of flavour a,
# q, a in d=1, u=2, s=3, c=4; same-flavour light entries are resolved below.
_MESON = np.zeros((5, 5, 2), dtype=np.int64)
for (q, a), (ps, vec) in {
    (2, 1): (211, 213), (1, 2): (-211, -213),
    (2, 3): (321, 323), (3, 2): (-321, -323),
    (1, 3): (311, 313), (3, 1): (-311, -313),
    (4, 2): (421, 423), (2, 4): (-421, -423),
    (4, 1): (411, 413), (1, 4): (-411, -413),
    (4, 3): (431, 433), (3, 4): (-431, -433),
    (4, 4): (443, 443),
}.items():  # fmt: skip
    _MESON[q, a] = (ps, vec)


def _same_flavour(rng: np.random.Generator, flavour: IntArray, vector: np.ndarray) -> IntArray:
    """Neutral mesons of q qbar: uu/dd -> pi0 0.5, eta 0.35, eta' 0.15 or rho0/omega; ss -> eta/eta' or phi."""
    u = rng.random(flavour.size)
    light = np.where(u < 0.5, 111, np.where(u < 0.85, 221, 331))
    light_v = np.where(u < 0.5, 113, 223)
    strange = np.where(u < 0.6, 221, 331)
    ps = np.where(flavour == 3, strange, light)
    vec = np.where(flavour == 3, 333, light_v)
    return np.asarray(np.where(vector, vec, ps), dtype=np.int64)


def _chain(
    rng: np.random.Generator, n: int, f0: int, mu: FloatArray, baryons: float
) -> tuple[IntArray, IntArray, IntArray, np.ndarray]:
    """Hadron codes of ``n`` string chains: (event, pdg, jet 0/1, leading flag)."""
    n_had = 2 + rng.poisson(mu)
    event = np.repeat(np.arange(n), n_had)
    start = np.concatenate(([0], np.cumsum(n_had)[:-1]))
    rank = np.arange(event.size) - start[event]
    last = rank == n_had[event] - 1
    # Flavour of the break *before* each hadron: hadron k = (f_k, anti f_{k+1}).
    brk = rng.choice(np.array([1, 2, 3]), size=event.size, p=_BREAK_P)
    quark = np.where(rank == 0, f0, brk)
    anti = np.empty_like(quark)
    anti[:-1] = quark[1:]
    anti[last] = f0
    heavy = np.maximum(quark, anti)
    frac = np.vectorize(VECTOR_FRACTION.__getitem__)(heavy)
    vector = rng.random(event.size) < frac
    pdg = _MESON[quark, anti, vector.astype(np.int64)]
    same = quark == anti
    if f0 != 4 or same.any():
        pdg = np.where(same & (quark < 4), _same_flavour(rng, quark, vector), pdg)
    n_first = n_had // 2 + (rng.random(n) < 0.5) * (n_had % 2)
    n_first = np.maximum(n_first, 1)
    jet = (rank >= n_first[event]).astype(np.int64)
    jet = np.where(last, 1, np.where(rank == 0, 0, jet))
    leading = (rank == 0) | last
    # Baryon pairs: baryon in jet 0, antibaryon in jet 1.
    has = np.nonzero(rng.random(n) < baryons)[0]
    u = rng.random(has.size)
    baryon = np.where(u < 0.4, 2212, np.where(u < 0.7, 2112, 3122))
    event = np.concatenate((event, has, has))
    pdg = np.concatenate((pdg, baryon, -baryon))
    jet = np.concatenate((jet, np.zeros(has.size, np.int64), np.ones(has.size, np.int64)))
    leading = np.concatenate((leading, np.zeros(2 * has.size, bool)))
    return event, np.asarray(pdg, np.int64), jet, leading


def _jets(
    rng: np.random.Generator, f0: int, w: FloatArray, attempt: int
) -> tuple[IntArray, IntArray, FloatArray, np.ndarray]:
    """Hadrons (event, pdg, p4 in the hard-system rest frame along +-z) and the ok mask.

    Events redrawn many times (low sqrt(s') after hard ISR) get a lower
    multiplicity and no baryon pair, so that they fit.
    """
    n = w.size
    damp = 0.7 ** max(attempt - 3, 0)
    mu = damp * MEAN_EXTRA_HADRONS * np.sqrt(w / 10.58)
    baryons = BARYON_PAIR_PROBABILITY if attempt < 5 else 0.0
    event, pdg, jet, leading = _chain(rng, n, f0, mu, baryons)
    m = sample_masses(rng, pdg)
    shape = np.where(leading, _LEAD_SHAPE[f0], _OTHER_SHAPE)
    g = rng.gamma(shape)
    jid = 2 * event + jet
    gsum = np.bincount(jid, weights=g, minlength=2 * n)
    x = g / gsum[jid]
    pt = PT_SIGMA * rng.standard_normal((event.size, 2))
    count = np.bincount(jid, minlength=2 * n)
    for c in range(2):
        mean = np.bincount(jid, weights=pt[:, c], minlength=2 * n) / np.maximum(count, 1)
        pt[:, c] -= mean[jid]
    p0 = 0.5 * w[event]
    p4 = np.empty((event.size, 4))
    p4[:, 0] = pt[:, 0]
    p4[:, 1] = pt[:, 1]
    p4[:, 2] = x * p0
    p4[:, 3] = np.sqrt(m * m + pt[:, 0] ** 2 + pt[:, 1] ** 2 + p4[:, 2] ** 2)
    e_jet = np.bincount(jid, weights=p4[:, 3], minlength=2 * n)
    pz_jet = np.bincount(jid, weights=p4[:, 2], minlength=2 * n)
    m_jet = np.sqrt(np.maximum(e_jet**2 - pz_jet**2, 0.0))
    m1, m2 = m_jet[0::2], m_jet[1::2]
    ok = (m1 + m2 < w) & (count[0::2] > 0) & (count[1::2] > 0)
    # Jet rest frame, then back to back in the hard-system frame.
    to_rest = np.zeros((event.size, 3))
    to_rest[:, 2] = -pz_jet[jid] / e_jet[jid]
    p4 = boost(p4, to_rest)
    q = kallen_momentum(w, m1, np.where(ok, m2, 0.0))
    e1 = np.sqrt(q * q + m1 * m1)
    e2 = np.sqrt(q * q + m2 * m2)
    out = np.zeros((event.size, 3))
    out[:, 2] = np.where(jet == 0, q[event] / e1[event], q[event] / e2[event])
    p4 = boost(p4, out)
    # Jet 2 points along -z: rotate it by pi about the y axis.
    flip = jet == 1
    p4[flip, 0] *= -1.0
    p4[flip, 2] *= -1.0
    return event, pdg, p4, ok


def generate_qqbar(n: int, context: GeneratorContext, f0: int) -> TruthEvents:
    """e+e- -> q qbar with primary flavour ``f0`` (1 d, 2 u, 3 s, 4 c)."""
    rng = context.rng
    roots = sqrt_s(n, context)
    if flag(context, "isr", True):
        photon, system, emit = isr(rng, roots, W_MIN[f0])
    else:
        photon, system, emit = np.zeros((n, 4)), at_rest(roots), np.zeros(n, bool)
    w = np.sqrt(np.maximum(system[:, 3] ** 2 - np.sum(system[:, :3] ** 2, axis=1), 0.0))
    events_l: list[IntArray] = []
    pdg_l: list[IntArray] = []
    p4_l: list[FloatArray] = []
    todo = np.arange(n)
    for attempt in range(100):
        if todo.size == 0:
            break
        ev, pdg, p4, ok = _jets(rng, f0, w[todo], attempt)
        keep = ok[ev]
        events_l.append(todo[ev[keep]])
        pdg_l.append(pdg[keep])
        p4_l.append(p4[keep])
        todo = todo[~ok]
    if todo.size:
        msg = "continuum: could not fit the jets into sqrt(s') (W_MIN too low?)"
        raise RuntimeError(msg)
    event = np.concatenate(events_l)
    pdg = np.concatenate(pdg_l)
    p4 = np.concatenate(p4_l)
    # Jet axis ~ 1 + cos^2 about the beam, then boost with the hard system.
    axis = rotate_from_axis(one_plus_a_cos2(1.0)(rng, n), rng.uniform(0, 2 * np.pi, n), None)
    u, v, z = orthonormal_frame(axis)
    e = event
    rotated = np.empty_like(p4)
    rotated[:, :3] = p4[:, :1] * u[e] + p4[:, 1:2] * v[e] + p4[:, 2:3] * z[e]
    rotated[:, 3] = p4[:, 3]
    rotated = boost(rotated, (system[:, :3] / system[:, 3:4])[e])
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    record.add(event, pdg, rotated, vertex=vertex[event])
    events = np.arange(n)
    record.add(events[emit], 22, photon[emit], vertex=vertex[emit])
    return finish(record, context)


@register_generator("uubar")
def generate_uubar(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> u ubar."""
    return generate_qqbar(n, context, 2)


@register_generator("ddbar")
def generate_ddbar(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> d dbar."""
    return generate_qqbar(n, context, 1)


@register_generator("ssbar")
def generate_ssbar(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> s sbar."""
    return generate_qqbar(n, context, 3)


@register_generator("ccbar")
def generate_ccbar(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> c cbar (leading D, D*, Ds, Ds* in each jet)."""
    return generate_qqbar(n, context, 4)
