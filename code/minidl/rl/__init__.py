"""Reinforcement learning: what the chapters of Part 5 share (tabular methods, replay, returns, evaluation).

Import them from their modules, for example ``from minidl.rl.replay import ReplayBuffer``.
"""
