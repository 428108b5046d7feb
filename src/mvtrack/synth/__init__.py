"""Synthetic long-axis cines with known MV points: the training data of mvtrack's networks."""
