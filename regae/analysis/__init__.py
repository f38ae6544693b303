"""Analyses that take trained checkpoints and write report sections."""

from regae.analysis.interpolate import DEFAULT_ALPHAS, Interpolation, interpolate, psnr_per_image
from regae.analysis.section import Section

__all__ = ["DEFAULT_ALPHAS", "Interpolation", "Section", "interpolate", "psnr_per_image"]
