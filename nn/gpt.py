"""A character-level GPT of microgpt's size, trained on census first names: model, loop, command.

``GPT`` is microgpt's model built from ``nn.sequence``: token and position embeddings, RMSNorm,
one block of causal multi-head attention (run one position at a time over a key/value cache)
and a ReLU MLP, each with a residual connection, then a linear head giving the next
character's logits. With microgpt's sizes (``n_embd`` 16, 4 heads, 1 layer, block 16, no
biases, normalisation without weights) and 27 tokens it has 4,192 parameters.

``train`` is microgpt's loop: one name per step, the mean ``-log p`` of its next characters,
``nn.Adam`` with betas (0.85, 0.99) and a learning rate falling linearly to 0. The command
(``chainrule-gpt`` or ``python -m nn.gpt``) loads the names (``nn.corpus.load_names``; needs the
``[gpt]`` extra), sets a tenth aside, trains on the rest, compares the held-out loss with a
bigram count model's on the same names, prints sampled names, and saves and reloads the model
(``nn.save``/``nn.load``), checking the reloaded one scores the same::

    chainrule-gpt                     # 3,000 steps, 20 sampled names
    chainrule-gpt --steps 200 --json  # a short run; the last line is a JSON summary

Exit status: 0 trained; 2 bad arguments (a ``--save`` that cannot be written is found before
training); 1 the names package is missing; 130 interrupted by Ctrl-C, after saving the model as
it was after the last completed step when ``--save`` is given (as ``chainrule-train`` does).

>>> vocab = Vocabulary("abc")
>>> model = GPT(len(vocab), seed=0)
>>> losses = train(model, vocab, ["abc", "cab"], steps=2)
>>> len(losses), round(held_out_loss(model, vocab, ["abc"]), 1) > 0
(2, True)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import autograd
from autograd import Value, gc_paused, no_grad
from nn.cli import _integer, _number, check_save
from nn.corpus import BigramModel, Vocabulary, load_names, split
from nn.losses import cross_entropy
from nn.module import Module, _describe, _rng, _size
from nn.optim import Adam
from nn.sequence import (
    CausalSelfAttention,
    Embedding,
    KVCache,
    Linear,
    RMSNorm,
    sample_from_logits,
)
from nn.serialization import load, save

PROG = "chainrule-gpt"
STEPS = 3000  # microgpt runs 1,000; 3,000 (less than one pass over the names) learn clearly more
LR, BETAS = 0.01, (0.85, 0.99)  # microgpt's
INIT_STD = 0.08  # microgpt's: every weight from N(0, 0.08²)
HELD_OUT = 0.1


class Block(Module):
    """A transformer block as microgpt has it: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    The MLP is ``fc2(relu(fc1(x)))`` with a hidden size of ``4 * n_embd``; no biases.

    >>> block = Block(8, 2, seed=0)
    >>> len(block([0.5] * 8, KVCache())), len(block.parameters())
    (8, 768)
    """

    def __init__(self, n_embd: int, n_head: int, *,
                 seed: int | random.Random | None = None) -> None:
        rng = _rng(seed)
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
        self.vocab_size = _size("GPT", "vocab_size", vocab_size)
        self.block_size = _size("GPT", "block_size", block_size)
        self.n_embd, self.n_head = _size("GPT", "n_embd", n_embd), n_head
        self.n_layer = _size("GPT", "n_layer", n_layer)
        rng = _rng(seed)
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
            raise TypeError(f"{expected}, got {_describe(caches)}")
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

        Only the first ``block_size`` predictions count (microgpt's rule).

        >>> round(GPT(3, seed=0).loss([2, 0, 1, 2]).data, 4)
        1.558
        """
        n = min(self.block_size, len(tokens) - 1)
        if n < 1:
            raise ValueError(f"GPT.loss: needs at least 2 tokens, got {len(tokens)}")
        caches = self.new_caches()
        logits = [self(tokens[t], t, caches) for t in range(n)]
        return cross_entropy(logits, list(tokens[1:n + 1]))

    def __repr__(self) -> str:
        return (f"GPT(vocab_size={self.vocab_size}, block_size={self.block_size}, "
                f"n_embd={self.n_embd}, n_head={self.n_head}, n_layer={self.n_layer})")


