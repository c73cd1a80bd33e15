"""The tokenizer and the text encoder."""

import pytest
import torch

from studio.core.enums import TextPooling
from studio.models.config import TextEncoderConfig
from studio.models.text_encoder import TextEncoder
from studio.models.tokenizer import BOS, EOS, PAD, UNK, Tokenizer


def test_the_vocabulary_is_built_by_frequency_then_alphabetically():
    tok = Tokenizer.build(["red apple", "green apple", "Red heart!"], max_size=7)
    assert tok.vocab == ("<pad>", "<unk>", "<bos>", "<eos>", "apple", "red", "green")


def test_encoding_wraps_words_in_bos_eos_pads_and_truncates():
    tok = Tokenizer.build(["red apple", "green apple"])
    ids, mask = tok.encode(["Red APPLE", "", "purple apple red red red red"], max_length=5)
    assert ids[0].tolist() == [BOS, tok.vocab.index("red"), tok.vocab.index("apple"), EOS, PAD]
    assert ids[1].tolist() == [BOS, EOS, PAD, PAD, PAD]
    assert ids[2].tolist() == [BOS, UNK, tok.vocab.index("apple"), tok.vocab.index("red"), EOS]
    assert mask.tolist()[1] == [True, True, False, False, False]


def test_the_pooled_vector_is_the_feature_at_eos_and_differs_per_prompt():
    torch.manual_seed(0)
    tok = Tokenizer.build(["red apple", "blue cat"])
    enc = TextEncoder(TextEncoderConfig(vocab=tok.vocab, width=32, heads=2, layers=1, max_length=8)).eval()
    ids, mask = tok.encode(["red apple", "blue cat", ""], 8)
    out = enc(ids, mask)
    assert out.tokens.shape == (3, 4, 32) and out.pooled.shape == (3, 32)
    eos = (ids == EOS).float().argmax(1)
    assert torch.equal(out.pooled, out.tokens[torch.arange(3), eos])
    assert not torch.allclose(out.pooled[0], out.pooled[1])


def test_mean_pooling_averages_the_prompts_tokens_and_ignores_the_padding():
    torch.manual_seed(0)
    tok = Tokenizer.build(["red apple", "blue cat"])
    config = TextEncoderConfig(vocab=tok.vocab, width=32, heads=2, layers=1, max_length=8, pooling=TextPooling.MEAN)
    enc = TextEncoder(config).eval()
    ids, mask = tok.encode(["red apple", "blue", ""], 8)
    out = enc(ids, mask)
    for row in range(3):
        real = int(mask[row].sum())
        assert torch.allclose(out.pooled[row], out.tokens[row, :real].mean(0), atol=1e-6)
    alone = enc(*tok.encode(["blue"], 8))  # padding to another length changes nothing
    assert torch.allclose(alone.pooled[0], out.pooled[1], atol=1e-5)


def test_files_written_before_the_pooling_field_pool_at_eos():
    config = TextEncoderConfig.__dataclass_fields__["pooling"].default
    assert config is TextPooling.EOS
    with pytest.raises(ValueError, match="text.pooling must be one of: eos, mean"):
        TextEncoderConfig(pooling="max")


def test_conditioning_batches_concatenate_with_padding():
    torch.manual_seed(0)
    tok = Tokenizer.build(["red apple cat"])
    enc = TextEncoder(TextEncoderConfig(vocab=tok.vocab, width=32, heads=2, layers=1, max_length=8))
    a = enc(*tok.encode(["red"], 8))
    b = enc(*tok.encode(["red apple cat"], 8))
    both = a.cat(b)
    assert both.tokens.shape == (2, 5, 32) and both.mask[0].tolist() == [True, True, True, False, False]
