"""The debiasing lab's library: the synthetic face data set, the DB-VAE, its loss and its resampling weights."""

import numpy as np
import pytest

import minidl
from minidl.data import Faces, make_faces
from minidl.data.faces import BRIGHT_OFFSET, brighten, noise_blobs
from minidl.models.dbvae import DBVAE, debiasing_loss, latent_histogram_density, sampling_weights, vae_loss

from conftest import leaf


@pytest.fixture(scope="module")
def faces():
    """One data set for the tests that only read it (generating it takes a moment)."""
    return make_faces(rare_fraction=0.03, seed=0)


def host(tensor):
    """A host NumPy copy of a tensor, whether or not it is in a graph."""
    return minidl.to_numpy(tensor.detach())


def _lab_weights(mu, bins, smoothing):
    """The course lab's get_training_sample_probabilities, in NumPy, as the reference."""
    weights = np.zeros(mu.shape[0])
    for column in mu.T:
        density, edges = np.histogram(column, density=True, bins=bins)
        edges[0], edges[-1] = -np.inf, np.inf
        index = np.digitize(column, edges)
        smoothed = density + smoothing
        smoothed = smoothed / smoothed.sum()
        p = 1.0 / smoothed[index - 1]
        weights = np.maximum(weights, p / p.sum())
    return weights / weights.sum()


# ---- the data set ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("flatten, image_shape", [(True, (64,)), (False, (1, 8, 8))])
def test_faces_have_the_documented_shapes_and_dtypes(flatten, image_shape):
    data = make_faces(seed=1, flatten=flatten)
    assert isinstance(data, Faces)
    for X, y, group in ((data.X_train, data.y_train, data.group_train), (data.X_test, data.y_test, data.group_test)):
        assert X.shape == (len(y),) + image_shape and X.dtype == np.float32
        assert y.dtype == np.int64 and group.dtype == np.int64 and group.shape == y.shape
        assert X.min() >= 0 and X.max() <= 1


@pytest.mark.parametrize("rare_fraction", [0.02, 0.03, 0.04, 0.25])
def test_the_rare_group_is_the_requested_share_of_training_faces(rare_fraction):
    data = make_faces(rare_fraction=rare_fraction, seed=2)
    face_groups = data.group_train[data.y_train == 1]
    assert abs(face_groups.mean() - rare_fraction) <= 1 / len(face_groups)


@pytest.mark.parametrize("split", ["train", "test"])
def test_each_split_has_as_many_non_faces_as_faces_half_of_them_bright(split, faces):
    y, group = getattr(faces, f"y_{split}"), getattr(faces, f"group_{split}")
    assert (y == 1).sum() == (y == 0).sum()
    assert abs(group[y == 0].mean() - 0.5) <= 1 / (y == 0).sum()


def test_the_test_faces_are_half_bright(faces):
    assert abs(faces.group_test[faces.y_test == 1].mean() - 0.5) <= 1 / (faces.y_test == 1).sum()


@pytest.mark.parametrize("group, lowest", [(1, BRIGHT_OFFSET), (0, 0.0)])
def test_the_group_is_the_background_brightness(group, lowest, faces):
    backgrounds = faces.X_train[faces.group_train == group].min(axis=1)
    assert np.allclose(backgrounds, lowest, atol=1e-6)


def test_brighten_maps_black_to_the_offset_and_keeps_white():
    halfway = BRIGHT_OFFSET + 0.5 * (1 - BRIGHT_OFFSET)
    assert np.allclose(brighten(np.array([0.0, 0.5, 1.0])), [BRIGHT_OFFSET, halfway, 1.0])


@pytest.mark.parametrize("n", [1, 7])
def test_noise_blobs_ink_a_fifth_to_two_fifths_of_the_pixels(n):
    blobs = noise_blobs(n, np.random.default_rng(3))
    inked = (blobs > 0).mean(axis=(1, 2))
    assert blobs.shape == (n, 8, 8) and np.all((inked >= 0.2) & (inked <= 0.4 + 1 / 64))


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(faces):
    again, other = make_faces(rare_fraction=0.03, seed=0), make_faces(rare_fraction=0.03, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(faces, again))
    assert not np.array_equal(faces.X_train, other.X_train)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(rare_fraction=0), ValueError, "rare_fraction"),
    (dict(rare_fraction=0.6), ValueError, "rare_fraction"),
    (dict(rare_fraction="2%"), ValueError, "rare_fraction"),
    (dict(test_fraction=1.0), ValueError, "test_fraction"),
    (dict(test_fraction=0), ValueError, "test_fraction"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(seed=True), TypeError, "seed"),
])
def test_make_faces_rejects_bad_arguments_naming_them(kwargs, error, words):
    with pytest.raises(error, match=words):
        make_faces(**kwargs)


