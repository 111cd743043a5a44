"""Re-run the training of ``tiny_gpt.json`` and record its learning curves in ``tiny_gpt_curves.json``.

Notebook 07 plots how the shipped model learned. Measuring that takes a minute or more (the held-out
loss of 516 names, 21 times), too long for the notebook's test run, so it is measured once, here:

    python notebooks/tiny_gpt_curves.py

It trains exactly as ``chainrule-gpt --seed 0 --save notebooks/tiny_gpt.json`` does (``nn.gpt.train``,
same split, seed and schedule), and every ``EVERY`` steps measures two losses of the model as it is
at that step, with ``held_out_loss``: on the 516 held-out names, and on 516 names of the training
split that the run trains on. It stops with an error unless the trained model equals the shipped
``tiny_gpt.json``, parameter for parameter, so the curves are the shipped model's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nn
from nn.corpus import Vocabulary, load_names, split
from nn.gpt import GPT, HELD_OUT, STEPS, held_out_loss, train

HERE = Path(__file__).resolve().parent
EVERY = 150  # steps between two measurements: 21 points over 3,000 steps


def main() -> int:
    words = load_names()
    vocab = Vocabulary.from_words(words)
    train_words, test_words = split(words, HELD_OUT, seed=0)
    trained_on = train_words[:STEPS]  # one name per step, in order
    measured_train = trained_on[::round(STEPS / len(test_words))][:len(test_words)]
    model = GPT(len(vocab), seed=0)
    points: list[dict[str, float]] = []

    def measure(step: int) -> None:
        points.append({"step": step,
                       "held_out": held_out_loss(model, vocab, test_words),
                       "train": held_out_loss(model, vocab, measured_train)})
        print(f"step {step}: held out {points[-1]['held_out']:.4f}, "
              f"train {points[-1]['train']:.4f}", flush=True)

    def on_step(step: int, loss: float) -> None:
        if step % EVERY == 0:
            measure(step)

    measure(0)
    losses = train(model, vocab, train_words, STEPS, on_step=on_step)
    shipped = nn.load(HERE / "tiny_gpt.json")
    if model.state_dict() != shipped:
        print("the trained model differs from tiny_gpt.json: nothing written", file=sys.stderr)
        return 1
    curves = {
        "made_by": "python notebooks/tiny_gpt_curves.py",
        "steps": STEPS, "every": EVERY,
        "measured_train_names": measured_train,
        "points": points,
        "train_losses": [round(loss, 6) for loss in losses],  # one name's loss per step
    }
    (HERE / "tiny_gpt_curves.json").write_text(json.dumps(curves) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'tiny_gpt_curves.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
