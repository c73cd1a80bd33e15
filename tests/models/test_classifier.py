"""The noise-aware classifier."""

import torch

from studio.models.classifier import NoisyClassifier
from studio.models.presets import tiny_classifier_config
from tests.conftest import lively


def test_logits_and_features_have_the_right_shapes_and_depend_on_t():
    torch.manual_seed(0)
    net = lively(NoisyClassifier(tiny_classifier_config(("a", "b", "c", "d")).classifier)).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert net(x, torch.tensor([0, 0])).shape == (2, 4)
        assert net.features(x, torch.tensor([0, 0])).shape == (2, 64)
        assert not torch.allclose(net(x, torch.tensor([0, 0])), net(x, torch.tensor([900, 900])))


def test_every_classifier_parameter_receives_a_gradient():
    torch.manual_seed(0)
    net = lively(NoisyClassifier(tiny_classifier_config().classifier))
    loss = torch.nn.functional.cross_entropy(net(torch.randn(4, 3, 16, 16), torch.tensor([0, 10, 500, 999])),
                                             torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()] == []
