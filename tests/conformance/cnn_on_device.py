# An MNIST-style CNN moved to the device, as the course's labs write it.
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
torch.backends.cudnn.benchmark = True
model = nn.Sequential(
    nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(4, 8, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(8 * 2 * 2, 10),
).to(device)
with torch.no_grad():
    for i, p in enumerate(model.parameters()):
        p.copy_(torch.linspace(-0.2, 0.2, p.numel()).reshape(p.shape) * (1 + 0.05 * i))
images = torch.sin(torch.arange(2 * 12 * 12, dtype=torch.float32)).reshape(2, 1, 12, 12).to(device)
labels = torch.tensor([3, 7]).to(device)
logits = model(images)
loss = nn.functional.cross_entropy(logits, labels)
loss.backward()
print("logits", tuple(logits.shape), "device ok", logits.device == images.device)
print("loss", f"{loss.item():.4f}")
print("grad norm", f"{(model[0].weight.grad ** 2).sum().sqrt().item():.4f}")
print("cpu", tuple(logits.detach().cpu().shape))
