"""A preset for every public checkpoint: the reference's flags for it (from each repository's README and
model_creation.py), where it comes from, and the sampling settings its authors used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.core.enums import Architecture

ADM_URL = "https://openaipublic.blob.core.windows.net/diffusion/jul-2021/"
IDDPM_URL = "https://openaipublic.blob.core.windows.net/diffusion/march-2021/"
GLIDE_URL = "https://openaipublic.blob.core.windows.net/diffusion/dec-2021/"
LICENCES = {
    Architecture.ADM: "MIT (openai/guided-diffusion); the model card limits the weights to research use",
    Architecture.IDDPM: "MIT (openai/improved-diffusion)",
    Architecture.GLIDE: "MIT (openai/glide-text2im); the model card limits the filtered model to research use",
}
SOURCES = {Architecture.ADM: "openai/guided-diffusion", Architecture.IDDPM: "openai/improved-diffusion",
           Architecture.GLIDE: "openai/glide-text2im"}


@dataclass(frozen=True)
class Sampling:
    """How the reference samples with the file: respacing string, guidance scales, SR temperature."""

    respacing: str = "250"
    guidance_scale: float = 0.0  # classifier-free (GLIDE)
    classifier_scale: float = 0.0  # classifier guidance (ADM), with the matching classifier preset
    classifier: str = ""
    use_ddim: bool = False
    temperature: float = 1.0  # GLIDE's upsampler: 0.997


@dataclass(frozen=True)
class Preset:
    name: str
    architecture: Architecture
    file: str
    flags: dict[str, Any]
    description: str
    sampling: Sampling = field(default_factory=Sampling)

    @property
    def url(self) -> str:
        base = {Architecture.ADM: ADM_URL, Architecture.IDDPM: IDDPM_URL, Architecture.GLIDE: GLIDE_URL}
        return base[self.architecture] + self.file


_ADM = dict(attention_resolutions="32,16,8", diffusion_steps=1000, learn_sigma=True, noise_schedule="linear",
            num_channels=256, num_head_channels=64, num_res_blocks=2, resblock_updown=True,
            use_scale_shift_norm=True)
_ADM_CLS = dict(classifier_attention_resolutions="32,16,8", classifier_depth=2, classifier_width=128,
                classifier_pool="attention", classifier_resblock_updown=True, classifier_use_scale_shift_norm=True)
_LSUN = _ADM | dict(class_cond=False, dropout=0.1, image_size=256)
_IDDPM64 = dict(image_size=64, num_channels=128, num_res_blocks=3, learn_sigma=True, diffusion_steps=4000,
                noise_schedule="cosine")
_IDDPM_LSUN = dict(image_size=256, num_channels=128, num_res_blocks=2, num_heads=1, learn_sigma=True,
                   use_scale_shift_norm=False, attention_resolutions="16", diffusion_steps=1000,
                   noise_schedule="linear", rescale_learned_sigmas=False, rescale_timesteps=False)
_CIFAR = dict(image_size=32, num_channels=128, num_res_blocks=3, learn_sigma=True, dropout=0.3, diffusion_steps=4000,
              noise_schedule="cosine")


def _adm(name: str, file: str, flags: dict[str, Any], description: str, **sampling: Any) -> Preset:
    return Preset(name, Architecture.ADM, file, flags, description, Sampling(**sampling))


PRESETS: dict[str, Preset] = {p.name: p for p in [
    _adm("adm-64", "64x64_diffusion.pt", _ADM | dict(class_cond=True, dropout=0.1, image_size=64,
         noise_schedule="cosine", num_channels=192, num_res_blocks=3, use_new_attention_order=True),
         "ImageNet 64×64, class-conditional",
         classifier_scale=1.0, classifier="adm-64-classifier"),
    _adm("adm-128", "128x128_diffusion.pt", _ADM | dict(class_cond=True, image_size=128, num_heads=4,
         num_head_channels=-1), "ImageNet 128×128, class-conditional", classifier_scale=0.5,
         classifier="adm-128-classifier"),
    _adm("adm-256", "256x256_diffusion.pt", _ADM | dict(class_cond=True, image_size=256),
         "ImageNet 256×256, class-conditional", classifier_scale=1.0, classifier="adm-256-classifier"),
    _adm("adm-256-uncond", "256x256_diffusion_uncond.pt", _ADM | dict(class_cond=False, image_size=256),
         "ImageNet 256×256, unconditional (guided by the 256 classifier)", classifier_scale=10.0,
         classifier="adm-256-classifier"),
    _adm("adm-512", "512x512_diffusion.pt", _ADM | dict(class_cond=True, image_size=512),
         "ImageNet 512×512, class-conditional", classifier_scale=4.0, classifier="adm-512-classifier"),
    _adm("adm-64-256-upsampler", "64_256_upsampler.pt", _ADM | dict(class_cond=True, large_size=256, small_size=64,
         num_channels=192, num_heads=4, num_head_channels=-1), "ImageNet 64→256 upsampler, class-conditional"),
    _adm("adm-128-512-upsampler", "128_512_upsampler.pt", _ADM | dict(attention_resolutions="32,16", class_cond=True,
         large_size=512, small_size=128, num_channels=192), "ImageNet 128→512 upsampler, class-conditional"),
    _adm("adm-64-classifier", "64x64_classifier.pt", _ADM_CLS | dict(image_size=64, classifier_depth=4),
         "noisy ImageNet classifier at 64×64"),
    _adm("adm-128-classifier", "128x128_classifier.pt", _ADM_CLS | dict(image_size=128),
         "noisy ImageNet classifier at 128×128"),
    _adm("adm-256-classifier", "256x256_classifier.pt", _ADM_CLS | dict(image_size=256),
         "noisy ImageNet classifier at 256×256"),
    _adm("adm-512-classifier", "512x512_classifier.pt", _ADM_CLS | dict(image_size=512),
         "noisy ImageNet classifier at 512×512"),
    _adm("adm-lsun-bedroom", "lsun_bedroom.pt", _LSUN, "LSUN bedroom 256×256, unconditional", respacing="1000"),
    _adm("adm-lsun-cat", "lsun_cat.pt", _LSUN, "LSUN cat 256×256, unconditional", respacing="1000"),
    _adm("adm-lsun-horse", "lsun_horse.pt", _LSUN, "LSUN horse 256×256, unconditional", respacing="1000"),
    _adm("adm-lsun-horse-nodropout", "lsun_horse_nodropout.pt", _LSUN | dict(dropout=0.0),
         "LSUN horse 256×256, unconditional, trained without dropout", respacing="1000"),
    Preset("iddpm-imagenet64-uncond", Architecture.IDDPM, "imagenet64_uncond_100M_1500K.pt", _IDDPM64,
           "ImageNet 64×64, unconditional, L_hybrid"),
    Preset("iddpm-imagenet64-uncond-vlb", Architecture.IDDPM, "imagenet64_uncond_vlb_100M_1500K.pt", _IDDPM64,
           "ImageNet 64×64, unconditional, L_vlb"),
    Preset("iddpm-cifar10-uncond", Architecture.IDDPM, "cifar10_uncond_50M_500K.pt", _CIFAR,
           "CIFAR-10 32×32, unconditional, L_hybrid"),
    Preset("iddpm-cifar10-uncond-vlb", Architecture.IDDPM, "cifar10_uncond_vlb_50M_500K.pt", _CIFAR,
           "CIFAR-10 32×32, unconditional, L_vlb"),
    Preset("iddpm-imagenet64-cond", Architecture.IDDPM, "imagenet64_cond_270M_250K.pt",
           dict(image_size=64, num_channels=192, num_res_blocks=3, learn_sigma=True, class_cond=True,
                diffusion_steps=4000, noise_schedule="cosine", rescale_learned_sigmas=False, rescale_timesteps=False),
           "ImageNet 64×64, class-conditional"),
    Preset("iddpm-upsample-256", Architecture.IDDPM, "upsample_cond_500K.pt",
           dict(large_size=256, small_size=64, num_channels=192, num_res_blocks=2, learn_sigma=True, class_cond=True,
                diffusion_steps=4000, noise_schedule="linear", rescale_learned_sigmas=False, rescale_timesteps=False),
           "ImageNet 64→256 upsampler, class-conditional"),
    Preset("iddpm-lsun-bedroom", Architecture.IDDPM, "lsun_uncond_100M_1200K_bs128.pt", _IDDPM_LSUN,
           "LSUN bedroom 256×256, unconditional (lr 1e-4)"),
    Preset("iddpm-lsun-bedroom-2400k", Architecture.IDDPM, "lsun_uncond_100M_2400K_bs64.pt", _IDDPM_LSUN,
           "LSUN bedroom 256×256, unconditional (lr 2e-5)"),
    Preset("glide-base", Architecture.GLIDE, "base.pt", {}, "GLIDE (filtered) text → 64×64",
           Sampling(respacing="100", guidance_scale=3.0)),
    Preset("glide-upsample", Architecture.GLIDE, "upsample.pt",
           dict(image_size=256, num_res_blocks=2, noise_schedule="linear", super_res=True),
           # text2im.ipynb samples this upsampler with ddim_sample_loop (its inpainting one with p_sample_loop)
           "GLIDE (filtered) 64→256 upsampler", Sampling(respacing="fast27", temperature=0.997, use_ddim=True)),
    Preset("glide-base-inpaint", Architecture.GLIDE, "base_inpaint.pt", dict(inpaint=True),
           "GLIDE (filtered) inpainting at 64×64", Sampling(respacing="100", guidance_scale=5.0)),
    Preset("glide-upsample-inpaint", Architecture.GLIDE, "upsample_inpaint.pt",
           dict(image_size=256, num_res_blocks=2, noise_schedule="linear", super_res=True, inpaint=True),
           "GLIDE (filtered) inpainting 64→256 upsampler", Sampling(respacing="fast27", temperature=0.997)),
]}


def presets_of(architecture: Architecture) -> list[Preset]:
    return [p for p in PRESETS.values() if p.architecture is architecture]