def train(model: GPT, vocab: Vocabulary, words: Sequence[str], steps: int = STEPS,
          lr: float = LR, on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """``steps`` Adam steps, one word per step (``words[k % len(words)]``); returns the losses.

    The learning rate falls linearly from ``lr`` to 0 over the run (microgpt's schedule).
    ``on_step(step, loss)`` is called after each step. The cycle collector is paused during a
    step (``autograd.gc_paused``), as in ``nn.train``. A step is all-or-nothing for the
    parameters: on Ctrl-C (``KeyboardInterrupt``) or an error in the middle of one, they are put
    back as they were after the last completed step before the exception goes on.

    >>> vocab = Vocabulary("ab")
    >>> model = GPT(len(vocab), seed=0)
    >>> losses = train(model, vocab, ["ab", "ba", "aab"], steps=30, lr=0.05)
    >>> losses[-1] < losses[0]
    True
    """
    steps = _size("train", "steps", steps)
    sequences = _encode("train", model, vocab, words)
    if not sequences:
        raise ValueError("train: needs at least one word")
    params = model.parameters()
    optimizer = Adam(params, lr=lr, betas=BETAS, eps=1e-8)
    losses = []
    for k in range(steps):
        optimizer.lr = lr * (1.0 - k / steps)
        before = [p.data for p in params]
        try:
            with gc_paused():
                loss = model.loss(sequences[k % len(sequences)])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.data)
                del loss  # free the graph while the collector is still paused
        except BaseException:  # Ctrl-C or an error: undo a half-done update
            for p, x in zip(params, before):
                p.data = x
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
    rng = _rng(rng)
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
        raise TypeError(f"{owner}: words must be a list of words, got {_describe(words)} "
                        f"(for one word, pass [{words!r}])")
    return [vocab.encode(word) for word in words]


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command's argument parser (``chainrule-gpt --help``).

    >>> build_parser().parse_args(["--steps", "5"]).steps
    5
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train a character-level GPT of microgpt's size (4,192 parameters) on the "
                    "US-census first names, one name per step, and compare its held-out loss "
                    "with a bigram count model's.",
        epilog="Exit status: 0 trained; 1 the names package is missing; 2 bad arguments (a "
               "--save that cannot be written is found before training); 130 interrupted.")
    parser.add_argument("--steps", type=_integer(1), default=STEPS,
                        help=f"training steps, one name each (default: {STEPS})")
    parser.add_argument("--lr", type=_number(positive=True), default=LR,
                        help=f"initial learning rate, falling linearly to 0 (default: {LR})")
    parser.add_argument("--seed", type=_integer(0), default=0,
                        help="seeds the split, the initial weights and the samples (default: 0)")
    parser.add_argument("--samples", type=_integer(0), default=20,
                        help="names to sample after training (default: 20)")
    parser.add_argument("--temperature", type=_number(positive=True), default=0.5,
                        help="sampling temperature, > 0; lower is more conservative "
                             "(default: 0.5, microgpt's)")
    parser.add_argument("--save", metavar="PATH", help="save the trained model's state dict as "
                        "JSON (load it with nn.load and GPT(27).load_state_dict)")
    parser.add_argument("--json", action="store_true",
                        help="print only a one-line JSON summary")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    >>> main(["--steps", "2", "--samples", "1", "--json"])  # doctest: +ELLIPSIS
    {"status": "completed", "steps": 2, ...}
    0
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.save:
        check_save(parser, args.save)
    try:
        return _run(args, prog)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return 130


