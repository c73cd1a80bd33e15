"""OpenAI's public pixel-space checkpoints: ADM (guided-diffusion), improved-diffusion and GLIDE —
their networks (`unet`, `text`), the reference flags and presets of every released file (`presets`),
and the conversion of a checkpoint's tensors into a studio model (`convert`)."""
