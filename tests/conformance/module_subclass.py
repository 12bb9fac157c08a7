# A model as an nn.Module subclass; its parameters, state_dict and eval mode.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 5)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(5, 2)

    def forward(self, x):
        return self.fc2(self.drop(F.relu(self.fc1(x))))


net = Net()
with torch.no_grad():
    for i, p in enumerate(net.parameters()):
        p.copy_(torch.linspace(-0.3, 0.3, p.numel()).reshape(p.shape) + 0.01 * i)
print(list(net.state_dict().keys()))
print([tuple(p.shape) for p in net.parameters()])
net.eval()
x = torch.cos(torch.arange(12.0)).reshape(2, 6)
with torch.no_grad():
    out = net(x)
print("eval", [[round(v, 4) for v in row] for row in out.tolist()], net.training)
print("children", [type(m).__name__ for m in net.children()])
