"""The debiasing variational autoencoder (DB-VAE) of Amini et al. (2019), the model of the course's lab 2.

A face detector whose encoder does two jobs: one of its outputs is the classifier's logit, the others
are the mean mu and log standard deviation log sigma of a latent code z, which a decoder turns back
into the image. Trained on faces, the latent code learns what faces look like; where in latent space
few training faces lie, the data set under-represents something, and ``sampling_weights`` makes those
faces more likely to be drawn into a batch.

The loss is the lab's text's (its equation, and its TensorFlow solution):

    L = BCE(y, y_logit) + 1[y = 1] * L_VAE(x),    L_VAE = kl_weight * KL + mean |x - x_recon|,

the classification loss on every image and the VAE loss on faces only. The KL is that of the
distribution the code is drawn from, z = mu + sigma * eps with sigma = exp(log sigma), so it uses the
variance sigma^2 = exp(2 log sigma):

    KL(N(mu, sigma^2) || N(0, 1)) = 1/2 (sigma^2 + mu^2 - 1 - log sigma^2),

summed over the latent dimensions. Taught in "Lab: debiasing a classifier with a VAE"
(``book/part4/debiasing_lab.md``), which also says where the course's PyTorch solution differs.
"""

import numbers

from minidl import backend, nn
from minidl.distributions import Normal, kl_divergence
from minidl.nn import functional as F
from minidl.tensor import Tensor


def _check_batch(caller, name, value, shape):
    """A Tensor of the given shape, else TypeError / ValueError; a str in ``shape`` names a free size."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{caller}: {name} must be a Tensor, got {type(value).__name__}")
    if value.ndim != len(shape) or any(not isinstance(want, str) and have != want
                                       for have, want in zip(value.shape, shape)):
        wanted = "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{caller}: {name} must have shape {wanted}, got {tuple(value.shape)}")


class DBVAE(nn.Module):
    """A classifier whose encoder also parameterizes a VAE: x -> (y_logit, mu, log sigma) and z -> x_recon.

    The encoder is an MLP with one hidden ReLU layer of ``n_hidden`` units and ``1 + 2 n_latent``
    outputs: the logit of "face", then mu and log sigma of q(z|x) = N(mu, diag sigma^2). The decoder
    (one hidden ReLU layer, a sigmoid at the end) maps z back to ``n_inputs`` pixels in (0, 1).
    ``forward(x)`` returns ``(y_logit (N,), mu (N, n_latent), logsigma (N, n_latent), x_recon (N, n_inputs))``
    as the lab's model does. Inputs are float tensors of shape (N, n_inputs).

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """

    def __init__(self, n_inputs=64, n_hidden=64, n_latent=4):
        super().__init__()
        self.n_inputs, self.n_latent = n_inputs, n_latent
        self.encoder = nn.Sequential(nn.Linear(n_inputs, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 1 + 2 * n_latent))
        self.decoder = nn.Sequential(nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_inputs),
                                     nn.Sigmoid())

    def encode(self, x):
        """The classifier's logit and the latent distribution's parameters: ``(y_logit, mu, logsigma)``.

        ``x`` (N, n_inputs) float; ``y_logit`` (N,), ``mu`` and ``logsigma`` (N, n_latent). TypeError or
        ValueError for an ``x`` of another type or shape.

        Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
        """
        _check_batch("DBVAE.encode", "x", x, ("N", self.n_inputs))
        out = self.encoder(x)
        return out[:, 0], out[:, 1:1 + self.n_latent], out[:, 1 + self.n_latent:]

    def reparameterize(self, mu, logsigma):
        """A draw z = mu + sigma * eps, eps ~ N(0, I), sigma = exp(logsigma): gradients reach mu and logsigma.

        ``mu`` and ``logsigma`` (N, n_latent); returns (N, n_latent). The library's seeded generator
        (``minidl.manual_seed``) draws eps.

        Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
        """
        return Normal(mu, logsigma.exp()).rsample()

    def decode(self, z):
        """The reconstruction from a latent code: (N, n_latent) -> (N, n_inputs), each pixel in (0, 1).

        Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
        """
        return self.decoder(z)

    def forward(self, x):
        y_logit, mu, logsigma = self.encode(x)
        return y_logit, mu, logsigma, self.decode(self.reparameterize(mu, logsigma))

    def predict(self, x):
        """The classifier alone, as used at test time: the logit of "face", shape (N,). No decoding.

        Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
        """
        return self.encode(x)[0]


def vae_loss(x, x_recon, mu, logsigma, kl_weight=0.0005):
    """The lab's VAE loss per example: ``kl_weight * KL(N(mu, sigma^2) || N(0, I)) + mean |x - x_recon|``.

    The KL is summed over the latent dimensions, with sigma = exp(logsigma), so sigma^2 =
    exp(2 logsigma) as in the draw of ``DBVAE.reparameterize`` (the course's code writes exp(logsigma)
    there); the reconstruction term is the mean absolute error over the pixels, as in the lab.
    ``x``, ``x_recon`` (N, D); ``mu``, ``logsigma`` (N, L); returns (N,). ValueError for a negative
    ``kl_weight`` or shapes that do not match.

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    if not isinstance(kl_weight, numbers.Real) or kl_weight < 0:
        raise ValueError(f"vae_loss: kl_weight must be a number >= 0, got {kl_weight!r}")
    _check_batch("vae_loss", "x", x, ("N", "D"))
    _check_batch("vae_loss", "x_recon", x_recon, x.shape)
    _check_batch("vae_loss", "mu", mu, (x.shape[0], "L"))
    _check_batch("vae_loss", "logsigma", logsigma, mu.shape)
    kl = kl_divergence(Normal(mu, logsigma.exp()), Normal(0.0, 1.0)).sum(-1)
    reconstruction = (x - x_recon).abs().mean(-1)
    return kl_weight * kl + reconstruction


