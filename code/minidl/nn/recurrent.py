"""Recurrent layers: the plain RNN, the LSTM and the GRU, as cells (one time step) and as layers (a sequence).

Names, shapes, parameter layouts and initialization follow ``torch.nn``, so a state dict moves between
the two. The cells and the RNN and GRU layers write each time step with ordinary tensor operations,
and autodiff unrolls them: backpropagation through time is ``loss.backward()`` on the unrolled graph.
The LSTM layer runs the whole sequence as one graph node (``F.lstm_sequence_fused``), with
backpropagation through time written out by hand for speed.

Taught in "Recurrent neural networks" (``book/part2/rnn.md``), "Vanishing and exploding gradients"
(``book/part2/vanishing_gradients.md``) and "Long short-term memory" (``book/part2/lstm.md``).
"""

import math
import numbers

from minidl import backend
from minidl.nn import functional as F
from minidl.nn import init
from minidl.nn.functional.recurrent import gru_step, lstm_sequence_fused, lstm_step, rnn_step
from minidl.nn.functional.checks import check_input_tensor, check_size, type_name
from minidl.nn.module import Module, Parameter
from minidl.tensor import Tensor, stack, unbind

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]


# ---- one time step ------------------------------------------------------------------------------
# Each step receives the input's contribution W_ih x_t + b_ih already computed: a layer computes it for
# every time step in one matrix product before its loop, so the loop only multiplies by W_hh.


