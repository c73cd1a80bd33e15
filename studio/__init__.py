"""Diffusion Studio: paint and generate images with a local pixel-space diffusion model."""

__version__ = "0.1.0"
