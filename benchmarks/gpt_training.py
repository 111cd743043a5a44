"""B6: ``chainrule-gpt --compile`` against ``chainrule-gpt``: the command's training, timed.

``train`` runs what the command runs (``nn/gpt_cli.py``): the census names, the same split and
seed, ``nn.gpt.GPT`` trained by ``nn.gpt.train`` one name per step, then the held-out loss. It
times every step (from ``train``'s ``on_step`` calls), and with ``compile=True`` it also
counts the recordings ``autograd.compile`` makes and marks the steps that made one.
``recording_bytes`` measures what one recording of a GPT step holds (tracemalloc), per
instruction of its tape.

>>> result = train(steps=2, compile=True, held_out=10)
>>> result["recordings"], len(result["times"]), result["recorded"]
(2, 2, [True, True])
"""

from __future__ import annotations

import contextlib
import gc
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

SEED = 0  # the command's default --seed


def _corpus() -> tuple[Any, list[str], list[str]]:
    from nn.corpus import Vocabulary, load_names, split
    from nn.gpt_cli import HELD_OUT

    words = load_names()
    vocab = Vocabulary.from_words(words)
    train_words, test_words = split(words, HELD_OUT, seed=SEED)
    return vocab, train_words, test_words


@contextlib.contextmanager
def _counting_compiles() -> Iterator[list[Any]]:
    """Every function ``autograd.compile`` makes meanwhile, in a list (to count recordings)."""
    import autograd

    made: list[Any] = []
    real = autograd.compile

    def counting(function: Any, **options: Any) -> Any:
        compiled = real(function, **options)
        made.append(compiled)
        return compiled

    autograd.compile = counting
    try:
        yield made
    finally:
        autograd.compile = real


def train(steps: int, compile: bool, held_out: int | None = None) -> dict[str, Any]:
    """``steps`` of the command's training: per-step seconds, losses, held-out loss (over the
    first ``held_out`` held-out names; all of them by default), recordings."""
    from nn.gpt import GPT, held_out_loss
    from nn.gpt import train as train_gpt

    vocab, train_words, test_words = _corpus()
    model = GPT(len(vocab), seed=SEED)
    stamps: list[float] = []
    recorded: list[bool] = []
    with _counting_compiles() as made:
        def on_step(step: int, loss: float) -> None:
            stamps.append(time.perf_counter())
            count = sum(len(c.recordings) for c in made)
            recorded.append(count > sum(recorded))

        started = time.perf_counter()
        losses = train_gpt(model, vocab, train_words, steps, on_step=on_step, compile=compile)
    times = [b - a for a, b in zip([started, *stamps], stamps)]
    return {"times": times, "seconds": stamps[-1] - started, "losses": losses[-5:],
            "held_out_loss": held_out_loss(model, vocab, test_words[:held_out]),
            "recordings": sum(recorded), "recorded": recorded}


def recording_bytes() -> dict[str, float]:
    """Bytes one recording of a GPT step holds (tape and program; the eager graph it was
    recorded from freed), per instruction, for the longest name length (16 predictions).

    >>> result = recording_bytes()
    >>> result["instructions"] > 1000 and result["bytes_per_instruction"] > 0
    True
    """
    import autograd
    from nn.gpt import GPT

    vocab, train_words, _ = _corpus()
    model = GPT(len(vocab), seed=SEED)
    tokens = vocab.encode(max(train_words, key=len))[:model.block_size + 1]
    compiled = autograd.compile(model.loss)
    gc.collect()
    tracemalloc.start()
    try:
        result = compiled(tokens)
        del result
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    (recording,) = compiled.recordings.values()
    instructions = len(recording.tape.codes)
    return {"instructions": instructions, "bytes": held,
            "bytes_per_instruction": held / instructions}
