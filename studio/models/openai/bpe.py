"""GPT-2's byte-level BPE (Radford et al. 2019), as GLIDE tokenizes prompts, with the standard library only.

The text is lower-cased and split into pieces the way GPT-2's pattern
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
does (`pieces`: the Unicode letter and number classes come from `unicodedata`, so the `regex` package is
not needed); each piece's UTF-8 bytes are mapped to printable symbols and merged by rank. The vocabulary is
the 256 byte symbols, the merges' results in rank order, then <|endoftext|>, so the merges alone (kept in
the model file's config) define the tokenizer.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator, Sequence

CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
END_OF_TEXT = "<|endoftext|>"


PRINTABLE = (*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1))
# the vocabulary's first 256 entries: the printable bytes, then the others, each in byte order
BYTE_ORDER = (*PRINTABLE, *(b for b in range(256) if b not in PRINTABLE))


@functools.cache
def byte_symbols() -> tuple[str, ...]:
    """The printable stand-in of each byte 0…255: printable Latin-1 bytes stand for themselves, the others
    for chr(256), chr(257), … in byte order."""
    others = {b: chr(256 + i) for i, b in enumerate(BYTE_ORDER[len(PRINTABLE):])}
    return tuple(chr(b) if b in PRINTABLE else others[b] for b in range(256))


def _class(c: str) -> str:
    if c.isspace():
        return "s"
    category = unicodedata.category(c)[0]
    return category if category in "LN" else "o"


def pieces(text: str) -> Iterator[str]:
    """GPT-2's pre-tokenisation of `text`: the matches of its pattern, left to right."""
    i, n = 0, len(text)
    while i < n:
        contraction = next((c for c in CONTRACTIONS if text.startswith(c, i)), None)
        if contraction:
            yield contraction
            i += len(contraction)
            continue
        start = i + 1 if text[i] == " " and i + 1 < n and _class(text[i + 1]) != "s" else i
        kind = _class(text[start])
        if kind != "s":  # ` ?\p{L}+`, ` ?\p{N}+` or ` ?[^\s\p{L}\p{N}]+`
            end = start + 1
            while end < n and _class(text[end]) == kind:
                end += 1
            yield text[i:end]
            i = end
            continue
        end = i + 1
        while end < n and _class(text[end]) == "s":
            end += 1
        if end < n and end - i > 1:  # `\s+(?!\S)`: leave the last space to the next piece
            end -= 1
        yield text[i:end]
        i = end


class BPETokenizer:
    def __init__(self, merges: Sequence[str]) -> None:
        pairs = [tuple(m.split(" ")) for m in merges]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("every BPE merge must be two symbols separated by one space")
        self.ranks = {p: r for r, p in enumerate(pairs)}
        vocab = [*(byte_symbols()[b] for b in BYTE_ORDER), *(a + b for a, b in pairs), END_OF_TEXT]
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.end_token = len(vocab) - 1
        self._bpe = functools.lru_cache(maxsize=4096)(self._merge)

    @property
    def vocab_size(self) -> int:
        return self.end_token + 1

    def encode(self, text: str) -> list[int]:
        symbols = byte_symbols()
        out: list[int] = []
        for piece in pieces(text.lower()):
            word = "".join(symbols[b] for b in piece.encode("utf-8"))
            out.extend(self.ids[token] for token in self._bpe(word))
        return out

    def _merge(self, word: str) -> tuple[str, ...]:
        """Merge the lowest-ranked adjacent pair, everywhere it occurs, until no pair has a rank."""
        parts = list(word)
        while len(parts) > 1:
            pairs = zip(parts, parts[1:], strict=False)
            rank, at = min((self.ranks.get(pair, len(self.ranks)), i) for i, pair in enumerate(pairs))
            if rank == len(self.ranks):
                break
            first, second = parts[at], parts[at + 1]
            merged, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == first and parts[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(parts)

    def padded(self, tokens: Sequence[int], length: int) -> tuple[list[int], list[bool]]:
        """GLIDE's fixed-length input: truncated, padded with <|endoftext|>; mask True at real tokens."""
        tokens = list(tokens[:length])
        padding = length - len(tokens)
        return tokens + [self.end_token] * padding, [True] * len(tokens) + [False] * padding

