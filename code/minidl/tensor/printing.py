"""How a tensor prints: PyTorch's layout, digit for digit, so printed outputs can be compared with torch's.

PyTorch's rules (``torch/_tensor_str.py``, default print options): a float tensor whose values are all
whole numbers prints them as ``1.``; otherwise with 4 digits after the point (``0.1235``), or in
scientific notation (``1.0000e-05``) when the largest and smallest nonzero magnitudes are more than 1000
apart, the largest is above 1e8 or the smallest below 1e-4. Every entry is padded to the same width,
rows wrap at 80 characters, and a tensor of more than 1000 entries shows only 3 at each edge
(``...`` in between). Suffixes name a dtype other than the defaults (float32, int64, bool), the size
of an empty tensor, and ``requires_grad=True`` or ``grad_fn=<...>``.
"""

import math

from minidl import backend

PRECISION = 4  # digits after the point
THRESHOLD = 1000  # more entries than this are summarized
EDGEITEMS = 3  # entries kept at each edge of a summarized dimension
LINEWIDTH = 80
PREFIX = "tensor("


class _Formatter:
    """Chooses one notation and one width for all the entries shown, as PyTorch's ``_Formatter``."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode, self.sci_mode, self.width = True, False, 1
        if not floating:
            self.width = max([1] + [len(f"{v}") for v in values])
            return
        finite = [v for v in values if math.isfinite(v) and v != 0]
        if not finite:
            return
        magnitudes = [abs(v) for v in finite]
        largest, smallest = max(magnitudes), min(magnitudes)
        self.int_mode = all(v == math.ceil(v) for v in finite)
        self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        if self.sci_mode:
            self.width = max(len(f"{v:.{PRECISION}e}") for v in finite)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in finite)  # + 1 for the point of "1."
        else:
            self.width = max(len(f"{v:.{PRECISION}f}") for v in finite)

    def format(self, value):
        if not self.floating:
            text = f"{value}"
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRECISION}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{PRECISION}f}"
        return text.rjust(self.width)


def _edges(n, summarize):
    """The positions shown along a dimension of size ``n``: all, or EDGEITEMS at each end."""
    if summarize and n > 2 * EDGEITEMS:
        return list(range(EDGEITEMS)) + [None] + list(range(n - EDGEITEMS, n))
    return list(range(n))


def _shown_values(array, summarize):
    """The entries that will be printed, as Python numbers (the formatter sees only these)."""
    if array.ndim == 0:
        return [array.item()]
    return [v for i in _edges(array.shape[0], summarize) if i is not None for v in _shown_values(array[i], summarize)]


def _body(array, indent, summarize, formatter):
    """The nested brackets of ``array``, PyTorch's ``_tensor_str_with_formatter``."""
    if array.ndim == 0:
        return formatter.format(array.item())
    positions = _edges(array.shape[0], summarize)
    if array.ndim == 1:
        items = [" ..." if i is None else formatter.format(array[i].item()) for i in positions]
        per_line = max(1, (LINEWIDTH - indent) // (formatter.width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = ["..." if i is None else _body(array[i], indent + 1, summarize, formatter) for i in positions]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text, suffixes, indent):
    """Append ``, suffix`` items, each on a new line once the line would pass LINEWIDTH."""
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1  # PyTorch's count, kept as it is
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(host, grad_suffix=None):
    """``tensor(...)`` for the host array ``host``; ``grad_suffix`` is ``requires_grad=True`` or ``grad_fn=<...>``.

    ``host`` is a NumPy array of any shape and dtype; the result is the string PyTorch prints for a tensor
    with those values, with ``minidl.`` in place of ``torch.`` in a dtype suffix.
    """
    suffixes = []
    default_dtypes = (backend.float32, backend.int64, backend.bool_)
    if host.size == 0:
        if host.ndim != 1:
            suffixes.append(f"size={tuple(host.shape)}")
        if host.dtype != backend.float32:
            suffixes.append(f"dtype=minidl.{host.dtype.name}")
        text = "[]"
    else:
        if host.dtype not in default_dtypes:
            suffixes.append(f"dtype=minidl.{host.dtype.name}")
        summarize = host.size > THRESHOLD
        formatter = _Formatter(_shown_values(host, summarize), host.dtype.kind in "fc")
        text = _body(host, len(PREFIX), summarize, formatter)
    if grad_suffix is not None:
        suffixes.append(grad_suffix)
    return _with_suffixes(PREFIX + text, suffixes, len(PREFIX))
