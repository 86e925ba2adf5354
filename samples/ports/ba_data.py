"""The data of samples/ports/ba.py: a small random bundle-adjustment problem."""

import numpy as np
from ba import CENTRE, FOCAL, PRINCIPAL, RADIAL, ROT


def make_problem(n=3, m=5, p=12, seed=0):
    """A small random problem: cameras a few units from points near the origin."""
    rng = np.random.default_rng(seed)
    cams = np.empty((n, 11))
    cams[:, ROT : ROT + 3] = 0.3 * rng.standard_normal((n, 3))
    cams[:, CENTRE : CENTRE + 3] = rng.standard_normal((n, 3)) + [0.0, 0.0, -6.0]
    cams[:, FOCAL] = rng.uniform(0.8, 1.2, n)
    cams[:, PRINCIPAL : PRINCIPAL + 2] = 0.1 * rng.standard_normal((n, 2))
    cams[:, RADIAL : RADIAL + 2] = 0.01 * rng.standard_normal((n, 2))
    X = rng.standard_normal((m, 3))
    w = rng.uniform(0.5, 1.5, p)
    obs = np.stack([np.arange(p) % n, rng.integers(0, m, p)], axis=1)
    feats = 0.2 * rng.standard_normal((p, 2))
    return cams, X, w, obs, feats
