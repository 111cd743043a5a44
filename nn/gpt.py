"""A character-level GPT of microgpt's size, trained on census first names: the model and its loop.

``GPT`` is microgpt's model built from ``nn.sequence``: token and position embeddings, RMSNorm,
one block of causal multi-head attention (run one position at a time over a key/value cache)
and a ReLU MLP, each with a residual connection, then a linear head giving the next
character's logits. With microgpt's sizes (``n_embd`` 16, 4 heads, 1 layer, block 16, no
biases, normalisation without weights) and 27 tokens it has 4,192 parameters.

``train`` is microgpt's loop: one name per step, the mean ``-log p`` of its next characters,
``nn.Adam`` with betas (0.85, 0.99) and a learning rate falling linearly to 0.
``held_out_loss`` scores a model on words it did not train on, ``generate`` samples new ones.
The command that does all of it on the census names (``chainrule-gpt``, ``python -m nn gpt``
or ``python -m nn.gpt``) is in ``nn/gpt_cli.py``.

>>> vocab = Vocabulary("abc")
>>> model = GPT(len(vocab), seed=0)
>>> losses = train(model, vocab, ["abc", "cab"], steps=2)
>>> len(losses), round(held_out_loss(model, vocab, ["abc"]), 1) > 0
(2, True)
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence

import autograd
from autograd import Value, gc_paused, no_grad
from autograd.recording import read_floats, write_floats
from nn.corpus import Vocabulary
from nn.losses import cross_entropy
from nn.module import Module
from nn.optim import Adam
from nn.sequence import (
    CausalSelfAttention,
    Embedding,
    KVCache,
    Linear,
    RMSNorm,
    sample_from_logits,
)
from nn.validation import check_int, describe, make_rng

STEPS = 3000  # microgpt runs 1,000; 3,000 (less than one pass over the names) learn clearly more
LR, BETAS = 0.01, (0.85, 0.99)  # microgpt's
INIT_STD = 0.08  # microgpt's: every weight from N(0, 0.08²)


class Block(Module):
    """A transformer block as microgpt has it: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    The MLP is ``fc2(relu(fc1(x)))`` with a hidden size of ``4 * n_embd``; no biases.

    >>> block = Block(8, 2, seed=0)
    >>> len(block([0.5] * 8, KVCache())), len(block.parameters())
    (8, 768)
    """

    def __init__(self, n_embd: int, n_head: int, *,
                 seed: int | random.Random | None = None) -> None:
        rng = make_rng(seed)
        self.attn_norm = RMSNorm(n_embd, elementwise_affine=False)
        self.attn = CausalSelfAttention(n_embd, n_head, std=INIT_STD, seed=rng)
        self.mlp_norm = RMSNorm(n_embd, elementwise_affine=False)
        self.fc1 = Linear(n_embd, 4 * n_embd, bias=False, std=INIT_STD, seed=rng)
        self.fc2 = Linear(4 * n_embd, n_embd, bias=False, std=INIT_STD, seed=rng)

    def forward(self, x: list[Value], cache: KVCache) -> list[Value]:
        """The block's output at the position of ``x`` (whose key and value join ``cache``)."""
        x = [a + b for a, b in zip(x, self.attn(self.attn_norm(x), cache))]
        hidden = [h.relu() for h in self.fc1(self.mlp_norm(x))]
        return [a + b for a, b in zip(x, self.fc2(hidden))]


