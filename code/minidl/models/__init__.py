"""Whole models built from ``minidl.nn``'s layers, the ones that chapters share.

Import them from their modules, for example ``from minidl.models.vae import VAE``.
"""
