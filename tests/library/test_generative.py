"""Generative models: the diffusion schedule and sampler, the sample-quality metrics, the 2-D toy data."""

import math

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.data import make_gaussian_ring, make_swiss_roll_2d, make_unpaired_domains, ring_centers
from minidl.diffusion import NoiseSchedule, ddpm_loss, ddpm_sample, q_sample, q_step
from minidl.metrics.generative import ModeCoverage, energy_distance, mode_coverage

from conftest import leaf


def steps(n, t):
    return minidl.full((n,), t)


SCHEDULES = {"linear": lambda: NoiseSchedule.linear(100, beta_start=1e-4, beta_end=0.2),
             "linear-default": lambda: NoiseSchedule.linear(50),
             "cosine": lambda: NoiseSchedule.cosine(40)}


# ---- the noise schedule ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_alpha_bars_are_the_running_product_of_alphas(kind):
    schedule = SCHEDULES[kind]()
    betas = np.asarray(schedule.betas.tolist(), dtype=np.float64)
    assert betas[0] == 0 and schedule.alpha_bars.tolist()[0] == 1.0
    np.testing.assert_allclose(schedule.alphas.tolist(), 1 - betas, rtol=1e-6, atol=1e-7)   # float32 storage
    np.testing.assert_allclose(schedule.alpha_bars.tolist(), np.cumprod(1 - betas), rtol=1e-5, atol=1e-7)
    assert schedule.betas.shape == (schedule.num_steps + 1,)


def test_linear_schedule_defaults_scale_ddpm_to_the_number_of_steps():
    ddpm = NoiseSchedule.linear(1000).betas.tolist()
    assert math.isclose(ddpm[1], 1e-4, rel_tol=1e-5) and math.isclose(ddpm[-1], 0.02, rel_tol=1e-5)
    short = NoiseSchedule.linear(100).betas.tolist()
    assert math.isclose(short[1], 1e-3, rel_tol=1e-5) and math.isclose(short[-1], 0.2, rel_tol=1e-5)


@pytest.mark.parametrize("t", [1, 17, 30])
def test_cosine_schedule_follows_its_formula(t):
    T, s = 40, 0.008
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    assert math.isclose(NoiseSchedule.cosine(T).alpha_bars.tolist()[t], f(t) / f(0), rel_tol=1e-4)


def test_cosine_schedule_clips_its_last_beta():
    assert math.isclose(NoiseSchedule.cosine(40).betas.tolist()[-1], 0.999, rel_tol=1e-6)   # f(T) = 0 would give 1


# ---- the forward process -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SCHEDULES))
@pytest.mark.parametrize("t_end", [1, 7, 30])
def test_closed_form_matches_iterating_one_step_noising(kind, t_end):
    """q(x_t | x_0) in one draw and t single steps have the same mean and standard deviation."""
    schedule = SCHEDULES[kind]()
    n, point = 20_000, np.array([1.5, -0.5])
    x0 = minidl.tensor(np.tile(point, (n, 1)).astype(np.float32))
    x = x0
    for t in range(1, t_end + 1):
        x = q_step(x, steps(n, t), schedule)
    closed = q_sample(x0, steps(n, t_end), schedule)
    alpha_bar = schedule.alpha_bars.tolist()[t_end]
    mean, std = math.sqrt(alpha_bar) * point, math.sqrt(1 - alpha_bar)
    tolerance = 5 * std / math.sqrt(n)                      # five standard errors of a mean of n draws
    for draws in (x.cpu().numpy(), closed.cpu().numpy()):
        np.testing.assert_allclose(draws.mean(0), mean, atol=tolerance)
        np.testing.assert_allclose(draws.std(0), std, atol=5 * std / math.sqrt(2 * n))


