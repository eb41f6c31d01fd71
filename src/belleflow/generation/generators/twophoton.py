"""Two-photon processes e+e- -> e+e- X: eeee, eemumu, eetautau, ggHadronic.

Equivalent-photon model with exact four-momentum conservation:

* each beam lepton radiates a photon carrying a fraction x (``dx/x`` in
  [:data:`X_MIN`, 1)) and scatters by a polar angle drawn log-uniformly
  in [m_e/E_beam, :data:`THETA_MAX`] (the ``dQ^2/Q^2`` law), uniform azimuth;
* the system X = beams - scattered e+ - scattered e- has mass W; events
  with W below the generator cut :data:`W_MIN` (or below the pair threshold)
  are redrawn, and the ``1/W^2`` fall of ``sigma(gamma gamma -> X)`` is
  applied by accept-reject (``(W_min/W)^2``);
* X decays to the pair in its rest frame with the massless-limit
  ``gamma gamma -> f fbar`` law ``(1 + c^2)/(1 - beta^2 c^2)`` about the
  beam axis of that frame.

``ggHadronic``: X -> pi+pi- (88 %), K+K- (8 %), p pbar (4 %).
"""

from __future__ import annotations

import numpy as np

from belleflow.beams import electron_mass
from belleflow.generation.decays import EventRecord
from belleflow.generation.generators.common import beam_spot, finish, sqrt_s
from belleflow.generation.phasespace import (
    FloatArray,
    boost,
    boost_to_rest,
    mass_of,
    rotate_from_axis,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator
from belleflow.kinematics import mass

__all__ = ["THETA_MAX", "W_MIN", "X_MIN", "gamma_gamma_pair", "two_photon_tags"]

#: Lowest photon energy fraction.
X_MIN = 1e-3
#: Largest scattering angle of the tagging leptons (rad).
THETA_MAX = 1.0
#: Generator-level cut on the mass of the two-photon system (GeV), by pair.
W_MIN = {11: 0.5, 13: 0.5, 15: 3.6, 211: 0.5}


def two_photon_tags(
    rng: np.random.Generator, roots: FloatArray, w_min: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Scattered e-, e+ and the two-photon system X (n, 4) in the CM frame."""
    n = roots.size
    me = electron_mass()
    e_beam = 0.5 * roots
    out_m = np.empty((n, 4))
    out_p = np.empty((n, 4))
    todo = np.arange(n)
    for _ in range(100000):
        if todo.size == 0:
            break
        k = todo.size
        eb = e_beam[todo]
        tags = []
        for sign in (1.0, -1.0):
            x = X_MIN ** rng.random(k)
            e = (1.0 - x) * eb
            p = np.sqrt(np.maximum(e * e - me * me, 0.0))
            th_min = me / eb
            theta = th_min * (THETA_MAX / th_min) ** rng.random(k)
            d = rotate_from_axis(sign * np.cos(theta), rng.uniform(0, 2 * np.pi, k), None)
            t = np.empty((k, 4))
            t[:, :3] = p[:, None] * d
            t[:, 3] = e
            tags.append(t)
        system = -(tags[0] + tags[1])
        system[:, 3] += roots[todo]
        m2 = system[:, 3] ** 2 - np.sum(system[:, :3] ** 2, axis=1)
        w = np.sqrt(np.maximum(m2, 0.0))
        ok = (m2 > w_min * w_min) & (rng.random(k) < (w_min / np.maximum(w, w_min)) ** 2)
        out_m[todo[ok]] = tags[0][ok]
        out_p[todo[ok]] = tags[1][ok]
        todo = todo[~ok]
    else:
        msg = "two-photon: no convergence"
        raise RuntimeError(msg)
    x_sys = -(out_m + out_p)
    x_sys[:, 3] += roots
    return out_m, out_p, x_sys


def gamma_gamma_pair(
    rng: np.random.Generator, system: FloatArray, m: float
) -> tuple[FloatArray, FloatArray]:
    """X -> f fbar with ``(1 + c^2)/(1 - beta^2 c^2)`` about the beam axis in the X frame."""
    n = system.shape[0]
    w = mass_of(system)
    beta = np.sqrt(np.maximum(1.0 - 4.0 * m * m / (w * w), 0.0))
    cos = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        b = np.minimum(beta[todo], 1.0 - 1e-9)
        a = np.arctanh(b)
        c = np.tanh(rng.uniform(-a, a)) / b
        ok = rng.random(todo.size) * 2.0 < 1.0 + c * c
        cos[todo[ok]] = c[ok]
        todo = todo[~ok]
    # Beam axis in the X rest frame: direction of the e- beam boosted there.
    beam = np.tile([0.0, 0.0, 1.0, 1.0], (n, 1))
    axis = boost_to_rest(beam, system)[:, :3]
    rest = np.zeros((n, 4))
    rest[:, 3] = w
    q = 0.5 * w * beta
    d = rotate_from_axis(cos, rng.uniform(0, 2 * np.pi, n), axis)
    a4 = np.empty((n, 4))
    a4[:, :3] = q[:, None] * d
    a4[:, 3] = 0.5 * w
    b4 = a4.copy()
    b4[:, :3] *= -1.0
    v = system[:, :3] / system[:, 3:4]
    return boost(a4, v), boost(b4, v)


def _generate(n: int, context: GeneratorContext, pair: int) -> TruthEvents:
    rng = context.rng
    roots = sqrt_s(n, context)
    em, ep, system = two_photon_tags(rng, roots, W_MIN[pair])
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    record.add(events, 11, em, vertex=vertex)
    record.add(events, -11, ep, vertex=vertex)
    if pair == 211:
        u = rng.random(n)
        code = np.where(u < 0.88, 211, np.where(u < 0.96, 321, 2212))
        # Channels closed at this W fall back to pi+pi- (always open above 0.5 GeV).
        threshold = 2.0 * np.select([code == 321, code == 2212], [mass(321), mass(2212)], mass(211))
        code = np.where(mass_of(system) > threshold, code, 211)
        for c in (211, 321, 2212):
            sel = np.nonzero(code == c)[0]
            if sel.size:
                a, b = gamma_gamma_pair(rng, system[sel], mass(c))
                record.add(events[sel], c, a, vertex=vertex[sel])
                record.add(events[sel], -c, b, vertex=vertex[sel])
    else:
        a, b = gamma_gamma_pair(rng, system, mass(pair))
        record.add(events, pair, a, vertex=vertex)
        record.add(events, -pair, b, vertex=vertex)
    return finish(record, context)


@register_generator("eeee")
def generate_eeee(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> e+e- e+e- (two-photon), W(e+e-) > 0.5 GeV."""
    return _generate(n, context, 11)


@register_generator("eemumu")
def generate_eemumu(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> e+e- mu+mu- (two-photon), W(mu+mu-) > 0.5 GeV."""
    return _generate(n, context, 13)


@register_generator("eetautau")
def generate_eetautau(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> e+e- tau+tau- (two-photon), taus decayed."""
    return _generate(n, context, 15)


@register_generator("ggHadronic")
def generate_gghadronic(n: int, context: GeneratorContext) -> TruthEvents:
    """e+e- -> e+e- h+h- (two-photon), W > 0.5 GeV."""
    return _generate(n, context, 211)
