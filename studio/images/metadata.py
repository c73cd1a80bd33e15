"""PNG metadata: the `parameters` chunk other local diffusion tools write, and our full recipe."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from studio.core.settings import JobKind, Recipe

PARAMETERS_KEY = "parameters"
RECIPE_KEY = "studio"


def parameters_text(recipe: Recipe) -> str:
    """prompt / "Negative prompt: …" / "Steps: 30, Sampler: DDIM, CFG scale: 3, Seed: 1, …"."""
    s = recipe.settings
    fields = [
        ("Steps", s.steps),
        ("Sampler", s.sampler.value.upper()),
        ("CFG scale", f"{s.guidance_scale:g}"),
        ("Seed", s.seed),
        ("Size", f"{recipe.width}x{recipe.height}"),
        ("Model hash", recipe.model_hash[:10]),
        ("Model", recipe.model),
    ]
    if s.eta:
        fields.append(("Eta", f"{s.eta:g}"))
    if s.churn:
        fields.append(("Churn", f"{s.churn:g}"))
    if s.sr_guidance_scale != 1.0:
        fields.append(("SR CFG scale", f"{s.sr_guidance_scale:g}"))
    if s.sr_sampler is not None:
        fields.append(("SR sampler", s.sr_sampler.value.upper()))
    if s.spacing.value != "uniform":
        fields.append(("Spacing", s.spacing.value))
    if recipe.kind is JobKind.STROKES_TO_IMAGE:
        fields.append(("Denoising strength", f"{s.strength:g}"))
    if s.class_guidance:
        fields.append(("Class guidance", f"{s.class_guidance:g} (class {s.class_label})"))
    if recipe.fork:
        fields.append(("Fork", f"{recipe.fork[0]} step {recipe.fork[1]}"))
    lines = [s.prompt]
    if s.negative_prompt:
        lines.append(f"Negative prompt: {s.negative_prompt}")
    lines.append(", ".join(f"{k}: {v}" for k, v in fields))
    return "\n".join(lines)


def png_chunks(recipe: Recipe) -> dict[str, str]:
    return {PARAMETERS_KEY: parameters_text(recipe), RECIPE_KEY: recipe.to_json()}


def read_recipe(path: str | Path) -> Recipe | None:
    """The full recipe stored in a PNG's `studio` chunk, or None if it has none (OSError if unreadable,
    ValueError if the chunk is not a recipe)."""
    with Image.open(path) as img:
        text = getattr(img, "text", {}).get(RECIPE_KEY)
    return Recipe.from_json(text) if text else None
