"""Names to learn from: the census first names, a character vocabulary, a split and a baseline.

``load_names()`` reads the ≈5,000 US-census first names (1990) that the ``names`` package
(MIT; installed by chainrule's ``[gpt]`` extra) ships as data files: nothing is downloaded. A
``Vocabulary`` maps characters to token ids and back, with one extra token, BOS, that starts and
ends every name; ``split`` sets names aside for measuring; ``BigramModel`` is the baseline any
sequence model has to beat: the next character's probability given only the previous one,
from counts.

Token convention (the same for ``BigramModel`` and ``nn.gpt.GPT``, so their losses compare):
``"ada"`` is the sequence ``BOS a d a BOS``, and a model is scored on predicting each token
after the first, so a name of n letters has n + 1 targets (the last is "the name ends here").

>>> vocab = Vocabulary("abd")
>>> vocab.encode("ada"), vocab.decode([0, 2, 0])
([3, 0, 2, 0, 3], 'ada')
>>> round(BigramModel(vocab, ["ab", "ba"]).loss(["ab"]), 4)  # 3 targets, each p = (1 + 1) / (2 + 4)
1.0986
"""

from __future__ import annotations

import itertools
import math
import numbers
import random
from collections.abc import Iterable, Sequence
from importlib import resources

from nn._extra import require
from nn.validation import make_rng

NAME_FILES = ("dist.female.first", "dist.male.first")
"""The files of the ``names`` package read by ``load_names``: one name per line, then numbers."""


def load_names() -> list[str]:
    """The US-census first names the ``names`` package ships: lower case, letters only, once each.

    Female names first, then the male names not already listed, each file in its own order
    (most frequent first), so the list is the same on every machine. Needs the ``names``
    package: ``pip install "chainrule[gpt]"``.

    >>> names = load_names()
    >>> len(names), names[:3], max(map(len, names))
    (5163, ['mary', 'patricia', 'linda'], 11)
    """
    require("names", "nn.corpus.load_names", extra="gpt")
    seen: dict[str, None] = {}
    for filename in NAME_FILES:
        text = resources.files("names").joinpath(filename).read_text(encoding="ascii")
        for line in text.splitlines():
            word = line.split()[0].lower() if line.strip() else ""
            if word.isalpha() and word.isascii():
                seen.setdefault(word, None)
    return list(seen)


