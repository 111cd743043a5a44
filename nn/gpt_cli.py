"""The GPT's command, ``chainrule-gpt`` (or ``python -m nn gpt``, ``python -m nn.gpt``).

It loads the census names (``nn.corpus.load_names``; needs the ``[gpt]`` extra), sets a tenth
aside, trains ``nn.gpt.GPT`` on the rest with ``nn.gpt.train``, compares the held-out loss with
a bigram count model's on the same names, prints sampled names, and saves and reloads the
model (``nn.save``/``nn.load``), checking the reloaded one scores the same::

    chainrule-gpt                     # 3,000 steps, 20 sampled names
    chainrule-gpt --steps 200 --json  # a short run; the last line is a JSON summary
    chainrule-gpt --compile           # one recording per name length, replayed: faster

Exit status: 0 trained; 2 bad arguments (a ``--save`` that cannot be written is found before
training); 1 the names package is missing; 130 interrupted by Ctrl-C, after saving the model as
it was after the last completed step when ``--save`` is given (as ``chainrule-train`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import autograd
from nn.corpus import BigramModel, Vocabulary, load_names, split
from nn.gpt import GPT, LR, STEPS, generate, held_out_loss, train
from nn.serialization import load, save
from nn.validation import check_save_argument, int_argument, number_argument

PROG = "chainrule-gpt"
HELD_OUT = 0.1
"""The share of the names set aside to measure the held-out loss."""


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
    parser.add_argument("--steps", type=int_argument(1), default=STEPS,
                        help=f"training steps, one name each (default: {STEPS})")
    parser.add_argument("--lr", type=number_argument(positive=True), default=LR,
                        help=f"initial learning rate, falling linearly to 0 (default: {LR})")
    parser.add_argument("--seed", type=int_argument(0), default=0,
                        help="seeds the split, the initial weights and the samples (default: 0)")
    parser.add_argument("--samples", type=int_argument(0), default=20,
                        help="names to sample after training (default: 20)")
    parser.add_argument("--temperature", type=number_argument(positive=True), default=0.5,
                        help="sampling temperature, > 0; lower is more conservative "
                             "(default: 0.5, microgpt's)")
    parser.add_argument("--save", metavar="PATH", help="save the trained model's state dict as "
                        "JSON (load it with nn.load and GPT(27).load_state_dict)")
    parser.add_argument("--compile", action="store_true",
                        help="record the training step once per name length and replay it for "
                             "the other names of that length (autograd.compile): the same "
                             "losses and model, bit for bit, faster")
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
        check_save_argument(parser, args.save)
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
              f"{args.steps} steps, Adam lr {args.lr:g}; engine: {autograd.implementation}"
              f"{', compiled' if args.compile else ''}", flush=True)
    start = time.perf_counter()
    completed: list[float] = []
    try:
        losses = _train_with_progress(model, vocab, train_words, args, completed, prog)
    except KeyboardInterrupt:  # the parameters are those of the last completed step
        if args.save:
            save(model.state_dict(), args.save)
        note = (f"; saved the model after step {len(completed)} to {args.save}" if args.save
                else "")
        if args.json:
            print(json.dumps({"status": "interrupted", "steps": args.steps,
                              "steps_completed": len(completed), "seed": args.seed,
                              "lr": args.lr, "saved": args.save,
                              "engine": autograd.implementation,
                              "compile": args.compile}), flush=True)
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
        "engine": autograd.implementation, "compile": args.compile,
        "temperature": args.temperature,
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
                         args: argparse.Namespace, completed: list[float],
                         prog: str = PROG) -> list[float]:
    """``train`` with a tqdm bar on stderr (shown when stderr is a terminal); ``completed``
    collects the losses of the steps as they finish, for a report after Ctrl-C."""
    from nn._extra import require

    tqdm = require("tqdm", prog).tqdm
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

        return train(model, vocab, words, args.steps, args.lr, on_step, compile=args.compile)


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
    sys.exit(main(prog="python -m nn.gpt_cli"))