def test_q_sample_with_given_noise_is_the_formula():
    schedule = NoiseSchedule.linear(10)
    x0 = minidl.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    noise = minidl.tensor([[0.1, -0.2], [1.0, 0.0], [-1.0, 2.0]])
    t = minidl.tensor(np.array([0, 3, 10]))
    a = np.asarray(schedule.alpha_bars.tolist())[[0, 3, 10]][:, None]
    expected = np.sqrt(a) * x0.cpu().numpy() + np.sqrt(1 - a) * noise.cpu().numpy()
    np.testing.assert_allclose(q_sample(x0, t, schedule, noise).cpu().numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(q_sample(x0, steps(3, 0), schedule).cpu().numpy(), x0.cpu().numpy())   # t = 0 is the data


def test_q_sample_gradient_in_float64():
    schedule = NoiseSchedule.linear(20)
    x0 = leaf(np.random.default_rng(0).normal(size=(4, 3)))
    noise = leaf(np.random.default_rng(1).normal(size=(4, 3)))
    t = minidl.tensor(np.array([1, 5, 12, 20]))
    assert minidl.gradcheck(lambda a, e: q_sample(a, t, schedule, e), [x0, noise])


# ---- the loss and the sampler ------------------------------------------------------------------------

class OracleNoise(nn.Module):
    """The exact noise predictor for data that is one point c: eps = (x_t - sqrt(abar_t) c) / sqrt(1 - abar_t)."""

    def __init__(self, schedule, center):
        super().__init__()
        self.alpha_bars, self.center = schedule.alpha_bars, minidl.tensor(center)

    def forward(self, x, t):
        a = self.alpha_bars[t].reshape(-1, 1)
        return (x - a.sqrt() * self.center) / (1 - a).sqrt()


@pytest.mark.parametrize("variance", ["beta", "posterior"])
@pytest.mark.parametrize("clip", [None, (-3.0, 3.0)])
def test_sampler_with_the_exact_noise_returns_the_data_point(variance, clip):
    schedule = NoiseSchedule.linear(30)
    center = np.array([0.7, -1.2], dtype=np.float32)
    samples, trajectory = ddpm_sample(OracleNoise(schedule, center), (64, 2), schedule, variance=variance,
                                      clip=clip, return_trajectory=True)
    np.testing.assert_allclose(samples.cpu().numpy(), np.tile(center, (64, 1)), atol=1e-4)
    assert len(trajectory) == schedule.num_steps + 1 and trajectory[-1] is samples
    assert abs(float(trajectory[0].cpu().numpy().std()) - 1.0) < 0.2       # x_T is standard normal noise


def test_sampler_records_no_graph():
    schedule = NoiseSchedule.linear(5)
    model = nn.Linear(2, 2)
    samples = ddpm_sample(lambda x, t: model(x), (8, 2), schedule)
    assert samples.grad_fn is None and not samples.requires_grad


def test_loss_is_zero_for_the_exact_noise_and_trains_a_model():
    schedule = NoiseSchedule.linear(30)
    center = np.array([0.7, -1.2], dtype=np.float32)
    x0 = minidl.tensor(np.tile(center, (256, 1)))
    assert ddpm_loss(OracleNoise(schedule, center), x0, schedule).item() < 1e-8
    model = nn.Linear(2, 2)
    loss = ddpm_loss(lambda x, t: model(x), x0, schedule)
    loss.backward()
    assert loss.item() > 0 and model.weight.grad is not None


def test_loss_of_a_zero_model_is_the_noise_variance():
    schedule = NoiseSchedule.linear(30)
    x0 = minidl.tensor(np.zeros((20_000, 2), dtype=np.float32))
    loss = ddpm_loss(lambda x, t: x * 0, x0, schedule).item()
    assert abs(loss - 1.0) < 0.05                        # E eps^2 = 1


# ---- metrics -----------------------------------------------------------------------------------------

def test_energy_distance_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(300, 3))
    assert energy_distance(x, x) == 0.0
    assert energy_distance(minidl.tensor(x), x.copy()) == 0.0


@pytest.mark.parametrize("shift", [0.5, 3.0])
def test_energy_distance_of_shifted_sets_against_a_hand_computation(shift):
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    y = x + np.array([0.0, shift])
    # |x - y| pairs: shift, shift, sqrt(1 + shift^2) twice; within each set: 0, 1, 1, 0
    between = (2 * shift + 2 * math.sqrt(1 + shift**2)) / 4
    expected = 2 * between - 0.5 - 0.5
    assert math.isclose(energy_distance(x, y), expected, rel_tol=1e-9)
    assert energy_distance(x, y) > 0 and math.isclose(energy_distance(y, x), expected, rel_tol=1e-9)


def test_energy_distance_in_one_dimension_is_the_square_of_scipys():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=200), rng.normal(0.3, 1.5, size=150)
    assert math.isclose(energy_distance(x[:, None], y[:, None]), stats.energy_distance(x, y) ** 2, rel_tol=1e-7)


def test_mode_coverage_counts_constructed_samples():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    std = 0.1
    samples = np.concatenate([
        np.tile(centers[0], (50, 1)),                          # on mode 0
        np.tile(centers[1] + [0.25, 0.0], (30, 1)),            # 2.5 std from mode 1: inside 3 std
        np.tile(centers[2] + [0.0, 0.35], (15, 1)),            # 3.5 std from mode 2: outside
        np.tile(centers[3] - [0.1, 0.0], (1, 1)),              # one sample on mode 3: 1% of the 100
        np.tile([5.0, 5.0], (4, 1)),                           # between the modes
    ])
    result = mode_coverage(samples, centers, std, k=3.0, min_fraction=0.02)
    assert isinstance(result, ModeCoverage)
    assert result.counts == [50, 30, 0, 1]
    assert result.modes_covered == 2                           # mode 3's single sample is under 2%
    assert math.isclose(result.fraction_within, 81 / 100)
    assert mode_coverage(samples, centers, std, k=4.0, min_fraction=0.01).modes_covered == 4


def test_mode_coverage_of_the_ring_data_itself_is_complete():
    X, _ = make_gaussian_ring(4000, seed=0)
    result = mode_coverage(minidl.tensor(X), ring_centers(), 0.02)
    assert result.modes_covered == 8 and result.fraction_within > 0.98   # 3 sigma holds 98.9% of a 2-D Gaussian


