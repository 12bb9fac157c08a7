"""Upsampling as a layer (``torch.nn.Upsample``): enlarge feature maps, e.g. in a decoder or a generator."""

from minidl.nn.functional.upsampling import interpolate
from minidl.nn.module import Module


class Upsample(Module):
    """Resize (N, C, *spatial) inputs to ``size`` or by ``scale_factor`` with ``F.interpolate``.

    ``mode`` is "nearest" (the default), "nearest-exact", "linear", "bilinear" or "trilinear";
    ``align_corners`` only for the linear modes. A scale factor is kept as a float (or a tuple of
    floats), as PyTorch keeps it. No parameters; errors as ``F.interpolate``.
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"
