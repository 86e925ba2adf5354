"""BA: the bundle-adjustment reprojection error of ADBench and its Jacobian blocks.

Written for ad_compiler from the published definition.  A camera has 11
parameters: an axis-angle rotation (0:3), a centre (3:6), a focal length (6),
a principal point (7:9) and two radial distortion coefficients (9:11).
Observation i sees point ``X[obs[i, 1]]`` from camera ``cams[obs[i, 0]]`` at
``feats[i]`` with weight ``w[i]``; its reprojection error is

    w[i] * (project(camera, point) - feats[i])        (2 numbers)

where ``project`` turns ``point - centre`` by the Rodrigues formula
(``p cos θ + (u × p) sin θ + u (u·p)(1 - cos θ)``, θ = |r|, u = r/θ, and
``p + r × p`` when r = 0), divides by the depth, distorts radially by
``1 + k1 ρ² + k2 ρ⁴`` and scales by the focal length about the principal
point.  Each weight also has the error ``1 - w[i]²``.  The Jacobian the
benchmark asks for is sparse: per observation the 2 x 15 block of its error in
its camera (11), point (3) and weight (1), and per weight the 1 x 1 block
``-2 w[i]``.

Two forms:

* ``ba_loop``: the loop a scientist writes, one observation per iteration,
  rows of the error written in place (``err[i] = ...``), calling
  ``reproj_error(cam, X, w, feat)`` for one observation (written with the
  branch at θ = 0).  Its Jacobian blocks are the Jacobians of
  ``reproj_error`` (2 x 15), one call per observation, as ADBench computes them.
* ``ba_vec``: all observations at once on (p, 15) rows
  ``[camera, point, weight]`` of the observations, shifted by one 15-vector
  ``delta``: every error row depends on its own row only, so the Jacobian in
  ``delta`` at 0, shape (p, 2, 15), is the stack of the blocks (a compressed
  Jacobian: one colour per parameter slot, 15 forward directions).
"""

import numpy as np

ROT, CENTRE, FOCAL, PRINCIPAL, RADIAL = 0, 3, 6, 7, 9


def rotate(rot, X):
    """X turned by the axis-angle vector rot (Rodrigues)."""
    sqtheta = np.sum(rot * rot)
    if sqtheta != 0.0:
        theta = np.sqrt(sqtheta)
        axis = rot / theta
        cos = np.cos(theta)
        return (
            X * cos
            + np.cross(axis, X) * np.sin(theta)
            + axis * (np.dot(axis, X) * (1.0 - cos))
        )
    return X + np.cross(rot, X)


def reproj_error(cam, X, w, feat):
    """The 2 reprojection errors of one observation."""
    seen = rotate(cam[ROT : ROT + 3], X - cam[CENTRE : CENTRE + 3])
    flat = seen[:2] / seen[2]
    rsq = np.sum(flat * flat)
    lens = flat * (1.0 + cam[RADIAL] * rsq + cam[RADIAL + 1] * rsq * rsq)
    return w * (lens * cam[FOCAL] + cam[PRINCIPAL : PRINCIPAL + 2] - feat)


def ba_loop(cams, X, w, obs, feats):
    """All errors: the (p, 2) reprojection errors, written row by row, and the
    p weight errors."""
    p = obs.shape[0]
    err = np.zeros((p, 2))
    werr = np.zeros(p)
    for i in range(p):
        err[i] = reproj_error(cams[obs[i, 0]], X[obs[i, 1]], w[i], feats[i])
        werr[i] = 1.0 - w[i] * w[i]
    return err, werr


def ba_vec(delta, rows, feats):
    """The (p, 2) reprojection errors of the rows ``[camera, point, weight]``
    (p, 15), each shifted by ``delta`` (15)."""
    q = rows + delta
    rot = q[:, ROT : ROT + 3]
    P = q[:, 11:14] - q[:, CENTRE : CENTRE + 3]
    sqtheta = np.sum(rot * rot, axis=1, keepdims=True)
    still = sqtheta == 0.0
    theta = np.sqrt(np.where(still, 1.0, sqtheta))  # (1.0: no 0/0 where unused)
    axis = rot / theta
    cos = np.cos(theta)
    along = np.sum(axis * P, axis=1, keepdims=True) * (1.0 - cos)
    turned = P * cos + np.cross(axis, P) * np.sin(theta) + axis * along
    seen = np.where(still, P + np.cross(rot, P), turned)
    flat = seen[:, :2] / seen[:, 2:3]
    rsq = np.sum(flat * flat, axis=1, keepdims=True)
    radial = (
        1.0
        + q[:, RADIAL : RADIAL + 1] * rsq
        + q[:, RADIAL + 1 : RADIAL + 2] * rsq * rsq
    )
    image = flat * radial * q[:, FOCAL : FOCAL + 1] + q[:, PRINCIPAL : PRINCIPAL + 2]
    return q[:, 14:15] * (image - feats)


def gather_rows(cams, X, w, obs):
    """The (p, 15) rows ``[camera, point, weight]`` of the observations."""
    return np.concatenate([cams[obs[:, 0]], X[obs[:, 1]], w[:, None]], axis=1)


# make_ba's cameras: mean and spread of each of the 11 parameters
CAMERA_MEAN = np.array([0.0, 0.0, 0.0, 0.0, 0.0, -6.0, 1.0, 0.0, 0.0, 0.0, 0.0])
CAMERA_SPREAD = np.array([0.3, 0.3, 0.3, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01, 0.01])


def make_ba(n, m, p, seed=0):
    """Seeded inputs of ADBench's shapes (its generator repeats one camera, point
    and feature; we draw them: cameras about 6 units from points near the
    origin, small rotations and distortions, each observation a random camera
    and point): (cams (n, 11), X (m, 3), w (p), obs (p, 2) ints, feats (p, 2))."""
    rng = np.random.default_rng(seed)
    cams = CAMERA_MEAN + CAMERA_SPREAD * rng.standard_normal((n, 11))
    X = rng.standard_normal((m, 3))
    w = rng.uniform(0.5, 1.5, p)
    obs = np.column_stack([rng.integers(0, n, p), rng.integers(0, m, p)])
    feats = 0.2 * rng.standard_normal((p, 2))
    return cams, X, w, obs, feats
