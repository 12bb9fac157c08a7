# An LSTM language model and a sampler with torch.multinomial, as in the music lab.
import torch
import torch.nn as nn


class CharModel(nn.Module):
    def __init__(self, vocab, embed, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, tokens, state=None):
        output, state = self.lstm(self.embedding(tokens), state)
        return self.head(output), state


model = CharModel(vocab=7, embed=4, hidden=6)
with torch.no_grad():
    for i, p in enumerate(model.parameters()):
        p.copy_(torch.linspace(-0.4, 0.4, p.numel()).reshape(p.shape) * (1 - 0.05 * i))
tokens = torch.tensor([[1, 2, 3, 4, 5, 6, 0, 1]])
logits, (h, c) = model(tokens[:, :-1])
loss = nn.functional.cross_entropy(logits.reshape(-1, 7), tokens[:, 1:].reshape(-1))
print("logits", tuple(logits.shape), "state", tuple(h.shape), tuple(c.shape))
print("loss", f"{loss.item():.4f}")
probs = torch.softmax(logits[0, -1] / 0.8, dim=-1)
draws = torch.multinomial(probs, num_samples=5, replacement=True)
print("draws", tuple(draws.shape), draws.dtype == torch.int64, bool(((draws >= 0) & (draws < 7)).all()))
greedy, state = [], None
token = torch.tensor([[1]])
with torch.no_grad():
    for _ in range(6):
        out, state = model(token, state)
        token = out[:, -1].argmax(dim=-1, keepdim=True)
        greedy.append(token.item())
print("greedy", greedy)