def _run(args: argparse.Namespace, prog: str) -> int:
    words = load_names()
    vocab = Vocabulary.from_words(words)
    train_words, test_words = split(words, HELD_OUT, seed=args.seed)
    bigram = BigramModel(vocab, train_words)
    model = GPT(len(vocab), seed=args.seed)
    if not args.json:
        print(f"{len(words)} names ({len(train_words)} to train on, {len(test_words)} held out), "
              f"{len(vocab)} tokens; {model}: {len(model.parameters()):,} parameters; "
              f"{args.steps} steps, Adam lr {args.lr:g}; engine: {autograd.implementation}",
              flush=True)
    start = time.perf_counter()
    completed: list[float] = []
    try:
        losses = _train_with_progress(model, vocab, train_words, args, completed)
    except KeyboardInterrupt:  # the parameters are those of the last completed step
        if args.save:
            save(model.state_dict(), args.save)
        note = (f"; saved the model after step {len(completed)} to {args.save}" if args.save
                else "")
        if args.json:
            print(json.dumps({"status": "interrupted", "steps": args.steps,
                              "steps_completed": len(completed), "seed": args.seed,
                              "lr": args.lr, "saved": args.save,
                              "engine": autograd.implementation}), flush=True)
        else:
            print(f"{prog}: interrupted after {len(completed)} of {args.steps} steps{note}",
                  file=sys.stderr, flush=True)
        return 130
    seconds = time.perf_counter() - start
    gpt_loss = held_out_loss(model, vocab, test_words)
    bigram_loss = bigram.loss(test_words)
    rng = random.Random(args.seed)
    samples = [generate(model, vocab, args.temperature, rng) for _ in range(args.samples)]
    reloaded_loss = _save_and_reload(model, vocab, test_words, args.save)
    if reloaded_loss != gpt_loss:
        raise AssertionError(f"the reloaded model's held-out loss {reloaded_loss} differs from "
                             f"the trained model's {gpt_loss}")
    tail = losses[-min(100, len(losses)):]
    summary: dict[str, Any] = {
        "status": "completed", "steps": args.steps, "seed": args.seed, "lr": args.lr,
        "parameters": len(model.parameters()), "names": len(words),
        "train_names": len(train_words), "held_out_names": len(test_words),
        "train_loss": round(sum(tail) / len(tail), 4), "held_out_loss": round(gpt_loss, 4),
        "bigram_held_out_loss": round(bigram_loss, 4), "seconds": round(seconds, 3),
        "engine": autograd.implementation, "temperature": args.temperature,
        "samples": samples, "saved": args.save, "reloaded_loss_equal": True,
    }
    if args.json:
        print(json.dumps(summary), flush=True)
        return 0
    print(f"trained in {seconds:.1f} s ({seconds / args.steps * 1000:.1f} ms per step); "
          f"training loss (mean of the last {len(tail)} steps) {summary['train_loss']:.4f}")
    print(f"held-out loss (nats per character): GPT {gpt_loss:.4f}, bigram {bigram_loss:.4f}")
    if samples:
        print(f"{len(samples)} sampled names (temperature {args.temperature:g}):")
        print("  " + ", ".join(name or "(empty)" for name in samples))
    where = f"saved to {args.save}" if args.save else "saved to a temporary file"
    print(f"{where}, reloaded with nn.load: same held-out loss, {reloaded_loss:.4f}", flush=True)
    return 0


def _train_with_progress(model: GPT, vocab: Vocabulary, words: list[str],
                         args: argparse.Namespace, completed: list[float]) -> list[float]:
    """``train`` with a tqdm bar on stderr (shown when stderr is a terminal); ``completed``
    collects the losses of the steps as they finish, for a report after Ctrl-C."""
    from nn._extra import require

    tqdm = require("tqdm", PROG).tqdm
    with tqdm(total=args.steps, desc="gpt", unit="step", file=sys.stderr, disable=None,
              leave=False) as bar:
        recent: list[float] = []

        def on_step(step: int, loss: float) -> None:
            completed.append(loss)
            recent.append(loss)
            if step % 10 == 0 or step == args.steps:
                bar.set_postfix({"loss": f"{sum(recent[-50:]) / len(recent[-50:]):.3f}"},
                                refresh=False)
            bar.update()

        return train(model, vocab, words, args.steps, args.lr, on_step)


def _save_and_reload(model: GPT, vocab: Vocabulary, words: list[str], path: str | None) -> float:
    """Save the state dict (to ``path``, or a temporary file), load it into a fresh model, and
    return that model's held-out loss."""
    with tempfile.TemporaryDirectory() as folder:
        target = path or os.path.join(folder, "gpt.json")
        save(model.state_dict(), target)
        fresh = GPT(model.vocab_size, model.block_size, model.n_embd, model.n_head,
                    model.n_layer)
        fresh.load_state_dict(load(target))
    return held_out_loss(fresh, vocab, words)


if __name__ == "__main__":
    sys.exit(main(prog="python -m nn.gpt"))
