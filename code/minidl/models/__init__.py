"""Whole models built from the layers of ``minidl.nn``: the book's larger networks, one module each."""
