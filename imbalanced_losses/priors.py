"""Moved to ``imbalanced_losses.heads.priors``; importable here as before."""
from .heads.priors import background_prior_bias, check_prior  # noqa: F401