class GPT(Module):
    """microgpt's model: ``model(token, position, caches)`` gives the next token's logits.

    Feed a sequence one token at a time, positions 0, 1, 2..., with the same ``caches`` (from
    ``model.new_caches()``, one ``KVCache`` per layer); position ``t`` attends to positions 0
    to ``t``. ``loss(tokens)`` does that for a whole sequence.

    >>> model = GPT(27, seed=0)
    >>> model
    GPT(vocab_size=27, block_size=16, n_embd=16, n_head=4, n_layer=1)
    >>> len(model.parameters())
    4192
    >>> caches = model.new_caches()
    >>> len(model(26, 0, caches))
    27
    """

    def __init__(self, vocab_size: int, block_size: int = 16, n_embd: int = 16,
                 n_head: int = 4, n_layer: int = 1, *,
                 seed: int | random.Random | None = None) -> None:
        self.vocab_size = check_int("GPT", "vocab_size", vocab_size)
        self.block_size = check_int("GPT", "block_size", block_size)
        self.n_embd, self.n_head = check_int("GPT", "n_embd", n_embd), n_head
        self.n_layer = check_int("GPT", "n_layer", n_layer)
        rng = make_rng(seed)
        self.wte = Embedding(self.vocab_size, n_embd, std=INIT_STD, seed=rng)
        self.wpe = Embedding(self.block_size, n_embd, std=INIT_STD, seed=rng)
        self.norm = RMSNorm(n_embd, elementwise_affine=False)
        self.blocks = [Block(n_embd, n_head, seed=rng) for _ in range(self.n_layer)]
        self.lm_head = Linear(n_embd, self.vocab_size, bias=False, std=INIT_STD, seed=rng)

    def new_caches(self) -> list[KVCache]:
        """Empty key/value caches for a new sequence, one per block.

        >>> len(GPT(5, n_layer=2, seed=0).new_caches())
        2
        """
        return [KVCache() for _ in self.blocks]

    def forward(self, token: int, position: int, caches: Sequence[KVCache]) -> list[Value]:
        """The logits of the token after ``token``, which sits at ``position``."""
        if isinstance(position, bool) or not isinstance(position, int) \
                or not 0 <= position < self.block_size:
            raise ValueError(f"GPT: position must be an int from 0 to {self.block_size - 1} "
                             f"(block_size {self.block_size}), got {position!r}")
        self._check_caches(caches, position)
        x = [t + p for t, p in zip(self.wte(token), self.wpe(position))]
        x = self.norm(x)  # as microgpt: the residual stream starts normalised
        for block, cache in zip(self.blocks, caches):
            x = block(x, cache)
        return self.lm_head(x)

    def _check_caches(self, caches: Sequence[KVCache], position: int) -> None:
        """``caches`` are ``n_layer`` KVCaches holding positions 0 to ``position - 1``."""
        expected = (f"GPT: caches must be {self.n_layer} KVCache (one per layer, from "
                    f"model.new_caches())")
        if not isinstance(caches, Sequence) or not all(isinstance(c, KVCache) for c in caches):
            raise TypeError(f"{expected}, got {describe(caches)}")
        if len(caches) != self.n_layer:
            raise ValueError(f"{expected}, got {len(caches)}")
        cached = len(caches[0])
        if cached != position:
            raise ValueError(f"GPT: position {position}, but the caches hold {cached} "
                             f"position{'s' if cached != 1 else ''}: feed a sequence's positions "
                             f"0, 1, 2... in order, with new caches (model.new_caches()) for "
                             f"each new sequence")

    def loss(self, tokens: Sequence[int]) -> Value:
        """Mean ``-log p`` of ``tokens[1:]``, each predicted from the tokens before it.

        Only the first ``block_size`` predictions count (microgpt's rule). The tokens may be
        ints or Values holding them (as inside ``autograd.compile``): the same numbers.

        >>> round(GPT(3, seed=0).loss([2, 0, 1, 2]).data, 4)
        1.558
        """
        n = min(self.block_size, len(tokens) - 1)
        if n < 1:
            raise ValueError(f"GPT.loss: needs at least 2 tokens, got {len(tokens)}")
        caches = self.new_caches()
        logits = [self(tokens[t], t, caches) for t in range(n)]
        # the target logits are picked by autograd.take nodes even for int tokens: the graph is
        # then the one autograd.compile records (its arguments are Values), so a compiled step
        # and an eager one give the same gradients, bit for bit (without the node the backward
        # walk would meet the logits in another order and round their sums differently)
        targets = [t if isinstance(t, Value) else Value(t) for t in tokens[1:n + 1]]
        return cross_entropy(logits, targets)

    def __repr__(self) -> str:
        return (f"GPT(vocab_size={self.vocab_size}, block_size={self.block_size}, "
                f"n_embd={self.n_embd}, n_head={self.n_head}, n_layer={self.n_layer})")


