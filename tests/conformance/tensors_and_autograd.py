# Tensors and autograd, as a first PyTorch lesson writes them.
import torch

x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
w = torch.tensor([0.5, -1.0], requires_grad=True)
y = torch.matmul(x, w)
z = torch.sigmoid(y).sum() + (x ** 2).mean()
z.backward()
print("y", [round(v, 4) for v in y.tolist()])
print("z", f"{z.item():.4f}")
print("x.grad", [[round(v, 4) for v in row] for row in x.grad.tolist()])
print("w.grad", [round(v, 4) for v in w.grad.tolist()])
print("shape", tuple(x.shape), x.dtype == torch.float32, y.requires_grad, x.is_leaf)
with torch.no_grad():
    w -= 0.1 * w.grad
w.grad.zero_()
print("w", [round(v, 4) for v in w.tolist()], w.grad.tolist())
a = torch.arange(6).reshape(2, 3)
print("int", a.dtype == torch.int64, a.sum().item(), torch.argmax(a, dim=1).tolist())
