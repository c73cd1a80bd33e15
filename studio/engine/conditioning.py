"""From a loaded model and the user's settings to the denoiser a stage's task runs.

The wrappers, inside out (DESIGN §15):
1. the network with its prompt and class bound by the model's family — rows [prompt; negative prompt]
   when classifier-free guidance pairs the batch; a task binds its own inputs on top (the SR stage's
   upsampled low-res image, a mask-channel model's mask) through diffusion's denoisers;
2. classifier-free guidance combining the two halves of that one forward;
3. classifier guidance, in the form of the sampler that will step with it;
4. for a model whose family asks for it (GLIDE's inpainting), the known pixels forced into x̂₀;
5. thresholding of the *guided* x̂₀, outermost — clipping each half before guidance would let the
   guided x̂₀ leave [−1, 1] (at s = 3, halves of ±0.9 give 4.5).
Inpainting by replacement wraps all of these (`diffusion.inpaint.inpaint` does it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.core.enums import VarianceType
from studio.core.settings import Settings
from studio.diffusion.denoiser import ConditionedNetwork, Denoiser, NetworkFn, model_denoiser
from studio.diffusion.guidance import GradLogProb, classifier_free_guidance
from studio.diffusion.inpaint import force_known_x0
from studio.diffusion.samplers import sampler_spec
from studio.diffusion.schedule import Schedule, make_schedule
from studio.diffusion.thresholding import thresholded
from studio.models.families import family_of
from studio.models.files import LoadedModel


def training_schedule(model: LoadedModel) -> Schedule:
    diffusion = model.config.diffusion
    return make_schedule(diffusion.schedule, diffusion.timesteps)


@dataclass(frozen=True, eq=False)
class PromptNetwork:
    """The network with the prompt bound: network(x_t, t, **the task's own conditioning) -> raw output."""

    network: ConditionedNetwork
    paired: bool  # its rows are [prompt; negative prompt]: combine them with classifier-free guidance
    scale: float  # the guidance scale that combines them


def prompt_network(model: LoadedModel, settings: Settings, batch: int, *, guidance_scale: float) -> PromptNetwork:
    """Text (or class) conditioning from the model's family; paired unless the scale is 1 or there is no text."""
    config, net = model.config, model.module
    negative = [settings.negative_prompt] * batch if guidance_scale != 1.0 else None
    conditioning = family_of(config).conditioning(net, config, [settings.prompt] * batch, negative,
                                                  class_labels=_class_labels(model, settings, batch))
    dtype = next(net.parameters()).dtype
    family = family_of(config)

    def network(x_t: torch.Tensor, t: torch.Tensor, **more: torch.Tensor) -> torch.Tensor:
        x = x_t.to(dtype).contiguous(memory_format=torch.channels_last)
        return family.forward(net, config, x, t, **conditioning.kwargs, **more).float()

    return PromptNetwork(network, conditioning.paired, guidance_scale)


def model_denoiser_of(model: LoadedModel, network: NetworkFn) -> Denoiser:
    """`network` read in the model's parameterisation, with ᾱ of its training schedule."""
    diffusion = model.config.diffusion
    return model_denoiser(network, training_schedule(model).alphas_cumprod, diffusion.prediction, diffusion.variance)


def guided(inner: Denoiser, prompt: PromptNetwork, settings: Settings, *, classifier: LoadedModel | None = None,
           chain: Schedule | None = None, variance: VarianceType = VarianceType.POSTERIOR,
           latent: bool = False, known: tuple[torch.Tensor, torch.Tensor] | None = None) -> Denoiser:
    """Wrappers 2–5 around `inner` (which runs the prompt network): CFG, classifier guidance, the known
    (image, mask) forced into x̂₀ when given, thresholding.

    A latent model's x̂₀ is a latent, with no [−1, 1] range to clip to: thresholding is for pixels only."""
    denoise = classifier_free_guidance(inner, prompt.scale) if prompt.paired else inner
    if classifier is not None and chain is not None:
        denoise = with_classifier_guidance(denoise, classifier, settings, chain, variance)
    if known is not None:
        denoise = force_known_x0(denoise, *known)
    return denoise if latent else thresholded(denoise, settings.thresholding)


def with_classifier_guidance(
    denoise: Denoiser,
    classifier: LoadedModel | None,
    settings: Settings,
    chain: Schedule,
    variance: VarianceType,
) -> Denoiser:
    """Add classifier guidance toward `settings.class_label` when asked for and possible."""
    if classifier is None or settings.class_guidance <= 0 or settings.class_label is None:
        return denoise
    grad = log_prob_gradient(classifier, settings.class_label)
    return sampler_spec(settings.sampler).with_classifier_guidance(denoise, grad, settings.class_guidance, chain,
                                                                   variance)


def log_prob_gradient(classifier: LoadedModel, label: int) -> GradLogProb:
    """∇_{x_t} log p_φ(y | x_t, t) of the noise-aware classifier, for a fixed target class y."""
    net = classifier.module
    num_classes = len(classifier.config.class_names)
    if not 0 <= label < num_classes:
        raise ValueError(f"class {label} is out of range: the classifier knows {num_classes} classes")
    dtype = next(net.parameters()).dtype

    def grad(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x_t.detach().requires_grad_(True)
        logits = net(x.to(dtype), t).float()
        chosen = F.log_softmax(logits, dim=-1)[:, label].sum()
        return torch.autograd.grad(chosen, x)[0]

    return grad


def class_probability(classifier: LoadedModel, label: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """p_φ(y | x_t, t) per image: what classifier guidance raises (tests and diagnostics read it)."""
    net = classifier.module
    dtype = next(net.parameters()).dtype

    def probability(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.softmax(net(x_t.to(dtype), t).float(), dim=-1)[:, label]

    return probability


def _class_labels(model: LoadedModel, settings: Settings, batch: int) -> torch.Tensor | None:
    if model.config.label_classes == 0:
        return None
    if settings.class_label is None:
        raise ValueError("this model is class-conditional: choose a class")
    device = next(model.module.parameters()).device
    return torch.full((batch,), settings.class_label, dtype=torch.long, device=device)
