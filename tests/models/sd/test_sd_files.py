"""SD 1.x checkpoints as model files: recognised by their keys, in any of the released dtypes, with or
without EMA copies, and the same network whatever the file's layout."""

import pytest
import torch

from studio.core.enums import Architecture, Role
from studio.models.files import ModelFileError, load_model, read_model_info
from tests.models.sd.tiny import tiny_sd1, write_sd1


@pytest.fixture(scope="module")
def module():
    return tiny_sd1(7)


def _output(model) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(1, 4, 16, 16, generator=g), torch.tensor([250])
    with torch.inference_mode():
        return model.unet(x, t, model.encode_prompts(["a cat"]))


def test_an_fp32_file_with_ema_copies_loads_the_main_weights(module, tmp_path):
    ema = {"model_ema.decay": torch.tensor(0.9999), "model_ema.num_updates": torch.tensor(1000),
           "model_ema.diffusion_modelout2weight": torch.zeros(4, 32, 3, 3),
           "alphas_cumprod": torch.linspace(1, 0, 1000)}
    path = write_sd1(tmp_path / "full.safetensors", module, dtype=torch.float32, extra=ema)
    info = read_model_info(path)
    assert (info.config.architecture, info.config.role, info.dtype) == (Architecture.SD1, Role.BASE, "float32")
    torch.testing.assert_close(_output(load_model(path).module), _output(module), atol=0, rtol=0)


def test_a_file_of_mixed_dtypes_is_read_and_named_by_its_main_dtype(module, tmp_path):
    tensors = {k: v.half() if k.startswith("model.") else v.float() for k, v in module.state_dict().items()}
    path = tmp_path / "mixed.safetensors"
    from safetensors.torch import save_file

    save_file(tensors, str(path))
    assert read_model_info(path).dtype == "float16"  # the U-Net is most of the tensors
    assert load_model(path).module.vae.post_quant_conv.weight.dtype == torch.float32


def test_a_truncated_file_is_one_line(module, tmp_path):
    path = write_sd1(tmp_path / "cut.safetensors", module)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ModelFileError, match="truncated or corrupt") as err:
        read_model_info(path)
    assert "\n" not in str(err.value)
