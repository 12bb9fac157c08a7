# A dense model with nn.Sequential, trained for a few steps with SGD.
import torch
import torch.nn as nn


def init_(model):
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (1 + 0.1 * i))


model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
init_(model)
x = torch.sin(torch.arange(20.0)).reshape(5, 4)
target = torch.tensor([0, 1, 2, 1, 0])
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for step in range(5):
    optimizer.zero_grad()
    loss = loss_fn(model(x), target)
    loss.backward()
    optimizer.step()
    print(step, f"{loss.item():.4f}")
print("params", sum(p.numel() for p in model.parameters()))
print("out", tuple(model(x).shape))
