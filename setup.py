"""Builds the compiled core (autograd/_core.c) when a C compiler and Python's headers exist.

The extension is optional: without a compiler, installation still succeeds and chainrule runs
on its pure-Python reference engine (``autograd.implementation`` then says ``"python"``).
"""

import sys

from setuptools import Extension, setup

# -ffp-contract=off: no fused multiply-add, so every result rounds exactly as Python's floats do
flags = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-std=c11"]

setup(ext_modules=[Extension("autograd._core", ["autograd/_core.c"], optional=True,
                             extra_compile_args=flags)])
