"""The seeds' worked examples, with the seeds' own numbers (see ../shared/seeds)."""

import math

import pytest
import seeds

from ad_compiler import grad, jvp, trace, value_and_grad, vjp


def test_seed_003_gradient_at_2_5():
    # seed 003: adjoint trace ends with x̄1 = 5.5, x̄2 = 1.716
    x1_bar, x2_bar = grad(seeds.f, argnums=(0, 1))(2.0, 5.0)
    assert x1_bar == pytest.approx(5.5, abs=1e-12)
    assert round(x2_bar, 3) == 1.716


def test_seed_003_forward_tangent_and_value():
    # seed 003: y = 11.652, tangent trace with ẋ1 = 1, ẋ2 = 0 ends with ẏ = 5.5
    y, y_dot = jvp(seeds.f, (2.0, 5.0), (1.0, 0.0))
    assert round(y, 3) == 11.652
    assert y_dot == pytest.approx(5.5, abs=1e-12)


def test_seed_003_trace_has_the_seed_primitives():
    text = str(trace(seeds.f))
    for line in ("v1 = log(x1)", "v2 = x1 * x2", "sin(x2)"):
        assert line in text


def test_seed_001_gaussian_density_and_gradient():
    # seed 001 (PyTorch): p = 0.3521; grads -0.1760, 0.1760, -0.2640
    p, (gx, gmu, gsigma) = value_and_grad(seeds.gaussian, argnums=(0, 1, 2))(
        0.5, 0.0, 1.0
    )
    assert round(p, 4) == 0.3521
    assert (round(gx, 4), round(gmu, 4), round(gsigma, 4)) == (-0.1760, 0.1760, -0.2640)


def test_seed_002_sigmoid_log2_chain():
    # seed 002: δ_u = σ'(0) = 0.25, δ_v = 0.25 / (1 · ln 2) ≈ 0.36
    delta_v = grad(seeds.sigmoid_log2)(1.0)
    assert delta_v == pytest.approx(0.25 / math.log(2), rel=1e-14)
    assert round(delta_v, 2) == 0.36


def test_seed_000_bishop_reverse_matches_seed_adjoint_formulas():
    # seed 000: v̄3 = v̄5 exp(v3) + v̄6, v̄1 = v2 v̄3, v̄2 = v1 v̄3 + v̄4 cos v2 with v̄4 = -v̄6
    x1, x2 = 1.5, 2.0
    v3_bar = math.exp(x1 * x2) + 1.0
    expected = (x2 * v3_bar, x1 * v3_bar - math.cos(x2))
    assert grad(seeds.bishop, argnums=(0, 1))(x1, x2) == pytest.approx(
        expected, rel=1e-14
    )


def test_seed_000_two_outputs_one_forward_pass_gives_both_derivatives():
    # seed 000: ∂f1/∂x1 and ∂f2/∂x1 come out of a single forward pass
    x1, x2 = 1.5, 2.0
    (f1, f2), (d1, d2) = jvp(seeds.bishop_two_outputs, (x1, x2), (1.0, 0.0))
    e = math.exp(x1 * x2)
    assert d1 == pytest.approx(x2 + x2 * e, rel=1e-14)
    assert d2 == pytest.approx(x2 * e + (x1 * x2 - math.sin(x2)) * x2 * e, rel=1e-14)


def test_seed_001_two_outputs_reverse_rows():
    # seed 001: f(x1, x2) = (sin(x1 x2), x1 x2 + log x2) at (2, 3), one pullback per row
    (y1, y2), pullback = vjp(seeds.rainforth, 2.0, 3.0)
    assert (y1, y2) == (math.sin(6.0), 6.0 + math.log(3.0))
    assert pullback((1.0, 0.0)) == pytest.approx((3 * math.cos(6.0), 2 * math.cos(6.0)))
    assert pullback((0.0, 1.0)) == pytest.approx((3.0, 2.0 + 1 / 3))


def test_seed_003_neuron_gradient_at_the_seeds_point():
    # seed 003: z = w x + b = 0, y = σ(0) = 0.5, L = ½ (y - t)² = 0.125, dL/dz = (y - t) σ'(z)
    L, g = value_and_grad(seeds.neuron, argnums=(0, 2))(0.0, 0.0, 0.0, 1.0, 0.0, 1.0)
    assert L == pytest.approx(0.125)
    assert g == pytest.approx((-0.5 * 0.25 * 1.0, -0.5 * 0.25))
