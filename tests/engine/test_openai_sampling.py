"""Imported OpenAI models on the one task path: text → image with GLIDE's classifier-free guidance,
ADM's class conditioning with its noisy classifier, the cascade's upsampler and GLIDE inpainting —
tiny files imported through `studio import` from the parity fixtures' reference weights."""

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.core.enums import Architecture, SamplerKind
from studio.images.files import load_rgb
from studio.models.families import FAMILIES
from studio.models.openai.flags import spec_from_flags

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "openai"
sys.path.insert(0, str(FIXTURES))
from weights import weights  # noqa: E402


def imported(tmp_path: Path, name: str, role: str, **flag_changes) -> Path:
    data = np.load(FIXTURES / f"{name}.npz")
    shapes = dict(zip(data["names"].tolist(), map(tuple, json.loads(str(data["shapes"]))), strict=True))
    flags = json.loads(str(data["flags"])) | flag_changes
    if "vocab_size" in flag_changes:
        shapes["token_embedding.weight"] = (flag_changes["vocab_size"], shapes["token_embedding.weight"][1])
    torch.save({k: torch.from_numpy(v) for k, v in weights(shapes).items()}, tmp_path / f"{role}.pt")
    (tmp_path / f"{role}.json").write_text(json.dumps(flags))
    out = tmp_path / f"{role}.safetensors"
    assert main(["import", str(data["family"]), str(tmp_path / f"{role}.pt"), "--flags",
                 str(tmp_path / f"{role}.json"), "--out", str(out)]) == 0
    return out


@pytest.fixture
def gpt2_resources(monkeypatch):
    import studio.engine.openai_import as importer

    monkeypatch.setattr(importer, "resources_folder", lambda: ROOT / "resources")


def test_adm_with_its_classifier_and_upsampler_generates_the_same_pixels_twice(tmp_path, capsys):
    imported(tmp_path, "adm_unet_new_order", "base")
    imported(tmp_path, "adm_super_res", "sr")
    imported(tmp_path, "adm_classifier_attention", "classifier")
    assert main(["cascade", "--name", "tiny ADM", "--base", str(tmp_path / "base.safetensors"), "--sr",
                 str(tmp_path / "sr.safetensors"), "--classifier", str(tmp_path / "classifier.safetensors"),
                 "--out", str(tmp_path)]) == 0
    args = ["generate", "--model", str(tmp_path), "--class-label", "3", "--class-guidance", "2", "--steps", "3",
            "--sr-steps", "2", "--seed", "5"]
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.png")]) == 0
    a, b = load_rgb(tmp_path / "a.png"), load_rgb(tmp_path / "b.png")
    assert a.shape == (8, 8, 3) and np.array_equal(a, b)


def test_glide_text_to_image_with_guidance_runs_from_a_prompt(tmp_path, capsys, gpt2_resources):
    model = imported(tmp_path, "glide_base", "base", vocab_size=50257)
    assert main(["generate", "--model", str(model), "--prompt", "a corgi in a hat", "--guidance", "3",
                 "--steps", "3", "--seed", "1", "--out", str(tmp_path / "g.png")]) == 0
    assert load_rgb(tmp_path / "g.png").shape == (8, 8, 3)


def test_glide_inpainting_keeps_the_known_pixels(tmp_path, capsys, gpt2_resources):
    from PIL import Image

    model = imported(tmp_path, "glide_inpaint", "inpaint", vocab_size=50257)
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "image.png")
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    assert main(["inpaint", "--model", str(model), "--prompt", "a cat", "--image", str(tmp_path / "image.png"),
                 "--mask", str(tmp_path / "mask.png"), "--steps", "3", "--out", str(tmp_path / "i.png")]) == 0
    out = load_rgb(tmp_path / "i.png")
    assert np.array_equal(out[mask == 0], image[mask == 0])


class Recorder(torch.nn.Module):
    def forward(self, x, t, **kwargs):
        self.t, self.kwargs = t, kwargs
        return torch.zeros(x.shape[0], 6, *x.shape[2:])


