# The torch.X function forms with dim= and keepdim=.
import torch

x = torch.linspace(-1.0, 1.0, 12).reshape(3, 4)
print("sum", [round(v, 4) for v in torch.sum(x, dim=1).tolist()])
print("mean", torch.mean(x, dim=0, keepdim=True).shape == (1, 4))
print("max", [round(v, 4) for v in torch.max(x, dim=1).values.tolist()], torch.max(x, dim=1).indices.tolist())
print("exp", f"{torch.exp(x).sum().item():.4f}", "abs", f"{torch.abs(x).sum().item():.4f}")
print("clamp", [round(v, 4) for v in torch.clamp(x, min=-0.5, max=0.5)[0].tolist()])
print("softmax", [round(v, 4) for v in torch.softmax(x, dim=1)[0].tolist()])
print("cat", tuple(torch.cat([x, x], dim=0).shape), "stack", tuple(torch.stack([x, x]).shape))
print("transpose", tuple(torch.transpose(x, 0, 1).shape), "unsqueeze", tuple(torch.unsqueeze(x, 0).shape))
print("where", [round(v, 4) for v in torch.where(x > 0, x, torch.zeros_like(x))[2].tolist()])
print("add", f"{torch.add(x, 1).sum().item():.4f}", "mul", f"{torch.mul(x, x).sum().item():.4f}")
