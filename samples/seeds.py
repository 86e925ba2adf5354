"""Worked examples from the seed lecture notes, as plain Python functions.

Every function uses only the subset of Python that ad_compiler accepts:
``import math``, assignments, arithmetic and ``return``. The expected
numbers come from the seed files in shared/seeds/ (beside this repository). Where a seed gives
no numbers, the values were computed for this file and checked with central
finite differences. They are marked "(computed)".

- ``f`` -- 003_6e1511912d7dde2c.txt, "Another Example:
  f(x1, x2) = ln(x1) + x1 x2 - sin(x2)" (forward primal, forward tangent and
  reverse adjoint traces). At (2, 5): y = 11.652, tangent wrt x1
  y_dot = 5.5, adjoints x1_bar = 5.5, x2_bar = 1.716.
- ``bishop`` -- 000_f786bc2ff940795b.txt, forward-mode section, trace
  v1 ... v7 of f(x1, x2) = x1 x2 + exp(x1 x2) - sin x2 (no numbers in the
  seed).
- ``bishop_two_outputs`` -- 000_f786bc2ff940795b.txt, "Now consider an
  example with two outputs" f1, f2 (no numbers in the seed).
- ``rainforth`` -- 001_39c9cd12e1186694.txt, "Reverse Mode AutoDiff
  Example" f(x1, x2) = (sin(x1 x2), x1 x2 + log x2) at f(2, 3) (the seed's
  numbers are in missing figures).
- ``gaussian`` -- 001_39c9cd12e1186694.txt, "AutoDiff in PyTorch". At
  x = 0.5, mu = 0, sigma = 1: p = 0.3521 and gradients -0.1760, 0.1760,
  -0.2640 (x, mu, sigma).
- ``sigmoid_log2`` -- 002_e608bd380fc6d966.txt, "Gradient (composition of
  two univariate functions)" example y = sigma(log2 v): delta_u = 0.25 and
  delta_v ~ 1.44 * 0.25 = 0.36 (at v = 1, where u = 0).
- ``neuron`` -- 003_6e1511912d7dde2c.txt, "Example: One layer neural
  network" z = w x + b, y = sigma(z), L = 1/2 (y - t)^2, here with two
  inputs. The seed's point is x = 1, c = 1, w = 0, b = 0.
"""

import math


def f(x1, x2):
    """y = ln x1 + x1 x2 - sin x2  (seed 003, "Another Example").

    At (x1, x2) = (2, 5):
        y = ln 2 + 10 - sin 5 = 0.693 + 10 + 0.959 = 11.652  (11.652071)
        forward tangent with x1_dot = 1, x2_dot = 0:  y_dot = 5.5
        reverse adjoints with y_bar = 1:
            x1_bar = 1/x1 + x2 = 5.5
            x2_bar = x1 - cos x2 = 1.716  (1.716338)
    """
    return math.log(x1) + x1 * x2 - math.sin(x2)


def bishop(x1, x2):
    """f = x1 x2 + exp(x1 x2) - sin x2  (seed 000, evaluation trace v1...v7).

    Trace: v1 = x1, v2 = x2, v3 = v1 v2, v4 = sin v2, v5 = exp(v3),
    v6 = v3 - v4, v7 = v5 + v6.
    df/dx1 = x2 (1 + exp(x1 x2)),  df/dx2 = x1 (1 + exp(x1 x2)) - cos x2.

    The seed gives no point. At (x1, x2) = (1.5, 2) (computed):
        f = 22.176239
        df/dx1 = 42.171074,  df/dx2 = 32.044452
    """
    v1 = x1
    v2 = x2
    v3 = v1 * v2
    v4 = math.sin(v2)
    v5 = math.exp(v3)
    v6 = v3 - v4
    v7 = v5 + v6
    return v7


def bishop_two_outputs(x1, x2):
    """f1 = x1 x2 + exp(x1 x2) - sin x2,  f2 = (x1 x2 - sin x2) exp(x1 x2).

    Seed 000, "Now consider an example with two outputs". One forward pass
    gives df1/dx1 and df2/dx1 together. One reverse pass gives one row.

    The seed gives no point. At (x1, x2) = (1.5, 2) (computed):
        f1 = 22.176239,  f2 = 41.992884
        df1/dx1 = 42.171074,   df1/dx2 = 32.044452
        df2/dx1 = 124.156841,  df2/dx2 = 101.476164
    """
    f1 = x1 * x2 + math.exp(x1 * x2) - math.sin(x2)
    f2 = (x1 * x2 - math.sin(x2)) * math.exp(x1 * x2)
    return f1, f2


