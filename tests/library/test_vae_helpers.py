"""The autoencoder and the VAE of Part 4: shapes, the ELBO's two terms, the importance-weighted bound,
the active-unit count, gradients through the reparameterized draw, and the errors for bad input."""

import math

import numpy as np
import pytest

import minidl
from minidl.distributions import Normal, kl_divergence
from minidl.models.vae import VAE, Autoencoder, active_units, elbo_terms, importance_weighted_bound

from conftest import leaf


def binary(rng, n, width):
    return leaf((rng.random((n, width)) < 0.4).astype(np.float32), requires_grad=False)


@pytest.mark.parametrize("n_inputs, n_latent", [(64, 2), (10, 3)])
def test_autoencoder_codes_and_reconstructions_have_the_documented_shapes(rng, n_inputs, n_latent):
    model = Autoencoder(n_inputs, 16, n_latent)
    x = binary(rng, 5, n_inputs)
    code = model.encode(x)
    out = model(x)
    assert code.shape == (5, n_latent) and out.shape == (5, n_inputs)
    assert bool(((out.data > 0) & (out.data < 1)).all())


@pytest.mark.parametrize("n_inputs, n_latent, sample_shape", [(64, 8, ()), (10, 3, (4,))])
def test_vae_posterior_and_draws_have_the_documented_shapes(rng, n_inputs, n_latent, sample_shape):
    model = VAE(n_inputs, 16, n_latent)
    posterior = model.encode(binary(rng, 5, n_inputs))
    z = model.reparameterize(posterior, sample_shape)
    assert isinstance(posterior, Normal) and posterior.batch_shape == (5, n_latent)
    assert z.shape == sample_shape + (5, n_latent)
    assert model.decode(z).shape == sample_shape + (5, n_inputs)


def test_reparameterized_draw_passes_gradients_to_the_encoder(rng):
    model = VAE(6, 8, 2)
    z = model.reparameterize(model.encode(binary(rng, 4, 6)))
    (z * z).sum().backward()
    first = model.encoder[0].weight.grad
    assert first is not None and float(abs(first.data).sum()) > 0


def test_elbo_terms_are_the_bce_of_one_draw_and_the_closed_form_kl(rng):
    model = VAE(6, 8, 3)
    x = binary(rng, 5, 6)
    minidl.manual_seed(7)
    reconstruction, kl = elbo_terms(model, x)
    minidl.manual_seed(7)  # the same draw again
    posterior = model.encode(x)
    logits = model.decode(posterior.rsample())
    p, y = 1 / (1 + np.exp(-minidl.to_numpy(logits).astype(np.float64))), minidl.to_numpy(x)
    mu, sigma = minidl.to_numpy(posterior.loc), minidl.to_numpy(posterior.scale)
    np.testing.assert_allclose(minidl.to_numpy(reconstruction), -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(1),
                               rtol=1e-4)
    np.testing.assert_allclose(minidl.to_numpy(kl), 0.5 * (mu**2 + sigma**2 - 1 - 2 * np.log(sigma)).sum(1),
                               rtol=1e-4, atol=1e-6)