# ---- cells: one time step as a module --------------------------------------------------------------
class _CellBase(Module):
    gate_count = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        input_size = check_size(type(self).__name__, "input_size", input_size)
        hidden_size = check_size(type(self).__name__, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gate_count * hidden_size
        self.weight_ih = _uniform_parameter((rows, input_size), hidden_size)
        self.weight_hh = _uniform_parameter((rows, hidden_size), hidden_size)
        self.bias_ih = _uniform_parameter((rows,), hidden_size) if bias else None
        self.bias_hh = _uniform_parameter((rows,), hidden_size) if bias else None

    def _prepare(self, input, hx):
        """Check shapes, add a batch dimension to unbatched input, and make a zero state if none is given."""
        name = type(self).__name__
        state = hx
        if hx is not None and not (self.state_count == 2 and isinstance(hx, (tuple, list))):
            state = (hx,)  # the one state of an RNN or GRU cell, or a wrong hx for an LSTM cell
        check_input_tensor(self, input, ValueError)
        if state is not None and not (len(state) == self.state_count and all(isinstance(s, Tensor) for s in state)):
            expected = "a tuple (h_0, c_0) of Tensors" if self.state_count == 2 else "a Tensor"
            raise TypeError(f"{name}: argument 'hx' must be {expected}, not {type_name(hx)}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input has shape {input.shape}; expected (batch, input_size) or (input_size,) "
                f"with input_size={self.input_size}"
            )
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
            state = None if state is None else tuple(s.unsqueeze(0) for s in state)
        expected = (input.shape[0], self.hidden_size)
        if state is None:
            state = tuple(_zeros(expected, input.dtype, input.data) for _ in range(self.state_count))
        for s in state:
            if s.shape != expected:
                raise ValueError(f"{name}: hidden state has shape {s.shape}, expected {expected}")
        return input, state, batched

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One step of the plain recurrent network: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).

    ``weight_ih`` is (hidden_size, input_size), ``weight_hh`` (hidden_size, hidden_size), as in PyTorch.

    Taught in "Recurrent neural networks" (book/part2/rnn.md) and "Vanishing and exploding gradients" (book/part2/vanishing_gradients.md).
    """

    state_count = 1

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNNCell")

    def forward(self, input, hx=None):
        input, (hidden,), batched = self._prepare(input, hx)
        projection = F.linear(input, self.weight_ih, self.bias_ih)
        hidden = rnn_step(projection, hidden, self.weight_hh, self.bias_hh, self.nonlinearity)
        return hidden if batched else hidden.squeeze(0)

    def extra_repr(self):
        return super().extra_repr() + _nonlinearity_repr(self.nonlinearity)


class LSTMCell(_CellBase):
    """One LSTM step: (h', c') from x and (h, c), with gates i, f, g, o stacked in ``weight_ih`` (4*hidden, input).

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """

    gate_count = 4
    state_count = 2

    def forward(self, input, hx=None):
        input, (hidden, cell_state), batched = self._prepare(input, hx)
        projection = F.linear(input, self.weight_ih, self.bias_ih)
        hidden, cell_state = lstm_step(projection, hidden, cell_state, self.weight_hh, self.bias_hh)
        if not batched:
            hidden, cell_state = hidden.squeeze(0), cell_state.squeeze(0)
        return hidden, cell_state


class GRUCell(_CellBase):
    """One GRU step: h' from x and h, with gates r, z, n stacked in ``weight_ih`` (3*hidden, input).

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """

    gate_count = 3
    state_count = 1

    def forward(self, input, hx=None):
        input, (hidden,), batched = self._prepare(input, hx)
        projection = F.linear(input, self.weight_ih, self.bias_ih)
        hidden = gru_step(projection, hidden, self.weight_hh, self.bias_hh)
        return hidden if batched else hidden.squeeze(0)


# ---- layers: a whole sequence -----------------------------------------------------------------------
class _RNNBase(Module):
    gate_count = 1
    state_count = 1

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False):
        super().__init__()
        name = type(self).__name__
        input_size = check_size(name, "input_size", input_size)
        hidden_size = check_size(name, "hidden_size", hidden_size)
        num_layers = check_size(name, "num_layers", num_layers)
        if bidirectional:
            raise NotImplementedError(f"{name}: bidirectional layers are not implemented; use bidirectional=False")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1) representing the probability of an element "
                f"being zeroed, got {dropout!r}"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        rows = self.gate_count * hidden_size
        for layer in range(num_layers):  # registered in PyTorch's order, so state dicts line up
            width = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", _uniform_parameter((rows, width), hidden_size))
            setattr(self, f"weight_hh_l{layer}", _uniform_parameter((rows, hidden_size), hidden_size))
            if bias:
                setattr(self, f"bias_ih_l{layer}", _uniform_parameter((rows,), hidden_size))
                setattr(self, f"bias_hh_l{layer}", _uniform_parameter((rows,), hidden_size))

    def _weights(self, layer):
        """W_ih, W_hh, b_ih, b_hh of one layer (the biases are None when ``bias=False``)."""
        weights = [getattr(self, f"weight_ih_l{layer}"), getattr(self, f"weight_hh_l{layer}")]
        biases = [getattr(self, f"bias_ih_l{layer}"), getattr(self, f"bias_hh_l{layer}")] if self.bias else [None, None]
        return weights[0], weights[1], biases[0], biases[1]

    def _step(self, input_projection, state, weight_hh, bias_hh):
        """Advance ``state`` (a tuple of hidden, and cell state for the LSTM) by one time step."""
        raise NotImplementedError

    def _run(self, projections, state, weight_hh, bias_hh):
        """Every step's hidden state (stacked over time) and the final state, one ``_step`` at a time."""
        outputs = []
        for projection in unbind(projections):
            state = self._step(projection, state, weight_hh, bias_hh)
            outputs.append(state[0])
        return stack(outputs), state

    def forward(self, input, hx=None):
        """Run over the whole sequence; returns every step's top-layer hidden state and the final states."""
        name = type(self).__name__
        check_input_tensor(self, input, ValueError)
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            layout = "(batch, seq, input_size)" if self.batch_first else "(seq, batch, input_size)"
            raise ValueError(
                f"{name}: input has shape {input.shape}; expected {layout} or unbatched (seq, input_size) "
                f"with input_size={self.input_size}"
            )
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        states = self._initial_states(hx, input.shape[1], input.dtype, batched, input.data)
        sequence, finals = input, []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                sequence = F.dropout(sequence, self.dropout, self.training)
            weight_ih, weight_hh, bias_ih, bias_hh = self._weights(layer)
            # the input's part of every step at once: one matrix product over the whole sequence
            projections = F.linear(sequence, weight_ih, bias_ih)
            sequence, state = self._run(projections, tuple(s[layer] for s in states), weight_hh, bias_hh)
            finals.append(state)
        final = tuple(stack([f[k] for f in finals]) for k in range(self.state_count))
        output = sequence
        if not batched:
            output, final = output.squeeze(1), tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (final if self.state_count == 2 else final[0])

    def _initial_states(self, hx, batch, dtype, batched, like):
        name = type(self).__name__
        expected = (self.num_layers, batch, self.hidden_size)
        if hx is None:
            return tuple(_zeros(expected, dtype, like) for _ in range(self.state_count))
        states = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
        if len(states) != self.state_count or not all(isinstance(s, Tensor) for s in states):
            expected = "a tuple (h_0, c_0) of Tensors" if self.state_count == 2 else "a Tensor"
            raise ValueError(f"{name}: argument 'hx' must be {expected}, not {type_name(hx)}")
        if not batched:
            states = tuple(s.unsqueeze(1) if s.ndim == 2 else s for s in states)
        for label, s in zip(("h_0", "c_0"), states):
            if s.shape != expected:
                shown = expected if batched else (self.num_layers, self.hidden_size)
                raise ValueError(f"{name}: {label} has shape {s.shape}, expected {shown} (num_layers, batch, hidden_size)")
        return states

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        return text