# ---- the model ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_latent", [1, 4])
def test_dbvae_returns_logit_latent_parameters_and_reconstruction(n_latent, rng):
    model = DBVAE(n_inputs=64, n_hidden=16, n_latent=n_latent)
    x = minidl.tensor(rng.random((5, 64)).astype(np.float32))
    y_logit, mu, logsigma, x_recon = model(x)
    assert y_logit.shape == (5,) and mu.shape == logsigma.shape == (5, n_latent) and x_recon.shape == (5, 64)
    assert np.all((host(x_recon) > 0) & (host(x_recon) < 1))
    assert np.allclose(host(model.predict(x)), host(y_logit))


def test_dbvae_rejects_inputs_of_the_wrong_width(rng):
    with pytest.raises(ValueError, match=r"x must have shape \(N, 64\)"):
        DBVAE(n_inputs=64, n_hidden=8)(minidl.tensor(rng.random((3, 10)).astype(np.float32)))


def test_reparameterize_passes_gradients_to_mu_and_logsigma(rng):
    model = DBVAE(n_inputs=4, n_hidden=3, n_latent=2)

    def draw(mu, logsigma):
        minidl.manual_seed(5)  # the same eps for every evaluation of the finite differences
        return model.reparameterize(mu, logsigma)

    assert minidl.gradcheck(draw, [leaf(rng.normal(size=(3, 2))), leaf(rng.normal(size=(3, 2)))])


# ---- the loss -------------------------------------------------------------------------------------------
def _batch(rng, n=6, d=5, latent=3, faces=(1, 0, 1, 1, 0, 0)):
    x = leaf(rng.random((n, d)), requires_grad=False)
    x_recon = leaf(rng.uniform(0.05, 0.95, (n, d)))
    y = leaf(np.array(faces, dtype=np.float64), requires_grad=False)
    y_logit, mu = leaf(rng.normal(size=n)), leaf(rng.normal(size=(n, latent)))
    logsigma = leaf(rng.normal(0, 0.5, (n, latent)))
    return x, x_recon, y, y_logit, mu, logsigma


@pytest.mark.parametrize("kl_weight", [0.0005, 1.0])
def test_vae_loss_uses_the_variance_of_the_draw_as_pytorch(kl_weight, rng, torch):
    x, x_recon, _, _, mu, logsigma = _batch(rng)
    ours = vae_loss(x, x_recon, mu, logsigma, kl_weight=kl_weight)
    t = {name: torch.tensor(host(value)) for name, value in dict(x=x, r=x_recon, mu=mu, ls=logsigma).items()}
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(t["mu"], t["ls"].exp()),
                                           torch.distributions.Normal(0.0, 1.0)).sum(-1)
    expected = kl_weight * kl + (t["x"] - t["r"]).abs().mean(-1)
    assert np.allclose(host(ours), expected.cpu().numpy())


def test_the_kl_is_not_the_course_codes_exp_logsigma_form(rng):
    x, x_recon, _, _, mu, logsigma = _batch(rng)
    kl = host(vae_loss(x, x_recon, mu, logsigma, kl_weight=1.0) - vae_loss(x, x_recon, mu, logsigma, kl_weight=0.0))
    m, s = host(mu), host(logsigma)
    assert np.allclose(kl, 0.5 * (np.exp(2 * s) + m ** 2 - 1 - 2 * s).sum(-1))
    assert not np.allclose(kl, 0.5 * (np.exp(s) + m ** 2 - 1 - s).sum(-1))


@pytest.mark.parametrize("faces", [(1, 0, 1, 1, 0, 0), (0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 1)])
def test_debiasing_loss_is_classification_on_all_plus_vae_on_faces(faces, rng, torch):
    x, x_recon, y, y_logit, mu, logsigma = _batch(rng, faces=faces)
    total, classification = debiasing_loss(x, x_recon, y, y_logit, mu, logsigma)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(host(y_logit)), torch.tensor(host(y)), reduction="none").cpu().numpy()
    per_example = bce + host(y) * host(vae_loss(x, x_recon, mu, logsigma))
    assert np.allclose(host(classification), bce) and np.isclose(total.item(), per_example.mean())


@pytest.mark.parametrize("who, changes", [("face", True), ("non-face", False)])
def test_only_faces_reconstructions_enter_the_loss(who, changes, rng):
    x, x_recon, y, y_logit, mu, logsigma = _batch(rng)
    row = 0 if who == "face" else 1  # y = (1, 0, ...)
    before = debiasing_loss(x, x_recon, y, y_logit, mu, logsigma)[0].item()
    moved = host(x_recon).copy()
    moved[row] = 1 - moved[row]
    after = debiasing_loss(x, leaf(moved), y, y_logit, mu, logsigma)[0].item()
    assert (after != before) == changes


