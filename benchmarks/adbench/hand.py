"""Hand: the hand-tracking objective of ADBench on a synthetic hand model.

Written for ad_compiler from the published definition.  The model has 22
bones (a parent chain: the wrist, then five fingers of four bones each, after
a forearm), 544 vertices skinned to the bones, each bone a 4 x 4 base
transform relative to its parent and the inverse of its absolute base
transform.  The 26 pose parameters ``theta`` are: the global rotation (0:3,
axis-angle), the global translation (3:6), then for each finger 4 angles: two
at its root joint (bend and spread) and one at each of the next two joints.

The objective for ``n`` data points with known correspondences is

    err[i] = points[i] - vertex[correspondences[i]]          (n, 3)

where, with ``R_b`` the rotation of bone b from its Euler angles
``pose[b] = (x, z, y)`` (``R = R_z R_y R_x``; only finger bones move),
``A_b = A_parent(b) B_b diag(R_b, 1)`` the absolute transform (``B_b`` the base
relative), ``vertex_v = Σ_b weights[v, b] (A_b Binv_b base_v)[:3]`` (homogeneous
base positions), rotated by the global rotation and moved by the translation.
The "complicated" variant matches each point to a triangle instead, at
barycentric coordinates ``us[i] = (u, v)`` that are parameters too:
``vertex = u V0 + v V1 + (1 - u - v) V2``.

The Jacobian the benchmark asks for: in ``theta`` (3n x 26, dense) and, for the
complicated variant, in ``us`` (3 x 2 per point, block diagonal).  As for BA,
``us`` enters shifted by one 2-vector ``du`` (every point's block depends on
its own row only), so the Jacobian in ``(theta, du)`` is the dense part and the
stacked blocks at once: 28 forward directions.

``hand_loop``/``hand_complicated_loop`` fill the pose and the bone transforms
bone by bone (``rel[b] = ...``, ``absolute[b] = ...``: writes in loops);
``hand_vec``/``hand_complicated_vec`` compute every bone's rotation at once,
chain the transforms through a list and skin with one ``einsum``.
"""

import numpy as np

BONES = 22
FINGER_ROOT = 2  # bones 0, 1: forearm and wrist; then 5 fingers x 4 bones


def rodrigues(r):
    """The 3 x 3 rotation by the axis-angle vector r (r != 0)."""
    theta = np.sqrt(np.sum(r * r))
    k = r / theta
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


def euler(a):
    """R_z R_y R_x of the angles a = (x, z, y)."""
    cx, sx = np.cos(a[0]), np.sin(a[0])
    cz, sz = np.cos(a[1]), np.sin(a[1])
    cy, sy = np.cos(a[2]), np.sin(a[2])
    Rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    Ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    Rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return Rz @ Ry @ Rx


def skinned_loop(theta, parents, base_rel, inv_base_abs, base_pos, weights):
    """The posed vertices (V, 3), bone by bone."""
    pose = np.zeros((BONES, 3))
    t = 6
    for finger in range(5):
        root = FINGER_ROOT + 4 * finger + 1  # the finger's first joint
        pose[root, 0] = theta[t]
        pose[root, 1] = theta[t + 1]
        pose[root + 1, 0] = theta[t + 2]
        pose[root + 2, 0] = theta[t + 3]
        t += 4
    absolute = np.zeros((BONES, 4, 4))
    positions = np.zeros((base_pos.shape[1], 3))
    for b in range(BONES):
        turn = np.eye(4)
        turn[:3, :3] = euler(pose[b])
        rel = base_rel[b] @ turn
        if parents[b] < 0:
            absolute[b] = rel
        else:
            absolute[b] = absolute[parents[b]] @ rel
        moved = (absolute[b] @ inv_base_abs[b]) @ base_pos
        positions += weights[:, b : b + 1] * moved[:3].T
    return positions @ rodrigues(theta[0:3]).T + theta[3:6]


def hand_loop(theta, parents, base_rel, inv_base_abs, base_pos, weights, points, corr):
    """The (n, 3) errors, the model posed bone by bone."""
    vertices = skinned_loop(theta, parents, base_rel, inv_base_abs, base_pos, weights)
    err = np.zeros(points.shape)
    for i in range(points.shape[0]):
        err[i] = points[i] - vertices[corr[i]]
    return err


def hand_complicated_loop(
    theta, du, parents, base_rel, inv_base_abs, base_pos, weights, points, tris, us
):
    """The (n, 3) errors against points on triangles, point by point."""
    vertices = skinned_loop(theta, parents, base_rel, inv_base_abs, base_pos, weights)
    err = np.zeros(points.shape)
    for i in range(points.shape[0]):
        u = us[i, 0] + du[0]
        v = us[i, 1] + du[1]
        tri = vertices[tris[i]]
        err[i] = points[i] - (u * tri[0] + v * tri[1] + (1.0 - u - v) * tri[2])
    return err


