"""Whole models built from ``minidl.nn``'s layers, the ones that chapters share: the VAE, the DB-VAE, the GPT.

Import them from their modules, for example ``from minidl.models.vae import VAE``.
"""
