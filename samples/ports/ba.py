"""Bundle adjustment: the reprojection residuals of the standard AD benchmark.

A port, written for ad_compiler from the published definition of the ADBench
bundle-adjustment objective.  Each of ``n`` cameras has 11 parameters: an
axis-angle rotation ``r`` (3), a centre ``c`` (3), a focal length ``f``, a
principal point ``x0`` (2) and two radial distortion coefficients ``k``.
Observation ``i`` sees point ``X[obs[i, 1]]`` from camera ``obs[i, 0]`` at
``feats[i]`` with weight ``w[i]``.  Its residual is

    w[i] * (project(camera, point) - feats[i])

where ``project`` moves the point into the camera's frame (a Rodrigues
rotation of ``point - c``: ``p cos θ + (u × p) sin θ + u (u·p)(1 - cos θ)``
with ``θ = |r|``, ``u = r / θ``; ``p + r × p`` when ``r = 0``), divides by
depth, applies the radial distortion ``1 + k1 ρ² + k2 ρ⁴`` and scales by ``f``
about ``x0``.  Each weight also contributes ``1 - w[i]²``.  The benchmark
differentiates the residuals: their Jacobian, sparse, one block of rows per
observation.  Everything here runs on all observations at once: the cross
products are ``np.cross`` of (p, 3) arrays.

    python samples/ports/ba.py [--cams N] [--points M] [--obs P]

The data (a small random problem, from a fixed seed) is made by
``samples/ports/ba_data.py``, which ``adc compile samples/ports/ba.py`` does
not read: every function here is differentiated.
"""

import argparse

import numpy as np

from ad_compiler import jacrev

# where each camera parameter sits in a row of `cams`
ROT = 0
CENTRE = 3
FOCAL = 6
PRINCIPAL = 7
RADIAL = 9


def rotate(rot, X):
    """Each row of X turned by the axis-angle vector in the same row of rot."""
    sqtheta = np.sum(rot * rot, axis=-1, keepdims=True)
    still = sqtheta == 0.0
    theta = np.sqrt(np.where(still, 1.0, sqtheta))  # (1.0: no 0/0 where unused)
    axis = rot / theta
    cos, sin = np.cos(theta), np.sin(theta)
    along = np.sum(axis * X, axis=-1, keepdims=True) * (1.0 - cos)
    turned = X * cos + np.cross(axis, X) * sin + axis * along
    return np.where(still, X + np.cross(rot, X), turned)


def distort(k, p):
    """The radial distortion of the projected points p (rows) by k = (k1, k2)."""
    rsq = np.sum(p * p, axis=-1, keepdims=True)
    return p * (1.0 + k[:, 0:1] * rsq + k[:, 1:2] * rsq * rsq)


def project(cams, X):
    """Where each point X[i] lands in the image of camera cams[i]."""
    seen = rotate(cams[:, ROT : ROT + 3], X - cams[:, CENTRE : CENTRE + 3])
    flat = seen[:, 0:2] / seen[:, 2:3]
    lens = distort(cams[:, RADIAL : RADIAL + 2], flat)
    return lens * cams[:, FOCAL : FOCAL + 1] + cams[:, PRINCIPAL : PRINCIPAL + 2]


def ba_residuals(cams, X, w, obs, feats):
    """The 2p reprojection residuals, then the p weight residuals, in one vector."""
    seen_by = cams[obs[:, 0]]
    points = X[obs[:, 1]]
    reprojection = (project(seen_by, points) - feats) * w[:, None]
    weights = 1.0 - w * w
    return np.concatenate([np.ravel(reprojection), weights])


def ba_objective(cams, X, w, obs, feats):
    """Half the squared norm of the residuals (what a least-squares solver lowers)."""
    r = ba_residuals(cams, X, w, obs, feats)
    return 0.5 * np.sum(r * r)


if __name__ == "__main__":
    from ba_data import make_problem  # (the data: not differentiated, not compiled)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cams", type=int, default=3)
    parser.add_argument("--points", type=int, default=5)
    parser.add_argument("--obs", type=int, default=12)
    a = parser.parse_args()
    problem = make_problem(a.cams, a.points, a.obs)
    J_cams, J_X, J_w = jacrev(ba_residuals, argnums=(0, 1, 2))(*problem)
    print(f"objective {ba_objective(*problem):.6f}")
    print("residuals", ba_residuals(*problem).shape)
    print("Jacobian blocks", J_cams.shape, J_X.shape, J_w.shape)
