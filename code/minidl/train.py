"""A small training loop the chapters share: history, early stopping, a NaN guard, a progress bar.

Taught in "Overfitting and regularization" (``book/part1/regularization.md``).
"""

import math

from minidl.tensor import Tensor, no_grad


def accuracy(logits, targets):
    """The fraction of rows whose largest logit is the target class.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """
    predictions = logits.data.argmax(axis=-1)
    return float((predictions == targets.data).mean())


def evaluate(model, loader, loss_fn):
    """Mean loss and accuracy (None unless targets are class indices) over ``loader``, in eval mode.

    Taught in "Overfitting and regularization" (book/part1/regularization.md) and "Convolutional networks" (book/part3/cnn.md).
    """
    was_training = model.training
    model.eval()
    totals = _EpochTotals()
    with no_grad():
        for inputs, targets in loader:
            outputs = model(inputs)
            totals.add(loss_fn(outputs, targets).item(), outputs, targets)
    model.train(was_training)
    return totals.means()


class _EpochTotals:
    """Running sums over the batches of an epoch, for its mean loss and accuracy (None unless the
    targets are class indices)."""

    def __init__(self):
        self.loss, self.correct, self.count, self.classes = 0.0, 0.0, 0, True

    def add(self, loss_value, outputs, targets):
        n = len(targets)
        self.loss += loss_value * n
        self.count += n
        self.classes = self.classes and targets.dtype.kind in "iu" and outputs.ndim == 2
        if self.classes:
            self.correct += accuracy(outputs, targets) * n

    def means(self):
        return self.loss / self.count, (self.correct / self.count if self.classes else None)


class History(dict):
    """Per-epoch curves: ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``; and
    ``best_epoch`` (1-based, the one whose weights the model ends with when early stopping).

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def fit(model, loss_fn, optimizer, train_loader, epochs, val_loader=None, patience=None,
        scheduler=None, progress=False):
    """Train for up to ``epochs`` epochs and return a History.

    With ``patience`` (and a ``val_loader``), stop once the validation loss has not improved for that
    many epochs and restore the weights of the best epoch. A NaN or infinite loss stops training with
    an error naming the epoch and step, rather than training on garbage.

    Taught in "Optimization in practice" (book/part1/optimization.md) and "Overfitting and regularization" (book/part1/regularization.md).
    """
    if patience is not None and val_loader is None:
        raise ValueError("fit: early stopping (patience) needs a val_loader to watch")
    history = History(train_loss=[], train_accuracy=[], val_loss=[], val_accuracy=[], best_epoch=None)
    best_loss, best_state, waited = math.inf, None, 0
    if progress:
        from tqdm import tqdm  # plain text bar: the notebook widget needs ipywidgets

        bar = tqdm(range(1, epochs + 1), desc="epochs")
    else:
        bar = range(1, epochs + 1)
    for epoch in bar:
        model.train()
        totals = _EpochTotals()
        for step, (inputs, targets) in enumerate(train_loader, start=1):
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"fit: the loss became {value} at epoch {epoch}, step {step}; "
                    "try a smaller learning rate, or check the inputs for NaN or inf"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals.add(value, outputs, targets)
        if scheduler is not None:
            scheduler.step()
        train_loss, train_accuracy = totals.means()
        history["train_loss"].append(train_loss)
        history["train_accuracy"].append(train_accuracy)
        if val_loader is not None:
            val_loss, val_accuracy = evaluate(model, val_loader, loss_fn)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
            if progress:
                bar.set_postfix(train_loss=train_loss, val_loss=val_loss)
            if patience is not None:
                if val_loss < best_loss:
                    best_loss, waited, history["best_epoch"] = val_loss, 0, epoch
                    best_state = {name: t.data.copy() for name, t in model.state_dict().items()}
                else:
                    waited += 1
                    if waited >= patience:
                        break
    if best_state is not None:
        model.load_state_dict({name: Tensor(data) for name, data in best_state.items()})
    return history