def skinned_vec(
    theta, parents, base_rel, inv_base_abs, base_pos, weights, joints, depth
):
    """The posed vertices (V, 3): rotations batched, the chain by levels.
    ``joints`` (22 * 3 ints) says, for each entry of the (22, 3) pose
    (flattened), where it sits in ``[0, theta[6:]]`` (0: a pose entry that stays
    0), so the pose is gathered, not written."""
    padded = np.concatenate([np.zeros(1), theta[6:]])
    pose = np.reshape(padded[joints], (BONES, 3))
    cx, sx = np.cos(pose[:, 0]), np.sin(pose[:, 0])
    cz, sz = np.cos(pose[:, 1]), np.sin(pose[:, 1])
    cy, sy = np.cos(pose[:, 2]), np.sin(pose[:, 2])
    zero, one = np.zeros(BONES), np.ones(BONES)
    # R_z R_y R_x multiplied out, with a fourth row and column of the identity
    turn = np.stack(
        [
            np.stack([cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx, zero]),
            np.stack([sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx, zero]),
            np.stack([-sy, cy * sx, cy * cx, zero]),
            np.stack([zero, zero, zero, one]),
        ]
    )
    rel = np.einsum("bij,jkb->bik", base_rel, turn)
    # the chain A_b = A_parent(b) rel_b by levels, without writes: after k
    # rounds every bone at most k below the root is exact (``depth`` rounds)
    top = np.reshape(parents < 0, (BONES, 1, 1))
    above = np.maximum(parents, 0)
    absolute = rel
    for _ in range(depth):
        absolute = np.where(top, np.eye(4), absolute[above]) @ rel
    transforms = absolute @ inv_base_abs
    moved = np.einsum("bij,jv,vb->vi", transforms[:, :3, :], base_pos, weights)
    return moved @ rodrigues(theta[0:3]).T + theta[3:6]


def hand_vec(
    theta,
    parents,
    base_rel,
    inv_base_abs,
    base_pos,
    weights,
    points,
    corr,
    joints,
    depth,
):
    """The (n, 3) errors, all bones' rotations at once."""
    vertices = skinned_vec(
        theta, parents, base_rel, inv_base_abs, base_pos, weights, joints, depth
    )
    return points - vertices[corr]


def hand_complicated_vec(
    theta,
    du,
    parents,
    base_rel,
    inv_base_abs,
    base_pos,
    weights,
    points,
    tris,
    us,
    joints,
    depth,
):
    """The (n, 3) errors against points on triangles, all points at once."""
    vertices = skinned_vec(
        theta, parents, base_rel, inv_base_abs, base_pos, weights, joints, depth
    )
    u = us[:, 0:1] + du[0]
    v = us[:, 1:2] + du[1]
    on = u * vertices[tris[:, 0]] + v * vertices[tris[:, 1]]
    return points - (on + (1.0 - u - v) * vertices[tris[:, 2]])


def finger_joints():
    """``joints`` of :func:`skinned_vec`: for each flat (22 x 3) pose entry, 1 +
    the finger angle (in the order ``skinned_loop`` reads them) it takes, or 0."""
    joints = np.zeros(3 * BONES, dtype=np.int64)
    angle = 1
    for finger in range(5):
        root = FINGER_ROOT + 4 * finger + 1
        for slot in (3 * root, 3 * root + 1, 3 * (root + 1), 3 * (root + 2)):
            joints[slot] = angle
            angle += 1
    return joints


def make_hand(n, vertices=544, seed=0):
    """A synthetic hand of ADBench's shapes, seeded, and n data points:
    (theta, model, points, corr, tris, us) with model = (parents, base_rel,
    inv_base_abs, base_pos, weights)."""
    rng = np.random.default_rng(seed)
    parents = np.array([-1, 0] + [p for f in range(5) for p in _finger(f)])
    base_rel = np.empty((BONES, 4, 4))
    for b in range(BONES):
        turn = rodrigues(0.2 * rng.standard_normal(3) + 1e-3)
        base_rel[b] = np.eye(4)
        base_rel[b, :3, :3] = turn
        base_rel[b, :3, 3] = [0.0, 1.0 if b > 1 else 0.5, 0.2 * rng.standard_normal()]
    absolute = np.empty((BONES, 4, 4))
    for b in range(BONES):
        above = absolute[parents[b]] if parents[b] >= 0 else np.eye(4)
        absolute[b] = above @ base_rel[b]
    inv_base_abs = np.linalg.inv(absolute)
    # vertices near the bones' origins, each skinned to its bone and the parent
    home = rng.integers(0, BONES, vertices)
    base_pos = np.ones((4, vertices))
    base_pos[:3] = absolute[home, :3, 3].T + 0.3 * rng.standard_normal((3, vertices))
    weights = np.zeros((vertices, BONES))
    share = rng.uniform(0.5, 1.0, vertices)
    weights[np.arange(vertices), home] = share
    weights[np.arange(vertices), np.maximum(parents[home], 0)] += 1.0 - share
    theta = 0.2 * rng.standard_normal(26)
    theta[0:3] += 0.5
    points = rng.standard_normal((n, 3))
    corr = rng.integers(0, vertices, n)
    tris = rng.integers(0, vertices, (n, 3))
    us = rng.uniform(0.0, 0.5, (n, 2))
    model = (parents, base_rel, inv_base_abs, base_pos, weights)
    return theta, model, points, corr, tris, us


def tree_depth(parents):
    """The most bones between any bone and its root (the rounds of the chain)."""
    deepest = 0
    for b in range(len(parents)):
        steps, a = 0, b
        while parents[a] >= 0:
            a, steps = parents[a], steps + 1
        deepest = max(deepest, steps)
    return deepest


def _finger(f):
    """The parents of finger f's 4 bones: the wrist (bone 1), then a chain."""
    first = FINGER_ROOT + 4 * f
    return [1, first, first + 1, first + 2]
