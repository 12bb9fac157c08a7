"""Run PyTorch code on minidl unchanged: ``import torch`` and its submodules resolve to minidl's.

In a notebook, run ``import minidl.as_torch; minidl.as_torch.install()`` in the first cell; for a script,
``python -m minidl.as_torch script.py [arguments]``. Afterwards ``import torch``, ``torch.nn``,
``torch.nn.functional``, ``torch.optim``, ``torch.utils.data``, ``torch.cuda``,
``torch.backends.cudnn`` and ``torch.distributions`` are minidl's modules. What minidl does not
have is an ``AttributeError`` naming it; what it cannot do as PyTorch does raises an error that says
what to use instead.

Taught in "PyTorch code on minidl" (book/pytorch_on_minidl.md).
"""

import runpy
import sys

import minidl
from minidl import autograd, distributions, nn, optim, utils
from minidl.nn import functional, init
from minidl.nn import utils as nn_utils
from minidl.utils import data as utils_data


def modules():
    """The module names PyTorch code imports, each with the minidl module that stands in for it.

    Taught in "PyTorch code on minidl" (book/pytorch_on_minidl.md).
    """
    return {
        "torch": minidl,
        "torch.nn": nn,
        "torch.nn.functional": functional,
        "torch.nn.init": init,
        "torch.nn.utils": nn_utils,
        "torch.optim": optim,
        "torch.optim.lr_scheduler": optim,
        "torch.autograd": autograd,
        "torch.utils": utils,
        "torch.utils.data": utils_data,
        "torch.cuda": minidl.cuda,
        "torch.backends": minidl.backends,
        "torch.backends.cudnn": minidl.backends.cudnn,
        "torch.distributions": distributions,
    }


def install():
    """Make ``import torch`` (and the submodules of ``modules()``) give minidl in this interpreter.

    Raises RuntimeError if the real PyTorch was imported already: code holding it would mix the two.

    Taught in "PyTorch code on minidl" (book/pytorch_on_minidl.md).
    """
    current = sys.modules.get("torch")
    if current is not None and current is not minidl:
        raise RuntimeError(
            "install(): the real torch is already imported in this interpreter; call "
            "minidl.as_torch.install() before anything imports torch (first cell of the notebook)"
        )
    sys.modules.update(modules())


def _main(argv=None):
    """``python -m minidl.as_torch script.py [arguments]``: run a PyTorch script on minidl."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m minidl.as_torch script.py [arguments]   (runs the script with torch = minidl)")
        return 0 if argv else 2
    install()
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
