"""BERT's uncased WordPiece tokenizer in plain Python (what all-MiniLM-L6-v2 was trained with).

Same steps as the reference `BertTokenizer` (do_lower_case, tokenize_chinese_chars, accents
stripped because lower-casing implies it there): clean control characters, split CJK
ideographs into single characters, lower-case and strip accents, split on whitespace and
punctuation, then greedy longest-match-first word pieces with `##` continuations. Written
here so the encoder needs neither torch nor the Rust `tokenizers` package.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

MAX_WORD_CHARS = 100


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    # BERT treats every non-alphanumeric ASCII symbol as punctuation, e.g. "$" and "^".
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def _clean(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD:
            continue
        category = unicodedata.category(char)
        if char in "\t\n\r" or category == "Zs":
            out.append(" ")
        elif category in ("Cc", "Cf"):
            continue
        elif _is_cjk(code):
            out.append(f" {char} ")
        else:
            out.append(char)
    return "".join(out)


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")


def basic_words(text: str) -> list[str]:
    """Lower-cased, accent-free words and single punctuation marks."""
    words: list[str] = []
    for chunk in _clean(text).split():
        current: list[str] = []
        for char in _strip_accents(chunk.lower()):
            if _is_punctuation(char):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(char)
            else:
                current.append(char)
        if current:
            words.append("".join(current))
    return words


class WordPiece:
    def __init__(self, vocabulary: Sequence[str]) -> None:
        self._ids = {token: index for index, token in enumerate(vocabulary)}
        for special in ("[UNK]", "[CLS]", "[SEP]"):
            if special not in self._ids:
                raise ValueError(f"the vocabulary has no {special} token: not a BERT vocabulary")
        self.unknown = self._ids["[UNK]"]
        self.start = self._ids["[CLS]"]
        self.end = self._ids["[SEP]"]
        self._cache: dict[str, list[int]] = {}

    def forget_words(self) -> int:
        """Drop the remembered words (they may be a person's name: erasure); how many."""
        count = len(self._cache)
        self._cache.clear()
        return count

    def _pieces(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > MAX_WORD_CHARS:
            return [self.unknown]
        pieces: list[int] = []
        begin = 0
        while begin < len(word):
            end = len(word)
            found = None
            while begin < end:
                piece = word[begin:end] if begin == 0 else "##" + word[begin:end]
                found = self._ids.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                pieces = [self.unknown]
                break
            pieces.append(found)
            begin = end
        if len(self._cache) < 200_000:  # bounded: a stream of random words must not grow it forever
            self._cache[word] = pieces
        return pieces

    def encode(self, text: str, max_tokens: int) -> list[int]:
        """[CLS] pieces... [SEP], cut to `max_tokens` in all (as the reference truncates)."""
        ids = [self.start]
        for word in basic_words(text):
            ids.extend(self._pieces(word))
            if len(ids) >= max_tokens - 1:
                break
        return [*ids[: max_tokens - 1], self.end]