def debiasing_loss(x, x_recon, y, y_logit, mu, logsigma, kl_weight=0.0005):
    """The DB-VAE loss of the lab's text: mean over the batch of ``BCE(y, y_logit) + 1[y = 1] * vae_loss``.

    Every image pays the classification loss; only faces (``y == 1``) pay the VAE loss, so the VAE
    learns the faces' latent structure and non-faces do not shape it. ``y`` (N,) of 0/1 (float or int),
    ``y_logit`` (N,), the rest as in ``vae_loss``. Returns ``(total_loss, classification_loss)``: a
    scalar tensor and the (N,) per-example classification losses, as the lab's function does.

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    _check_batch("debiasing_loss", "x", x, ("N", "D"))
    _check_batch("debiasing_loss", "y_logit", y_logit, (x.shape[0],))
    _check_batch("debiasing_loss", "y", y, y_logit.shape)
    y = y.float()
    classification_loss = F.binary_cross_entropy_with_logits(y_logit, y, reduction="none")
    face_indicator = (y == 1).float()
    total_loss = (classification_loss + face_indicator * vae_loss(x, x_recon, mu, logsigma, kl_weight)).mean()
    return total_loss, classification_loss


def latent_histogram_density(latent_means, bins=10):
    """Each example's histogram density along each latent dimension: shape (N, L), as ``numpy.histogram``.

    Per dimension, ``bins`` equal bins span the smallest to the largest mean (a constant column spans
    its value +- 0.5, as NumPy does); an example gets the count of its bin divided by N times the bin
    width. ``latent_means`` (N, L) Tensor, N >= 1; returns a float64 Tensor (N, L). ValueError for
    ``bins`` < 1 or no rows.

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"latent_histogram_density: bins must be an int >= 1, got {bins!r}")
    _check_batch("latent_histogram_density", "latent_means", latent_means, ("N", "L"))
    if latent_means.shape[0] == 0:
        raise ValueError("latent_histogram_density: latent_means has no rows; need at least one example")
    means = latent_means.detach().data.astype(backend.float64)
    xp = backend.xp(means)
    low, high = means.min(axis=0), means.max(axis=0)
    flat = high == low
    low, high = xp.where(flat, low - 0.5, low), xp.where(flat, high + 0.5, high)
    width = (high - low) / bins
    # the bin of each value; the largest value belongs to the last bin, as in numpy.histogram
    index = xp.clip(xp.floor((means - low) / width).astype(backend.int64), 0, bins - 1)
    counts = (index[:, :, None] == xp.arange(bins)[None, None, :]).sum(axis=0)  # (L, bins)
    density = counts / (means.shape[0] * width[:, None])
    return Tensor._from_op(xp.take_along_axis(density, index.T, axis=1).T, (), None)


def sampling_weights(latent_means, bins=10, smoothing=0.001):
    """Resampling probabilities of the training faces: high where the latent density is low (the lab's rule).

    For each latent dimension, the histogram density of ``latent_histogram_density`` plus ``smoothing``
    is normalized over the bins and inverted, ``p_d ∝ 1 / (density_d + smoothing)``, and normalized over
    the examples; an example's weight is its largest p_d over the dimensions, normalized to sum to 1.
    ``latent_means`` (N, L) Tensor of the encoder's mu; returns a float64 Tensor (N,) that sums to 1.
    ValueError for ``smoothing`` <= 0 or ``bins`` < 1. Larger ``smoothing`` moves the weights
    towards uniform.

    Taught in "Lab: debiasing a classifier with a VAE" (book/part4/debiasing_lab.md).
    """
    if not isinstance(smoothing, numbers.Real) or not smoothing > 0:
        raise ValueError(f"sampling_weights: smoothing must be a number > 0, got {smoothing!r}")
    density = latent_histogram_density(latent_means, bins)
    # the lab also normalizes the smoothed histogram over its bins first: a constant factor per
    # dimension, which the normalization over the examples removes again
    inverse = 1.0 / (density.data + smoothing)
    per_dimension = inverse / inverse.sum(axis=0)
    weights = per_dimension.max(axis=1)
    return Tensor._from_op(weights / weights.sum(), (), None)
