"""Autoencoders and variational autoencoders on flat inputs: MLP encoder and decoder, the ELBO, IWAE.

An ``Autoencoder`` squeezes x through a small code and back and is trained on the reconstruction
error alone. A ``VAE`` makes the code a distribution, q(z|x) = N(mu(x), diag sigma(x)^2), decodes a
draw z into the logits of independent Bernoulli pixels p(x|z), and is trained on the negative
evidence lower bound

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))  >=  -log p(x)

(``elbo_terms`` returns the two terms per example, in nats). ``importance_weighted_bound`` tightens
the bound with K draws, ``active_units`` counts the latent dimensions the encoder uses. Everything
is written with the library's tensors and distributions, so it runs on every backend.
"""

import math

from minidl import nn
from minidl.distributions import Normal, kl_divergence
from minidl.nn import functional as F
from minidl.tensor import Tensor, no_grad


def _check_inputs(caller, x, n_inputs):
    if not isinstance(x, Tensor):
        raise TypeError(f"{caller}: x must be a Tensor of shape (N, {n_inputs}), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise ValueError(f"{caller}: x must have shape (N, {n_inputs}), got {x.shape}")


def _mlp(n_in, n_hidden, n_out):
    """One hidden ReLU layer: the encoder and the decoder of both models."""
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


class Autoencoder(nn.Module):
    """x -> encoder -> a code of ``n_latent`` numbers -> decoder -> a reconstruction in (0, 1).

    Both halves are MLPs with one hidden ReLU layer of ``n_hidden`` units; the decoder ends in a
    sigmoid, as pixels lie in [0, 1]. Input (N, n_inputs) float, code (N, n_latent), output
    (N, n_inputs). Train it on a reconstruction loss such as ``F.mse_loss(model(x), x)``.

    Taught in "Autoencoders" (book/part4/autoencoders.md).
    """

    def __init__(self, n_inputs=64, n_hidden=128, n_latent=2):
        super().__init__()
        self.n_inputs, self.n_latent = n_inputs, n_latent
        self.encoder = _mlp(n_inputs, n_hidden, n_latent)
        self.decoder = nn.Sequential(_mlp(n_latent, n_hidden, n_inputs), nn.Sigmoid())

    def encode(self, x):
        """The code of each input: (N, n_inputs) -> (N, n_latent).

        Taught in "Autoencoders" (book/part4/autoencoders.md).
        """
        _check_inputs("Autoencoder.encode", x, self.n_inputs)
        return self.encoder(x)

    def decode(self, z):
        """The reconstruction from a code: (N, n_latent) -> (N, n_inputs), each in (0, 1).

        Taught in "Autoencoders" (book/part4/autoencoders.md).
        """
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """A variational autoencoder for binary inputs: encoder q(z|x), prior N(0, I), Bernoulli decoder p(x|z).

    The encoder (one hidden ReLU layer of ``n_hidden`` units) outputs mu and log sigma, 2 ``n_latent``
    numbers per input; the decoder maps z to one logit per input pixel. ``forward(x)`` returns
    (logits of shape (N, n_inputs), the posterior q(z|x) as a ``Normal`` of batch shape (N, n_latent)).

    Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
    """

    def __init__(self, n_inputs=64, n_hidden=256, n_latent=8):
        super().__init__()
        self.n_inputs, self.n_latent = n_inputs, n_latent
        self.encoder = _mlp(n_inputs, n_hidden, 2 * n_latent)
        self.decoder = _mlp(n_latent, n_hidden, n_inputs)

    def encode(self, x):
        """q(z|x) = N(mu(x), diag sigma(x)^2): a ``Normal`` of batch shape (N, n_latent).

        The encoder's outputs are mu and log sigma; sigma = exp(log sigma) is positive for any weights,
        and the same sigma serves the draw and the KL. TypeError / ValueError for x not of shape (N, n_inputs).

        Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
        """
        _check_inputs("VAE.encode", x, self.n_inputs)
        out = self.encoder(x)
        mu, log_sigma = out[:, : self.n_latent], out[:, self.n_latent:]
        return Normal(mu, log_sigma.exp())

    def reparameterize(self, posterior, sample_shape=()):
        """z = mu + sigma * eps with eps ~ N(0, I): a draw through which gradients reach mu and sigma.

        Shape ``sample_shape + (N, n_latent)``.

        Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
        """
        return posterior.rsample(sample_shape)

    def decode(self, z):
        """The logits of p(x|z), one per pixel: (..., n_latent) -> (..., n_inputs).

        Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
        """
        return self.decoder(z)

    def forward(self, x):
        posterior = self.encode(x)
        return self.decode(self.reparameterize(posterior)), posterior


def elbo_terms(model, x):
    """The two terms of -ELBO per example, in nats: (reconstruction, KL), each of shape (N,).

    reconstruction = -log p(x|z) for one draw z ~ q(z|x) (an unbiased estimate of E_q[-log p(x|z)]),
    summed over the pixels of x (binary, float, shape (N, n_inputs)); KL = KL(q(z|x) || N(0, I)) in
    closed form, summed over the latent dimensions. The loss of a beta-VAE is
    ``(reconstruction + beta * kl).mean()``. Differentiable in the model's parameters.

    Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
    """
    logits, posterior = model(x)
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    kl = kl_divergence(posterior, Normal(0.0, 1.0)).sum(-1)
    return reconstruction, kl


def importance_weighted_bound(model, x, samples=200):
    """The IWAE estimate of log p(x) per example, in nats: shape (N,), never above log p(x) on average.

    log p(x) >= E[log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)] with z_1..z_K ~ q(z|x) (Burda et al.,
    2016); K = ``samples`` = 1 is the ELBO, and the bound rises towards log p(x) as K grows. Computed
    without gradients. ValueError for ``samples`` < 1.

    Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
    """
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"importance_weighted_bound: samples must be an int >= 1, got {samples!r}")
    with no_grad():
        posterior = model.encode(x)
        z = posterior.sample((samples,))  # (K, N, n_latent)
        logits = model.decode(z)
        targets = x.expand(logits.shape)
        log_likelihood = -F.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
        log_prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
        log_weights = log_likelihood + log_prior - posterior.log_prob(z).sum(-1)  # (K, N)
        top = log_weights.max(0).values
        return top + (log_weights - top).exp().mean(0).log()


def active_units(model, x, threshold=0.01):
    """How many latent dimensions the encoder uses: the count of i with Cov_x(E_q[z_i | x]) > ``threshold``.

    A unit whose posterior mean does not vary with x carries no information about x (Burda et al.,
    2016). x: (N, n_inputs); returns an int.

    Taught in "Variational autoencoders and β-VAE" (book/part4/vae.md).
    """
    with no_grad():
        means = model.encode(x).loc
    return int((means.var(0) > threshold).sum().item())
