"""A small training loop the chapters share: history, early stopping, a NaN guard, a progress bar.

Taught in "Overfitting and regularization" (``book/part1/regularization.md``).
"""

import math
import numbers

from minidl.tensor import Tensor, no_grad


def accuracy(logits, targets):
    """The fraction of rows whose largest logit is the target class.

    Taught in "Overfitting and regularization" (book/part1/regularization.md).
    """
    predictions = logits.data.argmax(axis=-1)
    return float((predictions == targets.data).mean())


def evaluate(model, loader, loss_fn):
    """Mean loss and accuracy (None unless targets are class indices) over ``loader``, in eval mode.

    The model's training mode is restored afterwards, also when a batch raises. Raises TypeError for a
    batch that is not an (inputs, targets) pair and ValueError for a loader with no batches.

    Taught in "Overfitting and regularization" (book/part1/regularization.md) and "Convolutional networks" (book/part3/cnn.md).
    """
    _check_callables("evaluate", model, loss_fn)
    was_training = model.training
    model.eval()
    totals = _EpochTotals()
    try:
        with no_grad():
            for batch in loader:
                inputs, targets = _pair("evaluate", "loader", batch)
                outputs = model(inputs)
                totals.add(loss_fn(outputs, targets).item(), outputs, targets)
    finally:
        model.train(was_training)
    return totals.means("evaluate", "loader")


def _check_callables(caller, model, loss_fn, optimizer=None):
    """Refuse the usual mix-ups: a class instead of an instance, arguments in the wrong order."""
    for name, value in (("model", model), ("loss_fn", loss_fn)):
        if isinstance(value, type):
            raise TypeError(
                f"{caller}: {name} is the class {value.__name__}, not an instance; create one first, "
                f"e.g. {value.__name__}()"
            )
        if not callable(value):
            raise TypeError(f"{caller}: {name} must be callable, got {type(value).__name__}")
    if not hasattr(model, "training"):
        raise TypeError(f"{caller}: model must be an nn.Module, got {type(model).__name__}")
    if optimizer is not None and not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(
            f"{caller}: optimizer must be an optimizer such as minidl.optim.SGD(model.parameters(), lr=0.1), "
            f"got {type(optimizer).__name__}; the order is fit(model, loss_fn, optimizer, train_loader, epochs)"
        )


def _pair(caller, loader_name, batch):
    """A batch as (inputs, targets), or a TypeError saying how to build a loader that yields pairs."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    shown = f"a tuple of {len(batch)}" if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}"
    shape = f" of shape {batch.shape}" if hasattr(batch, "shape") else ""
    raise TypeError(
        f"{caller}: each batch of {loader_name} must be an (inputs, targets) pair, got {shown}{shape}; "
        "build the loader from both arrays: DataLoader((X, y), batch_size=...)"
    )


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

    def means(self, caller, loader_name):
        if self.count == 0:
            raise ValueError(
                f"{caller}: {loader_name} yielded no samples (an empty data set, or drop_last=True with fewer "
                "samples than batch_size)"
            )
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
    a FloatingPointError naming the epoch and step, before that step updates any weight. The model's
    training mode is restored on return, also when fit raises. Raises TypeError for arguments in the
    wrong order, a class instead of an instance, or batches that are not (inputs, targets) pairs.

    Taught in "Optimization in practice" (book/part1/optimization.md) and "Overfitting and regularization" (book/part1/regularization.md).
    """
    _check_callables("fit", model, loss_fn, optimizer)
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise TypeError(f"fit: epochs must be an int, got {type(epochs).__name__} {epochs!r}")
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if patience is not None and not (isinstance(patience, numbers.Integral) and patience >= 1):
        raise ValueError(f"fit: patience must be a positive int (epochs without improvement) or None, got {patience!r}")
    if patience is not None and val_loader is None:
        raise ValueError("fit: early stopping (patience) needs a val_loader to watch")
    was_training = model.training
    try:
        return _fit(model, loss_fn, optimizer, train_loader, epochs, val_loader, patience, scheduler, progress)
    finally:
        model.train(was_training)


def _fit(model, loss_fn, optimizer, train_loader, epochs, val_loader, patience, scheduler, progress):
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
        for step, batch in enumerate(train_loader, start=1):
            inputs, targets = _pair("fit", "train_loader", batch)
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
        train_loss, train_accuracy = totals.means("fit", "train_loader")
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
