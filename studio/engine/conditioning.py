"""From a loaded model and the user's settings to the denoiser a sampler calls.

The order of wrappers matters: thresholding sits nearest the network (it edits the model's own
x̂₀), classifier-free guidance combines the two halves of one batched forward, and classifier
guidance is outermost, shifting the guided prediction (as guided-diffusion's `condition_mean`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from studio.core.settings import Settings
from studio.diffusion.denoiser import Denoiser, NetworkFn, model_denoiser
from studio.diffusion.guidance import classifier_free_guidance
from studio.diffusion.samplers import sampler_spec
from studio.diffusion.schedule import Schedule, make_schedule
from studio.diffusion.thresholding import thresholded
from studio.models.files import LoadedModel


def training_schedule(model: LoadedModel) -> Schedule:
    diffusion = model.config.diffusion
    return make_schedule(diffusion.schedule, diffusion.timesteps)


def bind_network(model: LoadedModel, **conditioning) -> NetworkFn:
    """The network as (x_t, t) → raw output, with its conditioning fixed and its dtype applied."""
    net = model.module
    dtype = next(net.parameters()).dtype

    def network(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x_t.to(dtype).contiguous(memory_format=torch.channels_last)
        return net(x, t, **conditioning).float()

    return network


def conditioned_denoiser(
    model: LoadedModel,
    settings: Settings,
    batch: int,
    *,
    extra: torch.Tensor | None = None,
    aug_level: torch.Tensor | None = None,
    guidance_scale: float | None = None,
) -> Denoiser:
    """Text (or class) conditioning and classifier-free guidance (thresholding comes later, outside
    every guidance: see `thresholded_outside`).

    Without a text encoder, or at guidance scale 1, the network runs once per step on the batch;
    otherwise once on a doubled batch [prompt; negative prompt].
    """
    net = model.module
    scale = settings.guidance_scale if guidance_scale is None else guidance_scale
    alphas_cumprod = training_schedule(model).alphas_cumprod
    diffusion = model.config.diffusion
    classes = _class_labels(model, settings, batch)
    has_text = getattr(net, "text_encoder", None) is not None
    paired = has_text and scale != 1.0
    prompts = [settings.prompt] * batch + ([settings.negative_prompt] * batch if paired else [])
    conditioning = {
        "text": net.encode_prompts(prompts) if has_text else None,
        "class_labels": None if classes is None else _twice(classes, paired),
        "extra": None if extra is None else _twice(extra, paired),
        "aug_level": None if aug_level is None else _twice(aug_level, paired),
    }
    conditioning = {k: v for k, v in conditioning.items() if v is not None}
    inner = model_denoiser(
        bind_network(model, **conditioning), alphas_cumprod, diffusion.prediction, diffusion.variance
    )
    return classifier_free_guidance(inner, scale) if paired else inner


def thresholded_outside(denoise: Denoiser, settings: Settings) -> Denoiser:
    """Clip or threshold the *guided* x̂₀: the outermost wrapper, after classifier-free and classifier
    guidance have combined, as guided-diffusion, GLIDE and diffusers do — clipping each CFG half first
    lets the guided x̂₀ leave [−1, 1] (at s = 3, halves of ±0.9 give 4.5)."""
    return thresholded(denoise, settings.thresholding)


def with_classifier_guidance(
    denoise: Denoiser,
    classifier: LoadedModel | None,
    settings: Settings,
    chain: Schedule,
    variance,
) -> Denoiser:
    """Add classifier guidance toward `settings.class_label` when asked for and possible."""
    if classifier is None or settings.class_guidance <= 0 or settings.class_label is None:
        return denoise
    grad = log_prob_gradient(classifier, settings.class_label)
    return sampler_spec(settings.sampler).with_classifier_guidance(denoise, grad, settings.class_guidance, chain,
                                                                   variance)


def log_prob_gradient(classifier: LoadedModel, label: int) -> Callable:
    """∇_{x_t} log p_φ(y | x_t, t) of the noise-aware classifier, for a fixed target class y."""
    net = classifier.module
    num_classes = classifier.config.classifier.num_classes
    if not 0 <= label < num_classes:
        raise ValueError(f"class {label} is out of range: the classifier knows {num_classes} classes")
    dtype = next(net.parameters()).dtype

    def grad(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x_t.detach().requires_grad_(True)
        logits = net(x.to(dtype), t).float()
        chosen = F.log_softmax(logits, dim=-1)[:, label].sum()
        return torch.autograd.grad(chosen, x)[0]

    return grad


def _class_labels(model: LoadedModel, settings: Settings, batch: int) -> torch.Tensor | None:
    unet = model.config.unet
    if unet is None or unet.num_classes == 0:
        return None
    if settings.class_label is None:
        raise ValueError("this model is class-conditional: choose a class")
    device = next(model.module.parameters()).device
    return torch.full((batch,), settings.class_label, dtype=torch.long, device=device)


def _twice(tensor: torch.Tensor, paired: bool) -> torch.Tensor:
    return torch.cat([tensor, tensor]) if paired else tensor