class Vocabulary:
    """Characters and their token ids (in the order given), plus ``bos`` = the last id.

    ``Vocabulary.from_words(words)`` takes the characters that occur, sorted: for names in
    a–z that is 26 letters, ``bos`` = 26 and ``len(vocab)`` = 27, as in microgpt.

    >>> vocab = Vocabulary.from_words(["bob", "ann"])
    >>> vocab.chars, vocab.bos, len(vocab)
    ('abno', 4, 5)
    >>> vocab.encode("bo!")
    Traceback (most recent call last):
    ...
    ValueError: Vocabulary.encode: 'bo!' has '!', which is not in the vocabulary 'abno'
    """

    def __init__(self, chars: str) -> None:
        if not isinstance(chars, str) or not chars:
            raise ValueError(f"Vocabulary needs a non-empty string of characters, got {chars!r}")
        if len(set(chars)) != len(chars):
            raise ValueError(f"Vocabulary: the characters {chars!r} repeat some")
        self.chars = chars
        self.bos = len(chars)
        self._ids = {c: i for i, c in enumerate(chars)}

    @classmethod
    def from_words(cls, words: Iterable[str]) -> Vocabulary:
        """The vocabulary of the characters in ``words``, sorted.

        >>> len(Vocabulary.from_words(["abc", "cab"]))
        4
        """
        return cls("".join(sorted(set("".join(words)))))

    def __len__(self) -> int:
        return len(self.chars) + 1

    def encode(self, word: str) -> list[int]:
        """``[bos, ids of word's characters..., bos]``.

        >>> Vocabulary("ab").encode("ba")
        [2, 1, 0, 2]
        """
        missing = [c for c in word if c not in self._ids]
        if missing:
            raise ValueError(f"Vocabulary.encode: {word!r} has {missing[0]!r}, which is not in "
                             f"the vocabulary {self.chars!r}")
        return [self.bos, *(self._ids[c] for c in word), self.bos]

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of ``ids``, leaving out ``bos``.

        >>> Vocabulary("ab").decode([2, 1, 0, 2])
        'ba'
        """
        ids = list(ids)
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i <= self.bos:
                raise ValueError(f"Vocabulary.decode: id {i!r} is not a token id "
                                 f"(0 to {self.bos})")
        return "".join(self.chars[i] for i in ids if i != self.bos)

    def __repr__(self) -> str:
        return f"Vocabulary({self.chars!r})"


def split(words: Sequence[str], held_out: float = 0.1,
          seed: int = 0) -> tuple[list[str], list[str]]:
    """Shuffle ``words`` with ``random.Random(seed)``; return (training words, held-out words).

    The held-out part is the fraction ``held_out`` (rounded, at least one word).

    >>> train, test = split(["a", "b", "c", "d", "e"], held_out=0.2, seed=0)
    >>> len(train), len(test), sorted(train + test)
    (4, 1, ['a', 'b', 'c', 'd', 'e'])
    """
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"split: held_out is the fraction of words set aside, strictly between "
                         f"0 and 1, got {held_out!r}")
    if len(words) < 2:
        raise ValueError(f"split: needs at least 2 words, got {len(words)}")
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    n = min(len(shuffled) - 1, max(1, round(held_out * len(shuffled))))
    return shuffled[n:], shuffled[:n]


class BigramModel:
    """p(next token | previous token) from counts in ``words``, each count plus one.

    The add-one (Laplace) smoothing gives every pair a probability, so a pair never seen in
    training costs a finite loss on held-out words.

    >>> model = BigramModel(Vocabulary("ab"), ["ab"])
    >>> round(model.probability(model.vocab.bos, 0), 4)   # (1 + 1) / (1 + 3)
    0.5
    """

    def __init__(self, vocab: Vocabulary, words: Iterable[str]) -> None:
        self.vocab = vocab
        n = len(vocab)
        self.counts = [[0] * n for _ in range(n)]
        for word in words:
            tokens = vocab.encode(word)
            for a, b in itertools.pairwise(tokens):
                self.counts[a][b] += 1
        self._log_probs = []
        for row in self.counts:
            total = sum(row) + n
            self._log_probs.append([math.log((c + 1) / total) for c in row])

    def probability(self, previous: int, token: int) -> float:
        """p(``token`` | ``previous``), token ids.

        >>> BigramModel(Vocabulary("a"), []).probability(0, 1)
        0.5
        """
        return math.exp(self._log_probs[previous][token])

    def loss(self, words: Iterable[str]) -> float:
        """Mean ``-log p`` (nats) per predicted token over ``words`` (the module's convention).

        >>> round(BigramModel(Vocabulary("a"), []).loss(["a"]), 4)   # two tokens at p = 1/2
        0.6931
        """
        total, count = 0.0, 0
        for word in words:
            tokens = self.vocab.encode(word)
            for a, b in itertools.pairwise(tokens):
                total -= self._log_probs[a][b]
                count += 1
        if not count:
            raise ValueError("BigramModel.loss: no words given")
        return total / count

    def sample(self, rng: random.Random | int | None = None, max_length: int = 50) -> str:
        """A new word: tokens drawn one by one after BOS until BOS (or ``max_length``).

        >>> BigramModel(Vocabulary("ab"), ["ab"] * 50).sample(rng=0)
        'ab'
        """
        rng = make_rng(rng)
        token, ids = self.vocab.bos, []
        population = range(len(self.vocab))
        for _ in range(max_length):
            weights = [math.exp(lp) for lp in self._log_probs[token]]
            token = rng.choices(population, weights)[0]
            if token == self.vocab.bos:
                break
            ids.append(token)
        return self.vocab.decode(ids)

    def __repr__(self) -> str:
        return f"BigramModel({self.vocab!r})"
