"""chainrule's benchmarks: side-by-side timings against micrograd, microgpt, PyTorch and floats.

Run them with ``./dev.sh bench`` or ``python -m benchmarks.run --help``. The reading path:
``engines`` (the registry of engines) → ``steps`` (each workload's training step, built on
``mlp``, ``gpt`` and ``data``) → ``worker`` (one measurement in a fresh process) → ``run``
(alternates the workers) → ``report`` (medians, ratios, Markdown, ``benchmarks/RESULTS.md``).
``profiling`` shows where one step's time goes.
"""
