"""One step of the recurrent cells (RNN, LSTM, GRU) and the fused LSTM sequence, as functions."""

from minidl import backend
from minidl.tensor import Tensor
from minidl.nn.functional.linear import linear


def rnn_step(input_projection, hidden, weight_hh, bias_hh, nonlinearity="tanh"):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): matrix products, then a nonlinearity.

    ``input_projection`` is W_ih x_t + b_ih; ``nonlinearity="relu"`` puts ReLU in place of tanh.

    Taught in "Recurrent neural networks" (book/part2/rnn.md).
    """
    pre_activation = input_projection + linear(hidden, weight_hh, bias_hh)
    return pre_activation.tanh() if nonlinearity == "tanh" else pre_activation.relu()


def lstm_step(input_projection, hidden, cell_state, weight_hh, bias_hh):
    """One LSTM step; the four gates are stacked in W_ih and W_hh in PyTorch's order i, f, g, o.

    i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)       input gate
    f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)       forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate values
    o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)       output gate
    c_t = f_t * c_{t-1} + i_t * g_t                          cell state (element-wise products)
    h_t = o_t * tanh(c_t)                                    hidden state

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """
    size = hidden.shape[-1]
    gates = input_projection + linear(hidden, weight_hh, bias_hh)
    input_gate = gates[..., 0 * size : 1 * size].sigmoid()
    forget_gate = gates[..., 1 * size : 2 * size].sigmoid()
    candidate = gates[..., 2 * size : 3 * size].tanh()
    output_gate = gates[..., 3 * size : 4 * size].sigmoid()
    cell_state = forget_gate * cell_state + input_gate * candidate
    hidden = output_gate * cell_state.tanh()
    return hidden, cell_state


def lstm_sequence_fused(input_projections, hidden, cell_state, weight_hh, bias_hh):
    """``lstm_step`` over a whole sequence as one graph node, with backpropagation through time
    written out by hand; returns (h_1..h_T stacked, h_T, c_T).

    ``input_projections`` holds x_t W_ih^T + b_ih for every step, shape (T, batch, 4*hidden). The same
    equations as ``lstm_step``, but one node instead of fifteen per step, and the gradient of W_hh is
    one matrix product over all steps. ``LSTMCell`` keeps the readable version; the tests check both
    against PyTorch and finite differences.

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """
    xp = backend.xp(getattr(input_projections, "data", input_projections))
    steps, size = input_projections.shape[0], hidden.shape[-1]
    dtype = input_projections.dtype
    # sigmoid(x) = (1 + tanh(x / 2)) / 2, so all four gates are one tanh of scaled pre-activations:
    # gate = tanh(scale * pre-activation) * scale + (1 - scale), with scale 1/2 for i, f, o and 1 for g
    scale = xp.full(4 * size, 0.5, dtype=dtype)
    scale[2 * size : 3 * size] = 1
    shift = 1 - scale
    recurrent = (weight_hh.data * scale[:, None]).T  # scaled W_hh^T, (hidden, 4*hidden)
    gates = input_projections.data * scale  # scaled input part of every step, then the gates in place
    if bias_hh is not None:
        gates += bias_hh.data * scale
    hiddens = xp.empty((steps + 1,) + hidden.shape, dtype=dtype)  # h_0 .. h_T
    cells = xp.empty((steps + 1,) + hidden.shape, dtype=dtype)  # c_0 .. c_T
    squashed = xp.empty((steps,) + hidden.shape, dtype=dtype)  # tanh(c_1) .. tanh(c_T)
    hiddens[0], cells[0] = hidden.data, cell_state.data
    product, scratch = xp.empty(gates.shape[1:], dtype=dtype), xp.empty(hidden.shape, dtype=dtype)
    for t in range(steps):  # element-wise work in place, into preallocated buffers
        step = gates[t]
        xp.matmul(hiddens[t], recurrent, out=product)
        step += product
        xp.tanh(step, out=step)
        step *= scale
        step += shift
        input_gate, forget_gate, candidate, output_gate = _split_gates(step, size)
        xp.multiply(forget_gate, cells[t], out=cells[t + 1])
        xp.multiply(input_gate, candidate, out=scratch)
        cells[t + 1] += scratch
        xp.tanh(cells[t + 1], out=squashed[t])
        xp.multiply(output_gate, squashed[t], out=hiddens[t + 1])

    def backward(g):
        grad_outputs, grad_cell = g[:steps], g[steps].copy()  # c_T also reaches the loss directly
        grad_hidden = xp.zeros_like(hidden.data)
        grad_gates = xp.empty_like(gates)
        for t in reversed(range(steps)):
            input_gate, forget_gate, candidate, output_gate = _split_gates(gates[t], size)
            grad_i, grad_f, grad_g, grad_o = _split_gates(grad_gates[t], size)
            grad_hidden += grad_outputs[t]
            # c_t reaches the loss through h_t = o_t * tanh(c_t) and through c_{t+1}
            grad_cell += grad_hidden * output_gate * (1 - squashed[t] * squashed[t])
            xp.multiply(grad_cell * candidate, input_gate * (1 - input_gate), out=grad_i)
            xp.multiply(grad_cell * cells[t], forget_gate * (1 - forget_gate), out=grad_f)
            xp.multiply(grad_cell * input_gate, 1 - candidate * candidate, out=grad_g)
            xp.multiply(grad_hidden * squashed[t], output_gate * (1 - output_gate), out=grad_o)
            xp.matmul(grad_gates[t], weight_hh.data, out=grad_hidden)  # to h_{t-1}
            grad_cell *= forget_gate  # to c_{t-1}: the additive path
        rows = grad_gates.reshape(-1, 4 * size)
        return (
            grad_gates,                                                   # input projections
            grad_hidden,                                                  # h_0
            grad_cell,                                                    # c_0
            rows.T @ hiddens[:-1].reshape(-1, size),                      # W_hh, all steps at once
            rows.sum(axis=0) if bias_hh is not None else None,            # b_hh
        )

    parents = (input_projections, hidden, cell_state, weight_hh) + ((bias_hh,) if bias_hh is not None else ())
    both = Tensor._from_op(xp.concatenate([hiddens[1:], cells[-1:]], axis=0), parents, backward)
    outputs = both[:steps]
    return outputs, outputs[steps - 1], both[steps]


def _split_gates(gates, size):
    return gates[..., :size], gates[..., size : 2 * size], gates[..., 2 * size : 3 * size], gates[..., 3 * size :]


def gru_step(input_projection, hidden, weight_hh, bias_hh):
    """One GRU step; the gates are stacked in PyTorch's order r, z, n.

    r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)              reset gate
    z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)              update gate
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))       candidate
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Taught in "Long short-term memory" (book/part2/lstm.md).
    """
    size = hidden.shape[-1]
    recurrent = linear(hidden, weight_hh, bias_hh)
    reset_gate = (input_projection[..., 0:size] + recurrent[..., 0:size]).sigmoid()
    update_gate = (input_projection[..., size : 2 * size] + recurrent[..., size : 2 * size]).sigmoid()
    candidate = (input_projection[..., 2 * size :] + reset_gate * recurrent[..., 2 * size :]).tanh()
    return (1 - update_gate) * candidate + update_gate * hidden
