"""Data loading, the training loop, saving and loading."""

import os

import numpy as np
import pytest

import minidl
import minidl.nn as nn
from minidl.data import DataLoader, load_digits, make_moons
from minidl.train import fit


def test_loader_covers_every_sample_once_per_epoch():
    X = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    loader = DataLoader((X, y), batch_size=4, shuffle=True, seed=0)
    assert len(loader) == 3
    seen = np.concatenate([minidl.to_numpy(labels) for _, labels in loader])
    assert sorted(seen) == list(range(10))


def test_loader_shuffles_differently_each_epoch_but_reproducibly():
    X = np.arange(20)
    first = [minidl.to_numpy(b) for b in DataLoader(X, batch_size=20, shuffle=True, seed=1)]
    loader = DataLoader(X, batch_size=20, shuffle=True, seed=1)
    epoch_one, epoch_two = ([minidl.to_numpy(b) for b in loader] for _ in range(2))
    np.testing.assert_array_equal(first[0], epoch_one[0])
    assert not np.array_equal(epoch_one[0], epoch_two[0])


def test_loader_yields_tensors_on_the_backend():
    inputs, labels = next(iter(DataLoader((np.zeros((4, 2)), np.zeros(4, dtype=np.int64)), batch_size=2)))
    assert isinstance(inputs, minidl.Tensor) and inputs.dtype == np.float32 and labels.dtype == np.int64
    assert minidl.backend.current().is_array(inputs.data)


def test_loader_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"same length.*\[3, 4\]"):
        DataLoader((np.zeros(3), np.zeros(4)))


def test_digits_split_is_stratified_and_fixed():
    first, second = load_digits(), load_digits()
    np.testing.assert_array_equal(first.y_test, second.y_test)
    assert first.X_train.shape[1] == 64 and len(first.X_train) + len(first.X_test) == 1797
    assert first.X_train.dtype == np.float32 and 0 <= first.X_train.min() and first.X_train.max() <= 1
    counts = np.bincount(first.y_test)
    assert counts.min() >= 34 and counts.max() <= 38


def _digits_mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def test_two_layer_mlp_reaches_97_percent_on_digits():
    data = load_digits()
    mean, scale = data.X_train.mean(axis=0), data.X_train.std(axis=0) + 0.1
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))
    train = DataLoader(((data.X_train - mean) / scale, data.y_train), batch_size=64, shuffle=True, seed=0)
    test = DataLoader(((data.X_test - mean) / scale, data.y_test), batch_size=256)
    optimizer = minidl.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    history = fit(model, nn.functional.cross_entropy, optimizer, train, epochs=60, val_loader=test,
                  scheduler=minidl.optim.CosineAnnealingLR(optimizer, T_max=60))
    assert history.val_accuracy[-1] >= 0.97


def test_fit_stops_on_a_nan_loss_naming_epoch_and_step():
    X, y = make_moons(64)
    X[40] = np.nan
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    loader = DataLoader((X, y), batch_size=16)
    with pytest.raises(FloatingPointError, match="epoch 1, step 3"):
        fit(model, nn.functional.cross_entropy, minidl.optim.SGD(model.parameters(), lr=0.1), loader, epochs=2)


def test_early_stopping_restores_the_best_weights():
    data = load_digits()
    model = _digits_mlp()
    train = DataLoader((data.X_train[:200], data.y_train[:200]), batch_size=50, shuffle=True, seed=0)
    val = DataLoader((data.X_test, data.y_test), batch_size=512)
    history = fit(model, nn.functional.cross_entropy, minidl.optim.Adam(model.parameters(), lr=2e-2),
                  train, epochs=60, val_loader=val, patience=3)
    assert len(history.val_loss) < 60
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1
    final_loss, _ = minidl.train.evaluate(model, val, nn.functional.cross_entropy)
    assert final_loss == pytest.approx(min(history.val_loss), rel=1e-5)


def test_save_and_load_round_trip_bit_for_bit(tmp_path):
    model = _digits_mlp()
    path = tmp_path / "model.npz"
    minidl.save(model.state_dict(), path)
    restored = _digits_mlp()
    restored.load_state_dict(minidl.load(path))
    for (name, a), (_, b) in zip(model.state_dict().items(), restored.state_dict().items()):
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy(), err_msg=name)


def test_a_file_saved_on_one_backend_loads_on_another(tmp_path, backend):
    model = _digits_mlp()
    minidl.save(model.state_dict(), tmp_path / "model.npz")
    expected = {name: t.cpu().numpy() for name, t in model.state_dict().items()}
    for other in ("numpy", "gpusim"):
        minidl.use_backend(other)
        loaded = minidl.load(tmp_path / "model.npz")
        for name, value in loaded.items():
            assert minidl.backend.current().is_array(value.data)
            np.testing.assert_array_equal(value.cpu().numpy(), expected[name])


def test_a_crash_during_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    minidl.save({"w": minidl.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        minidl.save({"w": minidl.zeros(3)}, path)
    np.testing.assert_array_equal(minidl.load(path)["w"].cpu().numpy(), np.ones(3))
    assert os.listdir(tmp_path) == ["model.npz"]


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payload=np.array([{"run": "code"}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        minidl.load(path)