# ---- toy data ----------------------------------------------------------------------------------------

def test_gaussian_ring_points_sit_at_their_modes():
    X, modes = make_gaussian_ring(5000, n_modes=6, radius=3.0, std=0.05, seed=1)
    assert X.shape == (5000, 2) and X.dtype == np.float32 and modes.dtype == np.int64
    distances = np.linalg.norm(X - ring_centers(6, 3.0)[modes], axis=1)
    assert distances.max() < 6 * 0.05
    assert np.bincount(modes, minlength=6).min() > 700                     # about 833 each
    np.testing.assert_array_equal(X, make_gaussian_ring(5000, n_modes=6, radius=3.0, std=0.05, seed=1)[0])


def test_swiss_roll_and_domains_have_their_shapes():
    roll, position = make_swiss_roll_2d(2000, noise=0.0, seed=0)
    radius = np.linalg.norm(roll, axis=1)
    np.testing.assert_allclose(radius, 0.1 * position, rtol=1e-5)         # r = scale * t on the noiseless roll
    assert 1.5 * np.pi <= position.min() and position.max() <= 4.5 * np.pi
    a, b = make_unpaired_domains(3000, seed=0)
    assert a.shape == b.shape == (3000, 2)
    assert np.linalg.norm(a, axis=1).max() <= 1.0
    assert np.abs(b[:, 0]).max() <= 1.5 and np.abs(b[:, 1]).max() <= 0.5


# ---- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, words", [
    (lambda: NoiseSchedule([]), ValueError, "non-empty"),
    (lambda: NoiseSchedule([0.1, 1.0]), ValueError, "(0, 1)"),
    (lambda: NoiseSchedule([[0.1, 0.2]]), ValueError, "1-D"),
    (lambda: NoiseSchedule.linear(0), ValueError, "num_steps"),
    (lambda: NoiseSchedule.cosine(10, s=-1), ValueError, "s must"),
    (lambda: q_sample(minidl.zeros(3, 2), steps(3, 11), NoiseSchedule.linear(10)), ValueError, "0 .. 10"),
    (lambda: q_sample(minidl.zeros(3, 2), steps(2, 1), NoiseSchedule.linear(10)), ValueError, "shape (3,)"),
    (lambda: q_sample(minidl.zeros(3, 2), minidl.ones(3), NoiseSchedule.linear(10)), ValueError, "integer"),
    (lambda: q_sample(minidl.zeros(3, 2), steps(3, 1), NoiseSchedule.linear(10), minidl.zeros(3, 3)),
     ValueError, "noise"),
    (lambda: q_sample(minidl.zeros(3, 2), steps(3, 1), [0.1]), TypeError, "NoiseSchedule"),
    (lambda: q_step(minidl.zeros(3, 2), steps(3, 0), NoiseSchedule.linear(10)), ValueError, "1 .. 10"),
    (lambda: ddpm_sample(lambda x, t: x, (4, 2), NoiseSchedule.linear(5), variance="large"), ValueError, "variance"),
    (lambda: ddpm_sample(lambda x, t: x, (0, 2), NoiseSchedule.linear(5)), ValueError, "shape"),
    (lambda: ddpm_loss(lambda x, t: x, np.zeros((3, 2)), NoiseSchedule.linear(5)), TypeError, "x0"),
    (lambda: energy_distance(np.zeros((3, 2)), np.zeros((3, 3))), ValueError, "coordinates"),
    (lambda: energy_distance(np.zeros(3), np.zeros((3, 1))), ValueError, "(N, D)"),
    (lambda: energy_distance(np.array([[0.0], [np.nan]]), np.zeros((2, 1))), ValueError, "NaN"),
    (lambda: energy_distance("points", np.zeros((2, 1))), TypeError, "Tensor or an array"),
    (lambda: mode_coverage(np.zeros((3, 2)), np.zeros((2, 2)), 0.0), ValueError, "std"),
    (lambda: mode_coverage(np.zeros((3, 2)), np.zeros((2, 2)), 0.1, k=-1.0), ValueError, "k must"),
    (lambda: mode_coverage(np.zeros((3, 2)), np.zeros((2, 2)), 0.1, min_fraction=1.5), ValueError, "min_fraction"),
    (lambda: mode_coverage(np.zeros((3, 2)), np.zeros((2, 3)), 0.1), ValueError, "coordinates"),
    (lambda: make_gaussian_ring(0), ValueError, "n_samples"),
    (lambda: make_gaussian_ring(10, std=-0.1), ValueError, "std"),
    (lambda: ring_centers(0), ValueError, "n_modes"),
    (lambda: make_swiss_roll_2d(10, noise=-1.0), ValueError, "noise"),
    (lambda: make_unpaired_domains(2.5), ValueError, "n_samples"),
])
def test_bad_input_raises_a_clear_error(call, error, words):
    with pytest.raises(error, match=None) as caught:
        call()
    assert words in str(caught.value), str(caught.value)
