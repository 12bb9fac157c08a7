"""Run each chapter's BLAS on one thread unless the reader's environment says otherwise.

The chapters multiply small matrices. On a 2-core machine with anything else running, OpenBLAS's
extra threads mostly wait for each other (measured: 10 to 30 times slower); one thread gives steady
run times. Kernels inherit the variables, since they are set before any notebook executes.
"""

import os

_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def setup(app):
    for name in _VARIABLES:
        os.environ.setdefault(name, "1")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