def train(model: GPT, vocab: Vocabulary, words: Sequence[str], steps: int = STEPS,
          lr: float = LR, on_step: Callable[[int, float], None] | None = None,
          compile: bool = False) -> list[float]:
    """``steps`` Adam steps, one word per step (``words[k % len(words)]``); returns the losses.

    The learning rate falls linearly from ``lr`` to 0 over the run (microgpt's schedule).
    ``on_step(step, loss)`` is called after each step. The cycle collector is paused during a
    step (``autograd.gc_paused``), as in ``nn.train``. A step is all-or-nothing for the
    parameters: on Ctrl-C (``KeyboardInterrupt``) or an error in the middle of one, they are put
    back as they were after the last completed step before the exception goes on.

    ``compile=True`` runs ``model.loss`` through ``autograd.compile``: the tokens are its
    argument, so there is one recording per word length (the token embedding and the target
    logit are picked by ``autograd.take``), replayed for every other word of that length. The
    losses and the trained parameters are the same, bit for bit.

    >>> vocab = Vocabulary("ab")
    >>> model = GPT(len(vocab), seed=0)
    >>> losses = train(model, vocab, ["ab", "ba", "aab"], steps=30, lr=0.05)
    >>> losses[-1] < losses[0]
    True
    """
    steps = check_int("train", "steps", steps)
    sequences = _encode("train", model, vocab, words)
    if not sequences:
        raise ValueError("train: needs at least one word")
    params = model.parameters()
    optimizer = Adam(params, lr=lr, betas=BETAS, eps=1e-8)
    loss_of = autograd.compile(model.loss, max_recordings=model.block_size) if compile \
        else model.loss
    losses = []
    for k in range(steps):
        optimizer.lr = lr * (1.0 - k / steps)
        before = read_floats(params, "data")
        try:
            with gc_paused():
                # the tokens past block_size + 1 play no part: without them, one recording
                # serves every word at least as long as the block
                loss = loss_of(sequences[k % len(sequences)][:model.block_size + 1])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.data)
                del loss  # free the graph while the collector is still paused
        except BaseException:  # Ctrl-C or an error: undo a half-done update
            write_floats(params, "data", before)
            raise
        if on_step is not None:
            on_step(k + 1, losses[-1])
    return losses


def held_out_loss(model: GPT, vocab: Vocabulary, words: Sequence[str]) -> float:
    """Mean ``-log p`` per predicted token over ``words`` (no graph), as ``BigramModel.loss``.

    Weighted by tokens, not by words, so it compares with the bigram model's number.

    >>> vocab = Vocabulary("ab")
    >>> round(held_out_loss(GPT(len(vocab), seed=0), vocab, ["ab"]), 2)
    1.56
    """
    total, count = 0.0, 0
    sequences = _encode("held_out_loss", model, vocab, words)
    with no_grad():
        for tokens in sequences:
            n = min(model.block_size, len(tokens) - 1)
            total += model.loss(tokens).data * n
            count += n
    if not count:
        raise ValueError("held_out_loss: no words given")
    return total / count


def generate(model: GPT, vocab: Vocabulary, temperature: float = 0.5,
             rng: random.Random | int | None = None) -> str:
    """A new word: characters sampled one at a time after BOS, until BOS or ``block_size``.

    >>> vocab = Vocabulary("ab")
    >>> all(set(generate(GPT(3, seed=0), vocab, rng=s)) <= set("ab") for s in range(3))
    True
    """
    _check_vocabulary("generate", model, vocab)
    rng = make_rng(rng)
    token, ids = vocab.bos, []
    with no_grad():
        caches = model.new_caches()
        for position in range(model.block_size):
            token = sample_from_logits(model(token, position, caches), temperature, rng)
            if token == vocab.bos:
                break
            ids.append(token)
    return vocab.decode(ids)


def _check_vocabulary(owner: str, model: GPT, vocab: Vocabulary) -> None:
    if len(vocab) != model.vocab_size:
        raise ValueError(f"{owner}: the model is {model!r} but the vocabulary has {len(vocab)} "
                         f"tokens ({vocab.chars!r} and BOS); build it with GPT(len(vocab))")


def _encode(owner: str, model: GPT, vocab: Vocabulary, words: Sequence[str]) -> list[list[int]]:
    """Each word as tokens, after checking ``vocab`` fits ``model`` and ``words`` is a list."""
    _check_vocabulary(owner, model, vocab)
    if isinstance(words, str):
        raise TypeError(f"{owner}: words must be a list of words, got {describe(words)} "
                        f"(for one word, pass [{words!r}])")
    return [vocab.encode(word) for word in words]


if __name__ == "__main__":  # python -m nn.gpt: the command (nn/gpt_cli.py), by that name
    from nn.gpt_cli import main

    sys.exit(main(prog="python -m nn.gpt"))
