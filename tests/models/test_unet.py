"""The guided U-Net on tiny configs: shapes, gradients, conditioning, the packed CPU path."""

import pytest
import torch

from studio.models.config import UNetConfig
from studio.models.network import DiffusionNet
from studio.models.presets import tiny_base_config, tiny_sr_config
from studio.models.unet import UNet
from tests.conftest import lively

T = torch.tensor([3, 700])


def _net(config=None, seed=0):
    torch.manual_seed(seed)
    return lively(DiffusionNet(config or tiny_base_config())).eval()


def test_output_has_the_image_shape_and_doubles_with_learned_variance():
    net = _net()
    x = torch.randn(2, 3, 16, 16)
    assert net(x, T, text=net.encode_prompts(["red apple", ""])).shape == (2, 3, 16, 16)
    unet = UNet(UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
                           attention_resolutions=(8,), resolution=16, learn_sigma=True))
    assert unet(x, T).shape == (2, 6, 16, 16)


def test_a_fresh_unet_predicts_zero_because_its_output_layer_starts_at_zero():
    torch.manual_seed(0)
    net = DiffusionNet(tiny_base_config())
    out = net(torch.randn(2, 3, 16, 16), T, text=net.encode_prompts(["red", "blue"]))
    assert torch.count_nonzero(out) == 0


def test_every_parameter_receives_a_gradient():
    net = _net(tiny_sr_config())
    net.train()
    x = torch.randn(2, 3, 32, 32)
    out = net(x, T, text=net.encode_prompts(["red apple", "cat"]), extra=torch.randn(2, 3, 32, 32),
              aug_level=torch.tensor([0, 250]))
    out.square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def _changes(a, b):
    return (a - b).abs().max().item() > 1e-6


def test_each_kind_of_conditioning_changes_the_output():
    base, sr = _net(), _net(tiny_sr_config())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        one = base(x, T, text=base.encode_prompts(["red apple", "red apple"]))
        other = base(x, T, text=base.encode_prompts(["blue cat", "blue cat"]))
        later = base(x, T + 100, text=base.encode_prompts(["red apple", "red apple"]))
        assert _changes(one, other) and _changes(one, later)
        y = torch.randn(2, 3, 32, 32)
        text = sr.encode_prompts(["red", "red"])
        extra = torch.randn(2, 3, 32, 32)
        ref = sr(y, T, text=text, extra=extra, aug_level=torch.tensor([0, 0]))
        assert _changes(ref, sr(y, T, text=text, extra=extra + 0.5, aug_level=torch.tensor([0, 0])))
        assert _changes(ref, sr(y, T, text=text, extra=extra, aug_level=torch.tensor([300, 300])))


def test_class_labels_change_the_output_of_a_class_conditional_unet():
    torch.manual_seed(0)
    unet = lively(UNet(UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
                                  attention_resolutions=(8,), resolution=16, num_classes=4))).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert _changes(unet(x, T, class_labels=torch.tensor([0, 0])), unet(x, T, class_labels=torch.tensor([3, 3])))


def test_padding_tokens_do_not_change_the_output():
    net = _net()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        short = net.encode_prompts(["red"])
        padded = short.cat(net.encode_prompts(["red apple cat heart star"]))  # pads "red" to 7 tokens
        a = net(x, T[:1], text=short)
        b = net(x.repeat(2, 1, 1, 1), T[:1].repeat(2), text=padded)[:1]
    assert torch.allclose(a, b, atol=1e-5)


def test_conditioning_the_config_lacks_or_needs_is_refused():
    net = _net()
    x = torch.randn(2, 3, 16, 16)
    with pytest.raises(ValueError, match="text-conditioned"):
        net(x, T)
    with pytest.raises(ValueError, match="extra input channels"):
        net(x, T, text=net.encode_prompts(["", ""]), extra=torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="augmentation level"):
        net(x, T, text=net.encode_prompts(["", ""]), aug_level=torch.zeros(2))


def test_the_packed_cpu_path_computes_what_the_plain_path_computes():
    net = _net().to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        text = net.encode_prompts(["red apple", "cat"])
    with torch.enable_grad():
        plain = net(x, T, text=text).detach()
    with torch.inference_mode():
        packed = net(x, T, text=text)
        net.unet.input_conv.weight.mul_(1.5)  # an in-place update (as optimizers do) must repack
        changed = net(x, T, text=text)
    assert torch.allclose(plain, packed, atol=1e-5)
    assert _changes(packed, changed)


def test_extra_channels_keep_a_channels_last_input_on_the_packed_path():
    net = _net(tiny_sr_config())
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    extra = torch.randn(2, 3, 32, 32)  # the upsampled low-res image arrives in the plain layout
    kwargs = {"extra": extra, "aug_level": torch.tensor([0, 250])}
    with torch.no_grad():
        text = net.encode_prompts(["red apple", "cat"])
        plain = net(x.contiguous(), T, text=text, **kwargs)
    with torch.inference_mode():
        packed = net(x, T, text=text, **kwargs)
    assert packed.is_contiguous(memory_format=torch.channels_last)  # the oneDNN path's output layout
    assert torch.allclose(plain, packed, atol=1e-5)
