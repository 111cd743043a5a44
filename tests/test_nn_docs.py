"""Every public name in nn has a docstring with an example (doctests run with --doctest-modules)."""

from __future__ import annotations

import inspect

import pytest

import nn
import nn.activations
import nn.cli
import nn.corpus
import nn.gpt
import nn.gpt_cli
import nn.module
import nn.plots
import nn.sequence
import nn.serialization
import nn.train
import nn.validation


def public_names():
    for module in (nn, nn.activations, nn.cli, nn.serialization, nn.train, nn.plots,
                   nn.sequence, nn.corpus, nn.gpt, nn.gpt_cli, nn.module, nn.validation):
        names = module.__all__ if hasattr(module, "__all__") else [
            n for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and (inspect.isfunction(member)
                                                     or isinstance(member, property)):
                        yield f"{module.__name__}.{name}.{attr}", member


@pytest.mark.parametrize(("name", "obj"), list(public_names()), ids=lambda x: str(x)[:60])
def test_public_name_has_an_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{name} has no docstring"
    assert ">>>" in doc or "``" in doc, f"{name}'s docstring has no example"