def rainforth(x1, x2):
    """(y1, y2) = (sin(x1 x2), x1 x2 + log x2)  (seed 001, Reverse Mode
    AutoDiff Example, slide credit Gunes Baydin).

    Reverse pass for y1: dy1/dv1 = cos(v1), dy1/dv2 = 0,
    dy1/dx1 = x2 cos(v1), dy1/dx2 = x1 cos(v1).

    At (x1, x2) = (2, 3) (computed, the seed's numbers are in figures):
        y1 = sin 6 = -0.279415,  y2 = 6 + log 3 = 7.098612
        dy1/dx1 = 3 cos 6 = 2.880511,  dy1/dx2 = 2 cos 6 = 1.920341
        dy2/dx1 = x2 = 3,              dy2/dx2 = x1 + 1/x2 = 2.333333
    """
    v1 = x1 * x2
    v2 = math.log(x2)
    y1 = math.sin(v1)
    y2 = v1 + v2
    return y1, y2


def gaussian(x, mu, sigma):
    """p = 1/sqrt(2 pi sigma sigma) * exp(-(x - mu)(x - mu) / (2 sigma sigma))

    Seed 001, "AutoDiff in PyTorch" (credit Gunes Baydin), written as the
    seed's torch code writes it (the seed's line is missing its final ')').

    At (x, mu, sigma) = (0.5, 0, 1):
        p = 0.3521  (0.352065)
        dp/dx = -0.1760,  dp/dmu = 0.1760,  dp/dsigma = -0.2640
        (-0.176033, 0.176033, -0.264049)
    """
    p = (1 / (math.sqrt(2.0 * math.pi * sigma * sigma))) * math.exp(
        -((x - mu) * (x - mu) / (2.0 * sigma * sigma))
    )
    return p


def sigmoid_log2(v):
    """y = sigma(log2 v) with sigma(u) = 1 / (1 + exp(-u))  (seed 002).

    u = log2 v, y = sigma(u).
    delta_u = sigma(u) (1 - sigma(u)),  delta_v = 1 / (v log 2) * delta_u.

    At v = 1 (u = 0), the seed's point:
        y = 0.5
        delta_u = 0.25
        dy/dv = delta_v = 1.44 * 0.25 ~ 0.36  (0.360674)
    At v = 2 (u = 1) (computed):
        y = 0.731059,  dy/dv = 0.141826
    """
    u = math.log2(v)
    y = 1 / (1 + math.exp(-u))
    return y


def neuron(w1, w2, b, x1, x2, t):
    """L = 1/2 (sigma(w1 x1 + w2 x2 + b) - t)^2  (seed 003, one layer network).

    z = w1 x1 + w2 x2 + b,  y = sigma(z) = 1 / (1 + exp(-z)),
    L = 1/2 (y - t)^2.
    dL/dy = y - t,  dL/dz = dL/dy y (1 - y),  dL/dwi = dL/dz xi,
    dL/db = dL/dz,  dL/dxi = dL/dz wi,  dL/dt = -(y - t).

    The seed's point (one input: x = 1, c = t = 1, w = 0, b = 0), that is
    (w1, w2, b, x1, x2, t) = (0, 0, 0, 1, 0, 1) (computed):
        z = 0, y = 0.5, L = 0.1250
        dL/dy = -0.5, dL/dz = -0.1250
        grad (w1, w2, b, x1, x2, t) = (-0.1250, 0, -0.1250, 0, 0, 0.5000)
    At (w1, w2, b, x1, x2, t) = (0.5, -0.25, 0.1, 1.5, 2, 1) (computed):
        z = 0.35, y = 0.586618, L = 0.0854  (0.085443)
        dL/dz = -0.100244
        grad (w1, w2, b, x1, x2, t) =
            (-0.1504, -0.2005, -0.1002, -0.0501, 0.0251, 0.4134)
            (-0.150366, -0.200488, -0.100244, -0.050122, 0.025061, 0.413382)
    """
    z = w1 * x1 + w2 * x2 + b
    y = 1 / (1 + math.exp(-z))
    L = 0.5 * (y - t) ** 2
    return L
