"""CLIP's byte-level BPE tokenizer, written here without `regex` or `ftfy`.

The merges are OpenAI's `bpe_simple_vocab_16e6.txt.gz` (MIT), shipped in resources/clip/ with its
licence. Text is cleaned (HTML entities, runs of white space) and lower-cased, split into pieces —
contractions, runs of letters, single digits, runs of other non-space characters, by Unicode category —
and each piece, as bytes mapped to printable characters with "</w>" on its last, is merged by rank.
A prompt becomes <|startoftext|> tokens… <|endoftext|>, cut to 77 and padded with <|endoftext|>
(SD 1.x's tokenizer pads with it; OpenCLIP's, SD 2.x's, pads with 0).
"""

from __future__ import annotations

import functools
import gzip
import html
import unicodedata
from pathlib import Path

import torch

from studio.models.sd.config import CLIP_CONTEXT, CLIP_VOCAB

_MERGES = CLIP_VOCAB - 512 - 2  # 48 894 merges follow the file's version line
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
START, END = "<|startoftext|>", "<|endoftext|>"


@functools.lru_cache(maxsize=1)
def _byte_table() -> dict[int, str]:
    """Byte b → a printable character: printable Latin-1 bytes stand for themselves, the rest are
    moved to 256 + n, so no byte maps to white space or a control character. The table's order —
    printable bytes first — is the order of the vocabulary's first 256 entries."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def byte_characters() -> tuple[str, ...]:
    """The character of each byte value 0 … 255."""
    table = _byte_table()
    return tuple(table[b] for b in range(256))


def _kind(ch: str) -> str:
    category = unicodedata.category(ch)
    return "L" if category[0] == "L" else "N" if category[0] == "N" else "P"


def split_pieces(text: str) -> list[str]:
    """CLIP's pre-tokenisation: 's|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^\\s\\p{L}\\p{N}]+, in that order."""
    pieces, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        contraction = next((c for c in _CONTRACTIONS if text.startswith(c, i)), None)
        if contraction is not None:
            j = i + len(contraction)
        elif _kind(text[i]) == "N":
            j = i + 1
        else:
            kind, j = _kind(text[i]), i + 1
            while j < n and not text[j].isspace() and _kind(text[j]) == kind:
                j += 1
        pieces.append(text[i:j])
        i = j
    return pieces


def clean(text: str) -> str:
    return " ".join(html.unescape(html.unescape(text)).split()).lower()


class CLIPTokenizer:
    def __init__(self, merges_path: Path, context: int = CLIP_CONTEXT) -> None:
        with gzip.open(merges_path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")[1:_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        if len(merges) != _MERGES or any(len(m) != 2 for m in merges):
            raise ValueError(f"{merges_path}: not CLIP's BPE merges ({len(merges)} of {_MERGES} pairs)")
        chars = list(_byte_table().values())
        vocab = [*chars, *(c + "</w>" for c in chars), *("".join(m) for m in merges), START, END]
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.context = context
        self.start, self.end = self.ids[START], self.ids[END]
        self._cache: dict[str, list[int]] = {}
        self._chars = byte_characters()

    def _bpe(self, piece: str) -> list[int]:
        if piece in self._cache:
            return self._cache[piece]
        chars = self._chars
        word = [chars[b] for b in piece.encode("utf-8")]
        word[-1] += "</w>"
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:], strict=False)}
            best = min(pairs, key=lambda p: self.ranks.get(p, len(self.ranks)))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        ids = [self.ids[token] for token in word]
        if len(self._cache) < 10_000:
            self._cache[piece] = ids
        return ids

    def tokens(self, text: str) -> list[int]:
        """BPE ids of the text, without <|startoftext|>/<|endoftext|>."""
        return [i for piece in split_pieces(clean(text)) for i in self._bpe(piece)]

    def encode(self, prompts: list[str], pad: int | None = None) -> torch.Tensor:
        """[B, 77] ids: start, the prompt's tokens (cut to fit), end, then `pad` (default: end) as padding —
        OpenCLIP's tokenizer pads with 0."""
        pad = self.end if pad is None else pad
        rows = []
        for prompt in prompts:
            ids = [self.start, *self.tokens(prompt)[: self.context - 2], self.end]
            rows.append(ids + [pad] * (self.context - len(ids)))
        return torch.tensor(rows, dtype=torch.long)
