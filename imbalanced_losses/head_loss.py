"""Moved to ``imbalanced_losses.heads.background`` (``head_loss`` is now ``build_or_check_loss``);
importable here as before."""
from .heads.background import build_or_check_loss, check_background_first  # noqa: F401

head_loss = build_or_check_loss
