"""A word-level tokenizer whose vocabulary travels inside the model file."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # runs of letters and digits


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class Tokenizer:
    def __init__(self, vocab: Sequence[str]) -> None:
        if tuple(vocab[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {', '.join(SPECIALS)}")
        self.vocab = tuple(vocab)
        self._ids = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def build(cls, captions: Iterable[str], max_size: int = 4096) -> Tokenizer:
        """The most frequent words (ties alphabetical), so the same captions give the same ids."""
        counts = Counter(w for caption in captions for w in words(caption))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))[: max(0, max_size - len(SPECIALS))]
        return cls(SPECIALS + tuple(ranked))

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, prompts: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [B, L] as <bos> words… <eos> <pad>…, and the mask of real tokens; long prompts truncated.

        The empty prompt is <bos><eos>: the unconditional input of classifier-free guidance.
        """
        rows = []
        for prompt in prompts:
            body = [self._ids.get(w, UNK) for w in words(prompt)][: max_length - 2]
            rows.append([BOS, *body, EOS])
        length = max(len(r) for r in rows) if rows else 2
        ids = torch.full((len(rows), length), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids, ids != PAD