def test_the_engine_s_conventions_become_the_references_inputs():
    family = FAMILIES[Architecture.GLIDE]
    config = spec_from_flags(Architecture.GLIDE, {"inpaint": True}).config
    net = Recorder()
    regenerate = torch.zeros(1, 1, 4, 4)
    regenerate[..., :2] = 1
    image = torch.randn(1, 3, 4, 4)
    family.forward(net, config, torch.zeros(1, 3, 4, 4), torch.tensor([7]), extra=torch.cat([regenerate, image], 1),
                   aug_level=torch.tensor([0]))
    assert torch.equal(net.kwargs["inpaint_mask"], 1 - regenerate)  # GLIDE: 1 = known
    assert torch.equal(net.kwargs["inpaint_image"], image) and "aug_level" not in net.kwargs
    up_inpaint = spec_from_flags(Architecture.GLIDE, {"inpaint": True, "super_res": True, "small_size": 32,
                                                      "image_size": 64}).config
    low = torch.randn(1, 3, 4, 4)  # the upsampling inpainter: low-res first, then the inpainting channels
    family.forward(net, up_inpaint, torch.zeros(1, 3, 4, 4), torch.tensor([7]),
                   extra=torch.cat([low, regenerate, image], 1))
    assert torch.equal(net.kwargs["low_res"], low) and torch.equal(net.kwargs["inpaint_mask"], 1 - regenerate)
    assert torch.equal(net.kwargs["inpaint_image"], image)
    iddpm = spec_from_flags(Architecture.IDDPM, {"diffusion_steps": 4000}).config
    FAMILIES[Architecture.IDDPM].forward(net, iddpm, torch.zeros(1, 3, 4, 4), torch.tensor([2000]))
    assert net.t.tolist() == [500.0]  # the network sees t·1000/T


def _run(job):
    import threading

    from studio.engine.cache import ModelCache
    from studio.engine.device import choose_device
    from studio.engine.pipeline import Pipeline

    return Pipeline(ModelCache(choose_device("cpu"))).run(job, 1, threading.Event(), lambda event: None)


@pytest.fixture
def glide_cascade(tmp_path, gpt2_resources) -> Path:
    """GLIDE's base (8 px) and its upsampler (8 → 16 px) as one cascade."""
    imported(tmp_path, "glide_base", "base", vocab_size=50257)
    imported(tmp_path, "glide_upsample", "sr", vocab_size=50257, small_size=8, image_size=16)
    assert main(["cascade", "--name", "tiny GLIDE", "--base", str(tmp_path / "base.safetensors"), "--sr",
                 str(tmp_path / "sr.safetensors"), "--out", str(tmp_path)]) == 0
    return tmp_path


def test_glide_s_upsampler_starts_from_noise_at_temperature_0_997(glide_cascade):
    """glide-text2im's notebooks: noise=th.randn(up_shape) * upsample_temp, upsample_temp = 0.997."""
    from studio.core.jobs import Upscale
    from studio.core.settings import Settings

    image = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    result = _run(Upscale(str(glide_cascade), Settings(prompt="a fox", sr_steps=2, seed=9), image))
    from studio.core.settings import Stage
    from studio.engine.pipeline import stage_generator

    z = torch.randn((1, 3, 16, 16), generator=stage_generator(9, Stage.SR))  # its first draw: no augmentation
    assert torch.allclose(torch.from_numpy(result.frames[0].x_t), 0.997 * z, atol=1e-6)


def test_glide_s_upsampler_refines_the_base_output_rounded_to_8_bits(glide_cascade):
    from studio.core.jobs import TextToImage
    from studio.core.settings import Settings

    result = _run(TextToImage(str(glide_cascade), Settings(prompt="a fox", steps=3, sr_steps=2, seed=3)))
    levels = (result.base_output.astype(np.float64) + 1) * 127.5
    assert result.images.shape == (1, 16, 16, 3)
    assert np.abs(levels - levels.round()).max() < 1e-3 and len(np.unique(levels.round())) > 10


def test_glide_inpainting_forces_the_known_pixels_into_every_step_s_x0(tmp_path, gpt2_resources):
    """glide-text2im's denoised_fn: the prediction x̂₀ of every step, not only the result, shows the known image."""
    from studio.core.jobs import Inpaint
    from studio.core.settings import Settings

    model = imported(tmp_path, "glide_inpaint", "inpaint", vocab_size=50257)
    image = np.random.default_rng(4).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 1:5] = 255
    result = _run(Inpaint(str(model), Settings(prompt="a cat", steps=3, seed=2), image, mask))
    assert len(result.frames) == 3
    for frame in result.frames:
        assert np.array_equal(frame.x0_preview[0][mask == 0], image[mask == 0])
        assert not np.array_equal(frame.x0_preview[0][mask > 0], image[mask > 0])