def test_elbo_terms_match_pytorch_for_the_same_draw(rng, torch):
    model = VAE(6, 8, 3).double()
    x = leaf(rng.random((5, 6)) < 0.5, requires_grad=False).double()
    minidl.manual_seed(3)
    reconstruction, kl = elbo_terms(model, x)
    (reconstruction + kl).sum().backward()
    minidl.manual_seed(3)
    posterior = model.encode(x)
    eps = (model.reparameterize(posterior) - posterior.loc) / posterior.scale  # the draw's standard normals

    weights = [torch.tensor(minidl.to_numpy(p), requires_grad=True) for p in model.parameters()]
    (w1, b1, w2, b2), (w3, b3, w4, b4) = weights[:4], weights[4:]
    xt = torch.tensor(minidl.to_numpy(x))
    out = torch.relu(xt @ w1.T + b1) @ w2.T + b2
    mu, sigma = out[:, :3], out[:, 3:].exp()
    logits = torch.relu((mu + torch.tensor(minidl.to_numpy(eps)) * sigma) @ w3.T + b3) @ w4.T + b4
    theirs_rec = torch.nn.functional.binary_cross_entropy_with_logits(logits, xt, reduction="none").sum(-1)
    theirs_kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma),
                                                  torch.distributions.Normal(0.0, 1.0)).sum(-1)
    (theirs_rec + theirs_kl).sum().backward()
    np.testing.assert_allclose(minidl.to_numpy(reconstruction), theirs_rec.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(minidl.to_numpy(kl), theirs_kl.detach().numpy(), rtol=1e-10)
    for ours, theirs in zip(model.parameters(), weights):
        np.testing.assert_allclose(minidl.to_numpy(ours.grad), theirs.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_elbo_gradients_match_finite_differences(rng):
    model = VAE(5, 6, 2).double()
    x = leaf(rng.random((3, 5)) < 0.5, requires_grad=False).double()
    weight = leaf(minidl.to_numpy(model.encoder[0].weight).copy())
    model.encoder[0].weight = weight  # the finite differences move the layer's own weight

    def negative_elbo(weight):
        minidl.manual_seed(0)  # the same draw of z at every call
        reconstruction, kl = elbo_terms(model, x)
        return reconstruction + kl

    assert minidl.gradcheck(negative_elbo, [weight])


@pytest.mark.parametrize("samples", [1, 5, 50])
def test_importance_weighted_bound_is_exact_when_the_posterior_is_the_prior_and_z_is_ignored(rng, samples):
    """With q(z|x) = p(z) = N(0, I) and a decoder that ignores z, every weight equals p(x)."""
    model = VAE(6, 8, 2)
    for layer in (model.encoder[2], model.decoder[2]):
        layer.weight.data[...] = 0
    model.encoder[2].bias.data[...] = 0  # mu = 0, log sigma = 0
    x = binary(rng, 4, 6)
    logits = minidl.to_numpy(model.decoder[2].bias).astype(np.float64)
    y = minidl.to_numpy(x)
    log_px = (y * logits - np.logaddexp(0, logits)).sum(1)
    bound = importance_weighted_bound(model, x, samples=samples)
    np.testing.assert_allclose(minidl.to_numpy(bound), log_px, rtol=1e-5)


def test_importance_weighted_bound_rises_with_the_number_of_samples(rng):
    model = VAE(8, 16, 2)
    x = binary(rng, 50, 8)
    one, many = (float(importance_weighted_bound(model, x, samples=k).mean().item()) for k in (1, 100))
    assert many > one


def test_importance_weighted_bound_carries_no_gradient(rng):
    bound = importance_weighted_bound(VAE(6, 8, 2), binary(rng, 3, 6), samples=4)
    assert not bound.requires_grad


@pytest.mark.parametrize("dead", [0, 1, 3])
def test_active_units_counts_latents_whose_mean_varies_with_x(rng, dead):
    model = VAE(6, 8, 3)
    model.encoder[2].weight.data[...] *= 50  # every mean varies strongly with x ...
    model.encoder[2].weight.data[:dead] = 0  # ... except the first `dead` ones, constant in x
    assert active_units(model, binary(rng, 100, 6)) == 3 - dead


@pytest.mark.parametrize("call, message", [
    (lambda m, x: m.encode(x[:, :5]), "shape"),
    (lambda m, x: m.encode(minidl.to_numpy(x)), "Tensor"),
    (lambda m, x: importance_weighted_bound(m, x, samples=0), "samples"),
])
def test_bad_input_raises_a_clear_error(rng, call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call(VAE(6, 8, 2), binary(rng, 3, 6))


def test_autoencoder_rejects_a_wrong_width(rng):
    with pytest.raises(ValueError, match=r"x must have shape \(N, 64\)"):
        Autoencoder(64, 8, 2).encode(binary(rng, 3, 10))


def test_kl_term_is_zero_only_for_the_prior():
    """KL(N(mu, sigma^2) || N(0, 1)) is 0 at mu = 0, sigma = 1 and positive elsewhere."""
    p = Normal(minidl.tensor([0.0, 1.0, 0.0]), minidl.tensor([1.0, 1.0, math.e]))
    kl = minidl.to_numpy(kl_divergence(p, Normal(0.0, 1.0)))
    np.testing.assert_allclose(kl, [0.0, 0.5, 0.5 * (math.e**2 - 1 - 2)], rtol=1e-5, atol=1e-7)
