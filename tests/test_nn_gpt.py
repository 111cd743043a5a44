"""nn.corpus and nn.gpt: the names, the bigram baseline by hand, the GPT against microgpt's own
code, its gradients, training, checkpoints, and the chainrule-gpt command."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nn.gpt
import nn.gpt_cli
from autograd import Value, gradcheck
from autograd._install import install_command
from benchmarks.gpt import FLOATS, MicroGPT
from nn import load, save
from nn.corpus import BigramModel, Vocabulary, load_names, split
from nn.gpt import GPT, generate, held_out_loss, train
from nn.gpt_cli import build_parser, main
from tests.conftest import without

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["--steps", "5", "--samples", "3"]


# --- the names -----------------------------------------------------------------------------

def test_load_names():
    names = load_names()
    assert 5000 <= len(names) <= 5500
    assert len(set(names)) == len(names)
    assert all(name.isalpha() and name.islower() and name.isascii() for name in names)
    assert names[:2] == ["mary", "patricia"] and "james" in names
    assert load_names() == names
    assert len(Vocabulary.from_words(names)) == 27


def test_without_the_names_package_the_error_names_the_gpt_extra(tmp_path):
    hint = f"part of chainrule's [gpt] extra: {install_command('gpt')}"
    env = without(tmp_path, "names")
    run = subprocess.run([sys.executable, "-c", "import nn.corpus; nn.corpus.load_names()"],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 1 and f"needs names, {hint}" in run.stderr
    run = subprocess.run([sys.executable, "-m", "nn.gpt", *SHORT], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr and hint in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["-m", "nn.gpt", *SHORT], [
    "-c", "import sys; sys.argv[0] = '/venv/bin/chainrule-gpt'; "
          "from nn.gpt_cli import main; main()"]])
def test_the_gpt_command_without_numpy_names_the_gpt_extra(tmp_path, command):
    run = subprocess.run([sys.executable, *command], env=without(tmp_path, "numpy"),
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip() == ("nn needs numpy, part of chainrule's [gpt] extra: "
                                  f"{install_command('gpt')}")


def test_vocabulary():
    vocab = Vocabulary.from_words(["cab", "bad"])
    assert (vocab.chars, vocab.bos, len(vocab)) == ("abcd", 4, 5)
    assert vocab.encode("dab") == [4, 3, 0, 1, 4] and vocab.decode([4, 3, 0, 1, 4]) == "dab"
    assert vocab.encode("") == [4, 4]
    with pytest.raises(ValueError, match="'e', which is not in the vocabulary 'abcd'"):
        vocab.encode("bed")
    with pytest.raises(ValueError, match="repeat"):
        Vocabulary("aa")
    with pytest.raises(ValueError, match="non-empty"):
        Vocabulary("")


def test_split_is_seeded_and_disjoint():
    words = [f"w{i}" for i in range(100)]
    train_words, test_words = split(words, 0.1, seed=3)
    assert len(test_words) == 10 and sorted(train_words + test_words) == sorted(words)
    assert split(words, 0.1, seed=3) == (train_words, test_words)
    assert split(words, 0.1, seed=4) != (train_words, test_words)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            split(words, bad)
    with pytest.raises(ValueError, match="at least 2 words"):
        split(["a"], 0.5)


def test_bigram_loss_by_hand():
    # vocabulary a, b and BOS (index 2); training words "ab", "a": pairs
    # BOS→a twice, a→b once, b→BOS once, a→BOS once. Add-one over 3 next tokens:
    # p(a|BOS) = 3/5, p(b|a) = 2/5, p(BOS|a) = 2/5, p(BOS|b) = 2/4, p(a|b) = 1/4
    model = BigramModel(Vocabulary("ab"), ["ab", "a"])
    assert model.counts == [[0, 1, 1], [0, 0, 1], [2, 0, 0]]
    # held out "ba": BOS→b (1/5), b→a (1/4), a→BOS (2/5): three targets
    expected = -(math.log(1 / 5) + math.log(1 / 4) + math.log(2 / 5)) / 3
    assert model.loss(["ba"]) == pytest.approx(expected, rel=1e-12)
    # two words: the mean over all five targets, not the mean of the two words' means
    both = -(math.log(1 / 5) + math.log(1 / 4) + math.log(2 / 5)
             + math.log(3 / 5) + math.log(2 / 5)) / 5
    assert model.loss(["ba", "a"]) == pytest.approx(both, rel=1e-12)
    assert sum(model.probability(0, j) for j in range(3)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no words"):
        model.loss([])


# --- the model -----------------------------------------------------------------------------

DOCS = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "charlotte", "amelia"]


def microgpt_twin(model: GPT) -> MicroGPT:
    """microgpt's own code (benchmarks/gpt.py) on floats, holding ``model``'s weights."""
    twin = MicroGPT(FLOATS, DOCS)
    block = model.blocks[0]
    weights = {"wte": model.wte.weight, "wpe": model.wpe.weight,
               "lm_head": model.lm_head.weight,
               "layer0.attn_wq": block.attn.q_proj.weight,
               "layer0.attn_wk": block.attn.k_proj.weight,
               "layer0.attn_wv": block.attn.v_proj.weight,
               "layer0.attn_wo": block.attn.out_proj.weight,
               "layer0.mlp_fc1": block.fc1.weight, "layer0.mlp_fc2": block.fc2.weight}
    assert set(weights) == set(twin.state_dict)
    for name, matrix in weights.items():
        twin.state_dict[name] = [[p.data for p in row] for row in matrix]
    return twin


def test_the_gpt_is_microgpts_model():
    vocab = Vocabulary.from_words(DOCS)
    model = GPT(len(vocab), seed=0)
    assert len(model.parameters()) == 4192 - (27 - len(vocab)) * 2 * 16
    twin = microgpt_twin(model)
    assert twin.uchars == list(vocab.chars) and twin.bos == vocab.bos
    for step, word in enumerate(DOCS):
        assert model.loss(vocab.encode(word)).data == pytest.approx(twin.loss(step),
                                                                      rel=1e-12)


def test_gpt_gradients():
    vocab = Vocabulary("ab")
    model = GPT(len(vocab), block_size=4, n_embd=4, n_head=2, seed=1)
    params = model.parameters()
    tokens = vocab.encode("aba")  # three predictions, the cache grows to 3

    def loss(*values):
        stand_in = copy.deepcopy(model, {id(p): v for p, v in zip(params, values)})
        assert all(a is b for a, b in zip(stand_in.parameters(), values))
        return stand_in.loss(tokens)

    assert gradcheck(loss, [p.data for p in params])


def test_gpt_loss_of_value_tokens_is_the_loss_of_ints():
    """``autograd.compile`` passes the tokens as Values: the loss and every gradient are those
    of the int tokens, bit for bit (both pick the target logits with ``autograd.take``)."""
    vocab = Vocabulary.from_words(DOCS)
    model = GPT(len(vocab), n_embd=8, n_head=2, seed=0)
    params = model.parameters()
    tokens = vocab.encode("isabella")  # repeated letters: rows used at several positions
    results = []
    for given in (tokens, [Value(t) for t in tokens]):
        model.zero_grad()
        loss = model.loss(given)
        loss.backward()
        results.append((loss.data, [p.grad for p in params]))
    assert results[0] == results[1]


def test_compiled_training_is_the_eager_one():
    """``train(compile=True)``: one recording per word length, the same losses and the same
    model, bit for bit."""
    vocab = Vocabulary.from_words(DOCS)
    words = [*DOCS, "tom", "ella", "sam", "milo"]  # lengths 3 to 9, most more than once
    losses, states = [], []
    for compile in (False, True):
        model = GPT(len(vocab), n_embd=8, n_head=2, seed=0)
        losses.append(train(model, vocab, words, steps=len(words) + 2, compile=compile))
        states.append(model.state_dict())
    assert losses[0] == losses[1] and states[0] == states[1]


def test_gpt_errors_and_truncation():
    model = GPT(3, block_size=2, n_embd=4, n_head=2, seed=0)
    with pytest.raises(ValueError, match="position must be an int from 0 to 1"):
        model(0, 2, model.new_caches())
    with pytest.raises(ValueError, match="at least 2 tokens"):
        model.loss([2])
    with pytest.raises(ValueError, match="divisible"):
        GPT(3, n_embd=6, n_head=4)
    # only block_size predictions count: the tail beyond it changes nothing
    assert model.loss([2, 0, 1, 2]).data == model.loss([2, 0, 1, 0, 0]).data


def test_compile_flag_gives_the_same_model(tmp_path, capsys, monkeypatch):
    names = load_names()[:60]  # a short held-out list keeps the pure-Python run quick
    monkeypatch.setattr(nn.gpt_cli, "load_names", lambda: names)
    summaries = []
    for flag in ([], ["--compile"]):
        path = tmp_path / f"gpt{len(flag)}.json"
        assert nn.gpt_cli.main([*SHORT, *flag, "--json", "--save", str(path)]) == 0
        summaries.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert [s["compile"] for s in summaries] == [False, True]
    for key in ("train_loss", "held_out_loss", "samples"):
        assert summaries[0][key] == summaries[1][key]
    assert (tmp_path / "gpt0.json").read_bytes() == (tmp_path / "gpt1.json").read_bytes()


def test_a_few_steps_reduce_the_loss():
    vocab = Vocabulary.from_words(DOCS)
    model = GPT(len(vocab), seed=0)
    before = held_out_loss(model, vocab, DOCS)
    losses = train(model, vocab, DOCS, steps=24)
    assert len(losses) == 24
    assert held_out_loss(model, vocab, DOCS) < before - 0.5


def test_save_and_reload_give_the_same_model(tmp_path):
    vocab = Vocabulary.from_words(DOCS)
    model = GPT(len(vocab), seed=0)
    train(model, vocab, DOCS, steps=3)
    save(model.state_dict(), tmp_path / "gpt.json")
    fresh = GPT(len(vocab), seed=1)
    assert held_out_loss(fresh, vocab, DOCS) != held_out_loss(model, vocab, DOCS)
    fresh.load_state_dict(load(tmp_path / "gpt.json"))
    assert fresh.state_dict() == model.state_dict()
    assert held_out_loss(fresh, vocab, DOCS) == held_out_loss(model, vocab, DOCS)
    assert generate(fresh, vocab, rng=5) == generate(model, vocab, rng=5)



CHECKPOINT = ROOT / "notebooks" / "tiny_gpt.json"  # notebook 07's; not part of the package


def test_the_shipped_checkpoint_loads_and_beats_the_bigram_model():
    """notebooks/tiny_gpt.json (``chainrule-gpt --seed 0 --save notebooks/tiny_gpt.json``) fits
    the default GPT exactly and predicts held-out names better than the bigram model. Scored on
    the first 100 held-out names (the notebook scores all 516; that takes ~4 s pure Python)."""
    state = load(CHECKPOINT)
    assert CHECKPOINT.stat().st_size < 200_000
    words = load_names()
    vocab = Vocabulary.from_words(words)
    train_words, test_words = split(words, 0.1, seed=0)
    model = GPT(len(vocab))
    model.load_state_dict(state)  # strict: no entry missing, extra or of the wrong size
    assert model.state_dict() == state
    some = test_words[:100]
    gpt_loss = held_out_loss(model, vocab, some)
    bigram_loss = BigramModel(vocab, train_words).loss(some)
    assert gpt_loss < bigram_loss - 0.1, (gpt_loss, bigram_loss)


# --- the command ---------------------------------------------------------------------------

def test_the_command_json_summary(tmp_path, capsys):
    path = tmp_path / "gpt.json"
    assert main([*SHORT, "--json", "--save", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["status"] == "completed" and summary["steps"] == 5
    assert summary["parameters"] == 4192 and len(summary["samples"]) == 3
    assert summary["train_names"] + summary["held_out_names"] == summary["names"]
    assert summary["reloaded_loss_equal"] and summary["saved"] == str(path)
    assert 2.0 < summary["bigram_held_out_loss"] < summary["held_out_loss"] < 3.5
    GPT(27).load_state_dict(load(path))  # the file fits the model (main compared the losses)


def test_the_command_as_a_module_prints_its_report():
    run = subprocess.run([sys.executable, "-m", "nn.gpt", *SHORT], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    out = run.stdout
    assert "GPT(vocab_size=27" in out and "4,192 parameters" in out
    assert "held-out loss (nats per character): GPT" in out and "bigram" in out
    assert "3 sampled names" in out and "same held-out loss" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "--steps: must be an int >= 1, got 0"),
    (["--temperature", "0"], "--temperature: must be a finite number > 0, got 0"),
    (["--temperature", "nan"], "--temperature: must be a finite number > 0"),
    (["--lr", "-1"], "--lr: must be a finite number > 0"),
    (["--samples", "x"], "--samples: must be an int >= 0, got 'x'"),
])
def test_bad_arguments_exit_2_with_a_message(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_save_path_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*SHORT, "--save", str(tmp_path)])  # a folder
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--save: cannot save to" in err and "it is a folder" in err


def test_the_script_and_the_extra_are_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["chainrule-gpt"] == "nn.gpt_cli:main"
    extras = project["optional-dependencies"]
    assert any(d.startswith("names") for d in extras["gpt"])
    assert "gpt" in extras["test"][0]
    assert build_parser().parse_args([]).steps == 3000


def test_gpt_refuses_caches_that_do_not_match_the_position():
    """Feeding position 3 to fresh caches would attend over one position with the embedding of
    the fourth: a silent wrong answer. The caches must hold exactly ``position`` positions."""
    model = GPT(3, block_size=4, n_embd=4, n_head=2, seed=0)
    with pytest.raises(ValueError, match=r"position 3, but the caches hold 0 positions"):
        model(0, 3, model.new_caches())
    caches = model.new_caches()
    model(0, 0, caches)
    with pytest.raises(ValueError, match=r"position 0, but the caches hold 1 position"):
        model(1, 0, caches)
    with pytest.raises(ValueError, match=r"caches must be 1 KVCache \(one per layer"):
        model(0, 0, [])
    with pytest.raises(TypeError, match=r"caches must be 1 KVCache \(one per layer"):
        model(0, 0, None)


def test_a_vocabulary_that_does_not_fit_the_model_is_refused():
    vocab = Vocabulary("ab")  # 3 tokens
    model = GPT(5, block_size=4, n_embd=4, n_head=2, seed=0)
    message = r"the model is GPT\(vocab_size=5.*\) but the vocabulary has 3 tokens"
    with pytest.raises(ValueError, match="generate: " + message):
        generate(model, vocab, rng=0)
    with pytest.raises(ValueError, match="train: " + message):
        train(model, vocab, ["ab"], steps=1)
    with pytest.raises(ValueError, match="held_out_loss: " + message):
        held_out_loss(model, vocab, ["ab"])


def test_words_must_be_a_list_of_words_not_one_string():
    vocab = Vocabulary("ab")
    model = GPT(3, block_size=4, n_embd=4, n_head=2, seed=0)
    for call in (lambda: train(model, vocab, "ab", steps=1),
                 lambda: held_out_loss(model, vocab, "ab")):
        with pytest.raises(TypeError, match=r"words must be a list of words, got str 'ab' \(for "
                                            r"one word, pass \['ab'\]\)"):
            call()


def test_decode_refuses_ids_outside_the_vocabulary():
    vocab = Vocabulary("ab")
    for bad in (3, -1):
        with pytest.raises(ValueError, match=rf"Vocabulary.decode: id {bad} is not a token id "
                                             r"\(0 to 2\)"):
            vocab.decode([0, bad])


def test_a_checkpoint_of_another_size_gives_a_short_error_that_says_so():
    """Loading the 16-wide checkpoint into an 8-wide GPT: hundreds of entries do not fit; the
    error names the first few of each kind and counts the rest (it was 11 kB long)."""
    state = GPT(5, block_size=4, n_embd=16, n_head=4, seed=0).state_dict()
    with pytest.raises(ValueError) as error:
        GPT(5, block_size=4, n_embd=8, n_head=4).load_state_dict(state)
    message = str(error.value)
    assert len(message) < 1500, len(message)
    assert "unexpected 'blocks.0.attn.q_proj.weight.8'" in message
    assert re.search(r"and \d+ more unexpected", message), message
    assert "'wte.weight.0' has 16 value(s) but the parameter has 8" in message
    assert re.search(r"and \d+ more problems", message), message


# --- Ctrl-C (issue 20: chainrule-gpt ignored --save on Ctrl-C) ---------------------------------

def interrupted_adam(after: int):
    """An Adam whose step number ``after + 1`` updates the parameters, then is interrupted."""
    class Interrupted(nn.gpt.Adam):
        def step(self):
            super().step()
            if self.steps > after:
                raise KeyboardInterrupt

    return Interrupted


def test_an_interrupted_step_is_undone(monkeypatch):
    vocab = Vocabulary("ab")
    words = ["ab", "ba", "aab"]
    three = GPT(len(vocab), seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(three, vocab, words, steps=50, on_step=lambda k, loss: k == 3 and stop())
    monkeypatch.setattr(nn.gpt, "Adam", interrupted_adam(3))
    model = GPT(len(vocab), seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(model, vocab, words, steps=50)
    assert model.state_dict() == three.state_dict()  # the 4th step's update was put back


def stop():
    raise KeyboardInterrupt


def test_ctrl_c_saves_the_last_completed_step(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(nn.gpt, "Adam", interrupted_adam(3))
    path = tmp_path / "gpt.json"
    assert main([*SHORT, "--steps", "50", "--json", "--save", str(path)]) == 130
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["steps_completed"] == 3
    assert summary["saved"] == str(path)
    assert main([*SHORT, "--steps", "50", "--save", str(path)]) == 130
    assert (f"interrupted after 3 of 50 steps; saved the model after step 3 to {path}"
            in capsys.readouterr().err)
    monkeypatch.undo()  # the same run, stopped after 3 steps, gives the saved model
    words = load_names()
    vocab = Vocabulary.from_words(words)
    model = GPT(len(vocab), seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(model, vocab, split(words, 0.1, seed=0)[0], 50,
              on_step=lambda k, loss: k == 3 and stop())
    assert load(path) == model.state_dict()


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_sigint_exits_130_cleanly_and_saves(tmp_path):
    saved = tmp_path / "gpt.json"
    process = subprocess.Popen([sys.executable, "-m", "nn.gpt", "--steps", "100000", "--save",
                                str(saved)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.readline()  # the header: training has begun
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()  # a hung command is not left running after the test
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted after" in err and str(saved) in err
    GPT(27).load_state_dict(load(saved))