def test_a_file_imported_as_a_preset_opens_with_its_authors_guidance_scale(tmp_path, gpt2_resources):
    """glide-text2im's inpainting notebook samples at guidance_scale = 5.0: without --guidance the CLI uses it,
    a typed --guidance wins, and a file imported from flags keeps the studio's default."""
    from studio.cli import build_parser, settings_from_args
    from studio.engine.openai_import import import_checkpoint

    imported(tmp_path, "glide_inpaint", "flags", vocab_size=50257)
    import_checkpoint("glide", tmp_path / "flags.pt", tmp_path / "preset.safetensors", preset="glide-base-inpaint",
                      flags=tmp_path / "flags.json")

    def settings(*args):
        return settings_from_args(build_parser().parse_args(["generate", "--out", "x.png", *args]))

    assert settings("--model", str(tmp_path / "preset.safetensors")).guidance_scale == 5.0
    assert settings("--model", str(tmp_path / "preset.safetensors"), "--guidance", "2").guidance_scale == 2.0
    assert settings("--model", str(tmp_path / "flags.safetensors")).guidance_scale == 3.0


def test_an_upsampler_gets_the_clean_low_res_image_through_its_own_bilinear_resize(glide_cascade):
    """The references sample their upsamplers with the base output as it is (no augmentation) and resize
    it bilinearly (align_corners=False) inside the network: the low_res the network receives is that."""
    import torch.nn.functional as F

    from studio.core.jobs import Upscale
    from studio.core.settings import Settings
    from studio.engine.cache import ModelCache
    from studio.engine.device import choose_device
    from studio.engine.pipeline import Pipeline
    from studio.engine.previews import from_uint8

    image = np.random.default_rng(5).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    pipeline = Pipeline(ModelCache(choose_device("cpu")))
    sr = pipeline.cache.get(glide_cascade / "sr.safetensors")
    seen = []
    hook = sr.module.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs["low_res"].clone()),
                                               with_kwargs=True)
    try:
        settings = Settings(prompt="a fox", sr_steps=2, seed=9, noise_augmentation=0.5)  # ignored here
        pipeline.run(Upscale(str(glide_cascade), settings, image), 1, threading.Event(), lambda e: None)
    finally:
        hook.remove()
    eight_bit = from_uint8(image)  # already on the 8-bit grid the GLIDE upsampler rounds to
    expected = F.interpolate(eight_bit, size=(16, 16), mode="bilinear", align_corners=False)
    assert len(seen) == 2 and torch.allclose(seen[0], expected, atol=1e-6)


def test_a_preset_cascade_opens_with_its_authors_respacing_for_the_base_and_the_upsampler(tmp_path, gpt2_resources):
    """glide-text2im's notebook samples the base with respacing "100" and the upsampler with "fast27": both
    become the defaults (CLI and window); a typed step count or string wins."""
    from studio.cli import build_parser, settings_from_args
    from studio.engine.model_info import setting_defaults, summarize
    from studio.engine.openai_import import import_checkpoint

    imported(tmp_path, "glide_base", "base", vocab_size=50257)
    imported(tmp_path, "glide_upsample", "sr", vocab_size=50257, small_size=8, image_size=16)
    cascade = tmp_path / "cascade"
    cascade.mkdir()
    for role, preset in (("base", "glide-base"), ("sr", "glide-upsample")):
        import_checkpoint("glide", tmp_path / f"{role}.pt", cascade / f"{role}.safetensors", preset=preset,
                          flags=tmp_path / f"{role}.json")
    assert main(["cascade", "--name", "GLIDE", "--base", str(cascade / "base.safetensors"), "--sr",
                 str(cascade / "sr.safetensors"), "--out", str(cascade)]) == 0

    authors = {"guidance_scale": 3.0, "respacing": "100", "sr_respacing": "fast27", "sampler": SamplerKind.DDPM,
               "sr_sampler": SamplerKind.DDIM}
    assert setting_defaults(cascade) == authors and dict(summarize(str(cascade)).defaults) == authors
    assert setting_defaults(tmp_path / "base.safetensors") == {}  # imported from flags: no authors' settings

    def settings(*args):
        return settings_from_args(build_parser().parse_args(["generate", "--model", str(cascade), *args]))

    assert (settings().respacing, settings().sr_respacing) == ("100", "fast27")
    assert (settings("--steps", "5").respacing, settings("--steps", "5").sr_respacing) == ("", "fast27")
    assert settings("--sr-steps", "4").sr_respacing == "" and settings("--sr-respacing", "3").sr_respacing == "3"
    assert (settings().sampler, settings().sr_sampler) == (SamplerKind.DDPM, SamplerKind.DDIM)
    assert settings("--sampler", "ddim", "--sr-sampler", "euler").sr_sampler is SamplerKind.EULER