class RNN(_RNNBase):
    """The plain (Elman) recurrent layer over a sequence; returns ``(output, h_n)`` as PyTorch does.

    ``output`` holds h_t for every step, (seq, batch, hidden) or (batch, seq, hidden) with ``batch_first``;
    ``h_n`` is (num_layers, batch, hidden).

    Taught in "Recurrent neural networks" (book/part2/rnn.md).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = _check_nonlinearity(nonlinearity, "RNN")

    def _step(self, input_projection, state, weight_hh, bias_hh):
        return (rnn_step(input_projection, state[0], weight_hh, bias_hh, self.nonlinearity),)

    def extra_repr(self):
        return super().extra_repr() + _nonlinearity_repr(self.nonlinearity)


class LSTM(_RNNBase):
    """The LSTM layer over a sequence; returns ``(output, (h_n, c_n))`` as PyTorch does.

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """

    gate_count = 4
    state_count = 2

    def _run(self, projections, state, weight_hh, bias_hh):
        outputs, hidden, cell_state = lstm_sequence_fused(projections, state[0], state[1], weight_hh, bias_hh)
        return outputs, (hidden, cell_state)


class GRU(_RNNBase):
    """The GRU layer over a sequence; returns ``(output, h_n)`` as PyTorch does.

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """

    gate_count = 3

    def _step(self, input_projection, state, weight_hh, bias_hh):
        return (gru_step(input_projection, state[0], weight_hh, bias_hh),)


# ---- helpers ------------------------------------------------------------------------------------------
def _uniform_parameter(shape, hidden_size):
    """PyTorch's initialization of recurrent weights and biases: U(-1/sqrt(hidden), 1/sqrt(hidden))."""
    parameter = Parameter(backend.xp().empty(shape, dtype=backend.float32))
    bound = 1 / math.sqrt(hidden_size)
    init.uniform_(parameter, -bound, bound)
    return parameter


def _zeros(shape, dtype, like):
    return Tensor._from_op(backend.xp(like).zeros(shape, dtype=dtype), (), None)


def _nonlinearity_repr(nonlinearity):
    """The repr's mention of a non-default nonlinearity, as PyTorch prints it."""
    return "" if nonlinearity == "tanh" else f", nonlinearity={nonlinearity!r}"


def _check_nonlinearity(nonlinearity, name):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{name}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity
