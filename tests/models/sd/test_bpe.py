"""CLIP's tokenizer, written here, against transformers' CLIPTokenizer on the same merges file."""

import gzip
import json

import pytest

from studio.core.paths import clip_merges_path
from studio.models.sd.bpe import split_pieces
from tests.models.sd.tiny import tokenizer

PROMPTS = [
    "a photograph of an astronaut riding a horse",
    "A RED apple, on a wooden table!!! (highly detailed), 4k",
    "it's the cat's pyjamas & don't   stop",
    "café crème brûlée, naïve — emoji 🍎 ½",
    "",
    "word " * 100,
]


def test_pieces_follow_clips_pattern():
    assert split_pieces("it's 42 cats!!, ok") == ["it", "'s", "4", "2", "cats", "!!,", "ok"]


def test_a_run_of_cjk_letters_is_one_piece_as_in_openais_clip():
    # transformers' CLIPTokenizer without ftfy splits CJK per character (BERT's basic tokenizer);
    # OpenAI's pattern, \p{L}+, keeps the run, and so do we
    assert split_pieces("東京 タワー") == ["東京", "タワー"]


def test_a_prompt_is_start_tokens_end_then_end_as_padding_to_77():
    ids = tokenizer().encode(["a cat"])[0].tolist()
    assert len(ids) == 77
    assert ids[:4] == [49406, 320, 2368, 49407] and set(ids[4:]) == {49407}


def test_a_long_prompt_is_cut_to_fit_with_its_end_token():
    ids = tokenizer().encode(["word " * 100])[0].tolist()
    assert ids[0] == 49406 and ids[-1] == 49407 and len(ids) == 77 and 49407 not in ids[1:-1]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("clip-tokenizer")
    ours = tokenizer()
    (folder / "vocab.json").write_text(json.dumps(ours.ids))
    with gzip.open(clip_merges_path(), "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")[: 48894 + 1]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n")
    return transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                      pad_token="<|endoftext|>")


@pytest.mark.parametrize("prompt", PROMPTS)
def test_ids_match_transformers_cliptokenizer(reference, prompt):
    expected = reference(prompt, padding="max_length", max_length=77, truncation=True).input_ids
    assert tokenizer().encode([prompt])[0].tolist() == expected
