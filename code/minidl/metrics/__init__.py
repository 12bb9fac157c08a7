"""Metrics that chapters share: how good a generative model's samples are, how calibrated a classifier is.

Import them from their modules, for example ``from minidl.metrics.calibration import ...``.
"""
