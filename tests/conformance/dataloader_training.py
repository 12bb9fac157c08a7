# A training loop over a DataLoader of a TensorDataset, with Adam.
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

X = torch.sin(torch.arange(64.0) * 0.3).reshape(32, 2)
y = (X[:, 0] * X[:, 1] > 0).long()
loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=False)
model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
with torch.no_grad():
    for i, p in enumerate(model.parameters()):
        p.copy_(torch.linspace(-1.0, 1.0, p.numel()).reshape(p.shape) * (0.5 + 0.1 * i))
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
loss_fn = nn.CrossEntropyLoss()
print("batches", len(loader))
for epoch in range(3):
    total = 0.0
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
    print(epoch, f"{total / len(X):.4f}")
with torch.no_grad():
    accuracy = (model(X).argmax(dim=1) == y).float().mean().item()
print("accuracy", f"{accuracy:.4f}")
