"""GLIDE's tokenizer against glide-text2im's own (token ids in tests/fixtures/openai/bpe_cases.json)."""

import gzip
import json
from pathlib import Path

import pytest

from studio.models.openai.bpe import BPETokenizer, byte_symbols, pieces

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "tests" / "fixtures" / "openai" / "bpe_cases.json").read_text())


@pytest.fixture(scope="module")
def tokenizer():
    lines = gzip.decompress((ROOT / "resources" / "tokenizers" / "gpt2-vocab.bpe.gz").read_bytes()).decode()
    return BPETokenizer(lines.split("\n")[1:-1])


def test_the_vocabulary_is_gpt2s(tokenizer):
    assert tokenizer.vocab_size == 50257 and tokenizer.end_token == 50256
    assert tokenizer.ids["!"] == 0 and tokenizer.ids["Ġt"] == 256  # Ġ: the byte symbol of a space


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["prompt"][:20] or "empty")
def test_prompts_give_the_references_token_ids(tokenizer, case):
    assert tokenizer.encode(case["prompt"]) == case["tokens"]
    tokens, mask = tokenizer.padded(tokenizer.encode(case["prompt"]), 16)
    assert [tokens, mask] == case["padded"]


def test_pre_tokenisation_follows_gpt2s_pattern():
    assert list(pieces("it's  a 12-way\tok")) == ["it", "'s", " ", " a", " 12", "-", "way", "\t", "ok"]
    assert list(pieces("a   b  ")) == ["a", "  ", " b", "  "]
    assert list(pieces("日本語 五十")) == ["日本語", " 五十"]  # CJK numerals are letters (Lo), not numbers


def test_every_byte_has_a_distinct_printable_symbol():
    symbols = byte_symbols()
    assert len(set(symbols)) == 256 and all(s.isprintable() and not s.isspace() for s in symbols)


def test_merges_must_be_pairs():
    with pytest.raises(ValueError, match="two symbols"):
        BPETokenizer(["a b c"])
