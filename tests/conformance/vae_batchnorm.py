# A small VAE with BatchNorm and the reparameterization trick (randn_like).
import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU())
        self.mu = nn.Linear(6, 2)
        self.logvar = nn.Linear(6, 2)
        self.decoder = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 8))

    def forward(self, x, eps=None):
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        eps = torch.randn_like(mu) if eps is None else eps
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decoder(z), mu, logvar


vae = VAE()
with torch.no_grad():
    for i, p in enumerate(vae.parameters()):
        p.copy_(torch.linspace(-0.3, 0.3, p.numel()).reshape(p.shape) + 0.02 * i)
x = torch.sigmoid(torch.sin(torch.arange(32.0)).reshape(4, 8) * 3)
print("random eps", tuple(torch.randn_like(torch.zeros(4, 2)).shape))
recon, mu, logvar = vae(x, eps=torch.full((4, 2), 0.5))
kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
loss = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") + kl
loss.backward()
bn = vae.encoder[1]
print("loss", f"{loss.item():.4f}", "kl", f"{kl.item():.4f}")
print("running_mean", [round(v, 4) for v in bn.running_mean.tolist()])
print("buffers", sorted(k for k in vae.state_dict() if "running" in k or "batches" in k))
vae.eval()
with torch.no_grad():
    print("eval", f"{vae(x, eps=torch.zeros(4, 2))[0].sum().item():.4f}")
