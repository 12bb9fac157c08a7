# torch.distributions: log-probabilities, entropies and KL divergences.
import torch
from torch.distributions import Bernoulli, Categorical, Normal, kl_divergence

p = Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 2.0]))
q = Normal(torch.tensor([0.5, 0.0]), torch.tensor([1.5, 1.0]))
value = torch.tensor([0.3, -0.7])
print("normal log_prob", [round(v, 4) for v in p.log_prob(value).tolist()])
print("normal entropy", [round(v, 4) for v in p.entropy().tolist()])
print("kl normal", [round(v, 4) for v in kl_divergence(p, q).tolist()])
c = Categorical(logits=torch.tensor([0.1, 1.2, -0.3]))
print("categorical", [round(v, 4) for v in c.probs.tolist()], f"{c.entropy().item():.4f}",
      f"{c.log_prob(torch.tensor(1)).item():.4f}")
b = Bernoulli(probs=torch.tensor([0.2, 0.9]))
print("bernoulli", [round(v, 4) for v in b.log_prob(torch.tensor([1.0, 0.0])).tolist()],
      [round(v, 4) for v in b.entropy().tolist()])
loc = torch.tensor([0.0], requires_grad=True)
sample = Normal(loc, torch.tensor([1.0])).rsample((3,))
sample.sum().backward()
print("rsample", tuple(sample.shape), loc.grad.tolist())
print("sample shape", tuple(c.sample((4,)).shape), tuple(b.sample().shape))
