"""Min-SNR loss weighting: whatever the network predicts, a sample's weighted error is min(SNR_t, γ) × the
error of its x̂₀; the plain loss has no weights."""

import pytest
import torch

from studio.core.enums import LossWeight, PredictionType
from studio.diffusion.parameterization import prediction_target
from studio.models.config import ModelCard
from studio.train.loop import train
from studio.train.loss_weights import loss_weights
from studio.train.recipes import BUILTIN, TrainRecipe
from tests.train.test_loop import shapes_dataset

ABAR = torch.tensor([0.999, 0.9, 0.5, 0.1, 0.001]).view(-1, 1, 1, 1)  # SNR 999, 9, 1, 0.11, 0.001


@pytest.mark.parametrize("prediction", list(PredictionType))
def test_the_weighted_error_of_any_target_is_min_snr_gamma_times_the_error_of_x0(prediction):
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(5, 3, 4, 4, generator=g), torch.randn(5, 3, 4, 4, generator=g)
    x_t = ABAR.sqrt() * x0 + (1 - ABAR).sqrt() * noise
    wrong_x0 = x0 + 0.1 * torch.randn(x0.shape, generator=g)
    wrong_noise = (x_t - ABAR.sqrt() * wrong_x0) / (1 - ABAR).sqrt()  # the same x_t, explained otherwise
    wrong = prediction_target(prediction, wrong_x0, wrong_noise, ABAR)
    target_error = ((wrong - prediction_target(prediction, x0, noise, ABAR)) ** 2).mean(dim=(1, 2, 3))
    x0_error = ((wrong_x0 - x0) ** 2).mean(dim=(1, 2, 3))
    weights = loss_weights(LossWeight.MIN_SNR, prediction, ABAR, gamma=5.0).flatten()
    snr = (ABAR / (1 - ABAR)).flatten()
    torch.testing.assert_close(weights * target_error, snr.clamp(max=5.0) * x0_error, rtol=1e-3, atol=1e-7)


def test_epsilon_weights_cap_the_small_noise_steps_and_leave_the_large_noise_steps_whole():
    weights = loss_weights(LossWeight.MIN_SNR, PredictionType.EPSILON, ABAR, gamma=5.0).flatten()
    torch.testing.assert_close(weights, torch.tensor([5 / 999, 5 / 9, 1.0, 1.0, 1.0]), rtol=1e-4, atol=0)


def test_the_plain_loss_has_no_weights():
    assert loss_weights(LossWeight.UNIFORM, PredictionType.EPSILON, ABAR, gamma=5.0) is None


def test_a_recipe_keeps_its_loss_weight_through_json_and_refuses_a_gamma_that_is_not_positive():
    recipe = BUILTIN["cpu-finetune-prompt"]
    assert recipe.loss_weight is LossWeight.MIN_SNR and recipe.snr_gamma == 5.0
    assert TrainRecipe.from_json(recipe.to_json()) == recipe
    with pytest.raises(ValueError, match="γ"):
        recipe.with_(snr_gamma=0.0)


def test_a_min_snr_run_logs_a_smaller_loss_than_the_plain_run_of_the_same_seed(tmp_path):
    """ε weights are at most 1, so the same first steps log a smaller weighted loss."""
    plain = BUILTIN["tiny-base"].with_(steps=4, log_every=4, checkpoint_every=4)
    weighted = plain.with_(loss_weight=LossWeight.MIN_SNR)
    card = ModelCard(name="t")
    a = train(plain, shapes_dataset(), tmp_path / "a.safetensors", card=card).losses[0]
    b = train(weighted, shapes_dataset(), tmp_path / "b.safetensors", card=card).losses[0]
    assert 0 < b < a
