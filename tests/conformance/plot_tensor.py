# Plotting tensors with matplotlib and converting them with NumPy.
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

t = torch.linspace(0.0, 1.0, 16).reshape(4, 4)
figure, (left, right) = plt.subplots(1, 2)
image = left.imshow(t)
lines = right.plot(t[0], t[1])
print("image", image.get_array().shape, "line points", len(lines[0].get_xdata()))
array = np.asarray(t)
print("numpy", array.shape, array.dtype, f"{array.sum():.4f}")
print("index", array[torch.tensor(2)].tolist()[:2])
shared = torch.from_numpy(np.zeros(3, dtype=np.float32))
print("from_numpy", shared.dtype == torch.float32, tuple(shared.shape))
loss = torch.tensor(0.123456)
print(f"formatted {loss:.3f} {loss.item():.2f}")
plt.close(figure)
