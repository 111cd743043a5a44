"""chainrule's benchmarks: side-by-side timings against micrograd, PyTorch and a textbook engine.

Run it with ``./dev.sh bench`` or ``python -m benchmarks.run --help``. Each measurement runs in a
fresh subprocess (``benchmarks.worker``); ``benchmarks.run`` alternates the engines, takes medians
and prints (``--write``: stores) the table in ``benchmarks/RESULTS.md``.
"""
