"""Enumerations shared by every layer; values are the strings stored in model files and recipes."""

from __future__ import annotations

from enum import Enum


class ScheduleKind(str, Enum):
    LINEAR = "linear"
    COSINE = "cosine"
    SCALED_LINEAR = "scaled-linear"  # latent diffusion / SD 1.x: √β linear from √0.00085 to √0.012
    SCALED_LINEAR_X4 = "scaled-linear-x4"  # SD 2's x4 upscaler: √β linear from √1e-4 to √0.02


class PredictionType(str, Enum):
    """What the network's (first three) output channels mean."""

    EPSILON = "epsilon"
    SAMPLE = "sample"  # x̂₀ directly
    V = "v"  # v = √ᾱ_t ε − √(1−ᾱ_t) x₀ (Salimans & Ho 2022)


class VarianceType(str, Enum):
    """Per-step variance σ_t² of the reverse process."""

    POSTERIOR = "posterior"  # β̃_t, the posterior q(x_{t−1} | x_t, x_0)
    BETA = "beta"  # β_t
    LEARNED_RANGE = "learned_range"  # network output v ∈ [−1, 1] interpolates log β_t and log β̃_t


class SamplerKind(str, Enum):
    """The samplers of the table in diffusion/samplers.py (`SAMPLERS`, one entry each); the value is
    what recipes and `--sampler` say."""

    DDPM = "ddpm"
    DDIM = "ddim"
    DDPM_BETA = "ddpm-beta"  # DDPM with σ² = β whatever the model's own variance type
    EULER = "euler"  # Euler on the probability-flow ODE in σ (Karras et al. 2022)
    HEUN = "heun"  # Heun's 2nd-order method on the same ODE
    EULER_ANCESTRAL = "euler-a"  # Euler-Maruyama-like ancestral step of the reverse SDE
    DPMPP_2M = "dpm++2m"  # DPM-Solver++(2M), Lu et al. 2022
    PC = "pc"  # predictor–corrector: reverse diffusion + Langevin (Song et al. 2021)


class Spacing(str, Enum):
    """How a run's steps are picked from the model's training timesteps."""

    UNIFORM = "uniform"  # evenly spaced timesteps (Nichol & Dhariwal's respacing)
    KARRAS = "karras"  # σ^{1/ρ} evenly spaced, ρ = 7 (Karras et al. 2022): dense at low noise


class Thresholding(str, Enum):
    NONE = "none"
    STATIC = "static"  # clip x̂₀ to [−1, 1]
    DYNAMIC = "dynamic"  # Imagen: clip to the p-th percentile of |x̂₀| and rescale


class LossWeight(str, Enum):
    """How a training step weighs its samples' errors across noise levels."""

    UNIFORM = "uniform"  # the plain mean squared error of the prediction target (Ho et al.'s L_simple)
    MIN_SNR = "min-snr"  # x̂₀ error weighted by min(SNR_t, γ) (Hang et al. 2023)


class Role(str, Enum):
    BASE = "base"
    SR = "sr"
    INPAINT = "inpaint"
    CLASSIFIER = "classifier"


class LRSchedule(str, Enum):
    """Learning rate after warm-up, over the run's progress (steps, or the time budget when one is set)."""

    CONSTANT = "constant"
    COSINE = "cosine"  # half a cosine from the peak down to `lr_floor` × peak


class Architecture(str, Enum):
    """The network family a model file belongs to (studio.models.families); files without one are STUDIO."""

    STUDIO = "studio"
    ADM = "adm"  # openai/guided-diffusion (Dhariwal & Nichol 2021): U-Nets, upsamplers, noisy classifiers
    IDDPM = "iddpm"  # openai/improved-diffusion (Nichol & Dhariwal 2021)
    GLIDE = "glide"  # openai/glide-text2im (Nichol et al. 2021): text-conditioned U-Nets
    SD1 = "sd1"  # Stable Diffusion 1.x checkpoints, read in place (models/families/sd1.py)
    SD_X4 = "sd-x4"  # Stable Diffusion 2's x4 upscaler, read in place (models/families/sd_x4.py)


class NetKind(str, Enum):
    """Which of OpenAI's network classes a checkpoint holds; it decides the extra inputs."""

    UNET = "unet"  # UNetModel / Text2ImUNet
    SUPER_RES = "super_res"  # SuperResModel: [x_t, bilinear(low_res)]
    INPAINT = "inpaint"  # GLIDE InpaintText2ImUNet: [x_t, image·mask, mask]
    SUPER_RES_INPAINT = "super_res_inpaint"  # [x_t, image·mask, mask, bilinear(low_res)]
    CLASSIFIER = "classifier"  # EncoderUNetModel


class TextPooling(str, Enum):
    """Which text features our encoder hands the U-Net's timestep embedding as the prompt's summary."""

    EOS = "eos"  # the features at <eos> (GLIDE's choice; needs a deep encoder to carry the prompt)
    MEAN = "mean"  # the mean over the prompt's tokens: word identity reaches the U-Net from the first step


class Pooling(str, Enum):
    """How OpenAI's noisy classifier pools its last feature map into logits."""

    ATTENTION = "attention"  # CLIP-style attention pooling over [mean; positions]
    ADAPTIVE = "adaptive"  # global average, then a 1×1 convolution