def test_debiasing_loss_gradients_match_finite_differences(rng):
    x, x_recon, y, y_logit, mu, logsigma = _batch(rng)
    assert minidl.gradcheck(lambda r, logit, m, s: debiasing_loss(x, r, y, logit, m, s)[0],
                            [x_recon, y_logit, mu, logsigma])


@pytest.mark.parametrize("call, error, words", [
    (lambda b: vae_loss(*b[:2], *b[4:], kl_weight=-1), ValueError, "kl_weight"),
    (lambda b: vae_loss(b[0], b[1][:, :2], *b[4:]), ValueError, "x_recon"),
    (lambda b: vae_loss(b[0], b[1], b[4][:2], b[5]), ValueError, "mu"),
    (lambda b: debiasing_loss(b[0], b[1], b[2][:3], b[3], *b[4:]), ValueError, "y must"),
    (lambda b: debiasing_loss(host(b[0]), *b[1:]), TypeError, "x must be a Tensor"),
])
def test_the_losses_reject_mismatched_arguments_naming_them(call, error, words, rng):
    with pytest.raises(error, match=words):
        call(_batch(rng))


# ---- the resampling weights -----------------------------------------------------------------------------
def test_weights_of_a_hand_computed_case():
    # 2 bins over [0, 1]: four means in the first (density 4 / (5 * 0.5) = 1.6), one in the second (0.4)
    mu = minidl.tensor(np.array([[0.0], [0.1], [0.2], [0.3], [1.0]]))
    weights = host(sampling_weights(mu, bins=2, smoothing=0.1))
    common, lonely = 1 / (1.6 + 0.1), 1 / (0.4 + 0.1)
    assert np.allclose(weights, np.array([common] * 4 + [lonely]) / (4 * common + lonely))


def test_each_example_takes_its_largest_weight_over_the_dimensions():
    # dimension 1 singles out example 4, dimension 2 example 0; the others share the common weight
    mu = minidl.tensor(np.array([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    per_dimension = np.array([1 / 1.7] * 4 + [1 / 0.5]) / (4 / 1.7 + 1 / 0.5)
    expected = np.maximum(per_dimension, per_dimension[::-1])
    assert np.allclose(host(sampling_weights(mu, bins=2, smoothing=0.1)), expected / expected.sum())


@pytest.mark.parametrize("bins, smoothing, latent", [(10, 0.001, 4), (3, 0.5, 2), (10, 0.001, 1)])
def test_weights_match_the_course_labs_numpy_code(bins, smoothing, latent, rng):
    mu = np.concatenate([rng.normal(size=(60, latent)), rng.normal(4, 0.3, size=(3, latent))])
    ours = host(sampling_weights(minidl.tensor(mu), bins=bins, smoothing=smoothing))
    assert np.allclose(ours, _lab_weights(mu, bins, smoothing))
    assert ours.dtype == np.float64 and np.isclose(ours.sum(), 1.0)


@pytest.mark.parametrize("bins", [1, 4, 10])
def test_latent_density_is_numpys_histogram_density(bins, rng):
    mu = rng.normal(size=(40, 3))
    density = host(latent_histogram_density(minidl.tensor(mu), bins=bins))
    for d in range(3):
        reference, edges = np.histogram(mu[:, d], bins=bins, density=True)
        index = np.clip(np.digitize(mu[:, d], edges) - 1, 0, bins - 1)
        assert np.allclose(density[:, d], reference[index])


@pytest.mark.parametrize("values", [[[2.0], [2.0], [2.0]], [[0.0], [0.5], [1.0]]])
def test_equal_densities_give_uniform_weights(values):
    weights = host(sampling_weights(minidl.tensor(np.array(values)), bins=3))
    assert np.allclose(weights, 1 / 3)


def test_more_smoothing_moves_the_weights_towards_uniform(rng):
    mu = minidl.tensor(np.concatenate([rng.normal(size=(50, 2)), rng.normal(5, 0.1, size=(2, 2))]))
    spreads = [host(sampling_weights(mu, smoothing=s)).std() for s in (0.001, 0.1, 10.0)]
    assert spreads[0] > spreads[1] > spreads[2]


@pytest.mark.parametrize("call, error, words", [
    (lambda mu: sampling_weights(mu, smoothing=0), ValueError, "smoothing"),
    (lambda mu: sampling_weights(mu, bins=0), ValueError, "bins"),
    (lambda mu: sampling_weights(host(mu)), TypeError, "latent_means must be a Tensor"),
    (lambda mu: sampling_weights(mu[:, 0]), ValueError, r"latent_means must have shape \(N, L\)"),
    (lambda mu: sampling_weights(mu[:0]), ValueError, "no rows"),
])
def test_sampling_weights_reject_bad_arguments_naming_them(call, error, words, rng):
    with pytest.raises(error, match=words):
        call(minidl.tensor(rng.normal(size=(5, 2))))
