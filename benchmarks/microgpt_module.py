"""B5 as microgpt runs it: its training file with the loop and Adam at module level.

``benchmarks.gpt`` runs microgpt's step inside methods (local variables); microgpt itself is one
file whose training loop and Adam update run at module level (global variables, a slower kind
of name lookup for the interpreter). This file is that shape, microgpt's code in its order
(parameters, ``linear``/``softmax``/``rmsnorm``/``gpt``, then the loop), and the only thing that
changes between runs is which ``Value`` it imports:

    python -m benchmarks.microgpt_module run microgpt 15     # one process: ms per step, losses
    python -m benchmarks.microgpt_module compare --steps 15 --rounds 3

``compare`` alternates fresh processes of both ``Value`` classes and prints medians of the
per-step times (steps after the first), their ratio, and whether the losses are the same.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys


def run(which: str, num_steps: int) -> dict:
    """microgpt's training run, module-level style, with ``which`` Value: timings and losses.

    >>> result = run("chainrule", 1)
    >>> result["value"], len(result["ms"]), round(result["losses"][0], 6)
    ('chainrule', 1, 3.561733)
    """
    code = TRAINING.replace("NUM_STEPS_HERE", str(num_steps))
    namespace = {"__name__": "__microgpt__", "WHICH": which}
    exec(compile(code, "<microgpt>", "exec"), namespace)  # module level: globals, as microgpt
    return {"value": which, "ms": namespace["step_ms"], "losses": namespace["losses"]}


TRAINING = '''
import math, random, time
if WHICH == "chainrule":
    from autograd import Value
else:
    from benchmarks.reference.microgpt import Value
from benchmarks.data import make_names

random.seed(42)
docs = make_names()
uchars = sorted(set(''.join(docs)))
BOS = len(uchars)
vocab_size = len(uchars) + 1
n_embd, n_head, n_layer, block_size = 16, 4, 1, 16
head_dim = n_embd // n_head
matrix = lambda nout, nin, std=0.08: [[Value(random.gauss(0, std)) for _ in range(nin)]
                                      for _ in range(nout)]
state_dict = {'wte': matrix(vocab_size, n_embd), 'wpe': matrix(block_size, n_embd),
              'lm_head': matrix(vocab_size, n_embd)}
for i in range(n_layer):
    state_dict[f'layer{i}.attn_wq'] = matrix(n_embd, n_embd)
    state_dict[f'layer{i}.attn_wk'] = matrix(n_embd, n_embd)
    state_dict[f'layer{i}.attn_wv'] = matrix(n_embd, n_embd)
    state_dict[f'layer{i}.attn_wo'] = matrix(n_embd, n_embd)
    state_dict[f'layer{i}.mlp_fc1'] = matrix(4 * n_embd, n_embd)
    state_dict[f'layer{i}.mlp_fc2'] = matrix(n_embd, 4 * n_embd)
params = [p for mat in state_dict.values() for row in mat for p in row]

def linear(x, w):
    return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]

def softmax(logits):
    max_val = max(val.data for val in logits)
    exps = [(val - max_val).exp() for val in logits]
    total = sum(exps)
    return [e / total for e in exps]

def rmsnorm(x):
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]

def gpt(token_id, pos_id, keys, values):
    tok_emb = state_dict['wte'][token_id]
    pos_emb = state_dict['wpe'][pos_id]
    x = [t + p for t, p in zip(tok_emb, pos_emb)]
    x = rmsnorm(x)
    for li in range(n_layer):
        x_residual = x
        x = rmsnorm(x)
        q = linear(x, state_dict[f'layer{li}.attn_wq'])
        k = linear(x, state_dict[f'layer{li}.attn_wk'])
        v = linear(x, state_dict[f'layer{li}.attn_wv'])
        keys[li].append(k)
        values[li].append(v)
        x_attn = []
        for h in range(n_head):
            hs = h * head_dim
            q_h = q[hs:hs+head_dim]
            k_h = [ki[hs:hs+head_dim] for ki in keys[li]]
            v_h = [vi[hs:hs+head_dim] for vi in values[li]]
            attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(head_dim)) / head_dim**0.5
                           for t in range(len(k_h))]
            attn_weights = softmax(attn_logits)
            head_out = [sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h)))
                        for j in range(head_dim)]
            x_attn.extend(head_out)
        x = linear(x_attn, state_dict[f'layer{li}.attn_wo'])
        x = [a + b for a, b in zip(x, x_residual)]
        x_residual = x
        x = rmsnorm(x)
        x = linear(x, state_dict[f'layer{li}.mlp_fc1'])
        x = [xi.relu() for xi in x]
        x = linear(x, state_dict[f'layer{li}.mlp_fc2'])
        x = [a + b for a, b in zip(x, x_residual)]
    logits = linear(x, state_dict['lm_head'])
    return logits

learning_rate, beta1, beta2, eps_adam = 0.01, 0.85, 0.99, 1e-8
m = [0.0] * len(params)
v = [0.0] * len(params)
num_steps = NUM_STEPS_HERE
step_ms, losses = [], []
for step in range(num_steps):
    start = time.perf_counter()
    doc = docs[step % len(docs)]
    tokens = [BOS] + [uchars.index(ch) for ch in doc] + [BOS]
    n = min(block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    step_losses = []
    for pos_id in range(n):
        token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
        logits = gpt(token_id, pos_id, keys, values)
        probs = softmax(logits)
        loss_t = -probs[target_id].log()
        step_losses.append(loss_t)
    loss = (1 / n) * sum(step_losses)
    loss.backward()
    lr_t = learning_rate * (1 - step / 1000)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * p.grad ** 2
        m_hat = m[i] / (1 - beta1 ** (step + 1))
        v_hat = v[i] / (1 - beta2 ** (step + 1))
        p.data -= lr_t * m_hat / (v_hat ** 0.5 + eps_adam)
        p.grad = 0
    losses.append(loss.data)
    del loss, step_losses, logits, probs, loss_t, keys, values
    step_ms.append((time.perf_counter() - start) * 1000)
'''


def compare(steps: int, rounds: int) -> dict:
    """Both ``Value`` classes in alternated fresh processes: medians, ratio, same losses.

    ``compare(15, 3)["ratio"]`` is how many times faster chainrule's step is (microgpt's
    time over chainrule's); ``["same_losses"]`` whether the two training runs agree exactly.
    """
    runs: dict[str, list[dict]] = {"microgpt": [], "chainrule": []}
    for r in range(rounds):
        order = ["microgpt", "chainrule"] if r % 2 == 0 else ["chainrule", "microgpt"]
        for which in order:
            done = subprocess.run([sys.executable, "-m", "benchmarks.microgpt_module", "run",
                                   which, str(steps)], capture_output=True, text=True, check=True)
            runs[which].append(json.loads(done.stdout))
    medians = {which: statistics.median(ms for run in found for ms in run["ms"][1:])
               for which, found in runs.items()}
    return {"steps": steps, "rounds": rounds, "ms_per_step": medians,
            "ratio": medians["microgpt"] / medians["chainrule"],
            "same_losses": runs["microgpt"][0]["losses"] == runs["chainrule"][0]["losses"],
            "last_loss": {w: found[0]["losses"][-1] for w, found in runs.items()}}


def main(argv: list[str]) -> None:
    """The command line (see the module docstring)."""
    if argv[:1] == ["run"]:
        print(json.dumps(run(argv[1], int(argv[2]))))
        return
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 15
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    print(json.dumps(compare(steps, rounds), indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
