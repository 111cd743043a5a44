"""autograd.stepper: the widget over trace_backward, driven from Python (the suite runs on both
engines); tests/test_stepper_browser.py moves its slider in a real browser."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import pytest

from autograd import Value
from autograd.stepper import WIDGET_VIEW, BackwardStepper, step_through
from autograd.viz import draw_step, trace_backward

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="rendering needs Graphviz's dot")
needs_widgets = pytest.mark.skipif(importlib.util.find_spec("ipywidgets") is None,
                                   reason="the widget needs ipywidgets (chainrule[notebooks])")
HIGHLIGHT_FILL = "#ffe08a"  # viz's colour for the highlighted node


@pytest.fixture
def neuron():
    """L = ½(y - σ(w x + b))², as notebook 01 builds it."""
    x, y = Value(1.5, label="x"), Value(0.2, label="y")
    w, b = Value(0.8, label="w"), Value(-0.5, label="b")
    z = w * x + b
    z.label = "z"
    y_hat = z.sigmoid()
    y_hat.label = "ŷ"
    loss = 0.5 * (y - y_hat) ** 2
    loss.label = "L"
    return loss, w, z


def parts(stepper):
    """(back button, slider, next button, words, legend, drawing) of the widget."""
    controls, words, legend, drawing = stepper.widget.children
    back, slider, forward = controls.children
    return back, slider, forward, words, legend, drawing


@needs_dot
def test_moving_the_slider_changes_the_drawing(neuron):
    loss, _, _ = neuron
    stepper = step_through(loss)
    _, slider, _, words, _, drawing = parts(stepper)
    last = len(trace_backward(loss)) - 1
    assert (slider.options, slider.value) == (tuple((str(k), k) for k in range(last + 1)), 0)
    seen_sources, seen_svgs = set(), set()
    for k in range(last + 1):
        slider.value = k
        assert stepper.k == k
        assert stepper.graph.source == draw_step(loss, trace_backward(loss), k).source
        assert words.value.startswith(f"<pre style='margin:0'>step {k} of 0..{last}")
        assert drawing.value.startswith("<svg") and drawing.value.rstrip().endswith("</svg>")
        seen_sources.add(stepper.graph.source)
        seen_svgs.add(drawing.value)
    assert len(seen_sources) == len(seen_svgs) == last + 1  # each step drawn differently


def test_each_frame_highlights_the_node_and_labels_each_local_derivative(neuron):
    loss, _, _ = neuron
    stepper = step_through(loss)
    for k, step in enumerate(trace_backward(loss)):
        stepper.k = k
        source = stepper.graph.source
        assert source.count(HIGHLIGHT_FILL) == 1  # the step's node, and only it
        assert f"grad {step.grad:.4g}" in source  # its gradient, in its record
        for edge in step.edges:  # each parent's local derivative, on its red edge
            assert f'label="local {edge.local:.4g}"' in source
        assert source.count('label="local ') == len(step.edges)
        assert str(step) in stepper.text


@needs_widgets
def test_buttons_step_back_and_forth_and_stop_at_the_ends(neuron):
    loss, _, _ = neuron
    stepper = step_through(loss)
    back, slider, forward, words, _, _ = parts(stepper)
    back.click()
    assert stepper.k == 0  # already the first step
    forward.click()
    forward.click()
    assert stepper.k == slider.value == 2 and "step 2 of" in words.value
    back.click()
    assert stepper.k == 1
    stepper.k = -1  # from Python: the slider follows
    last = len(stepper.steps) - 1
    assert slider.value == last
    forward.click()
    assert stepper.k == last


def test_start_and_the_steps_are_trace_backwards(neuron):
    loss, _, z = neuron
    stepper = step_through(loss, start=-1)
    assert stepper.k == len(stepper.steps) - 1
    assert [(s.node, s.grad) for s in stepper.steps] == [
        (s.node, s.grad) for s in trace_backward(loss)]
    assert stepper.step is stepper.steps[-1]
    stepper.k = next(k for k, s in enumerate(stepper.steps) if s.node is z)
    assert stepper.step.grad == pytest.approx(0.103803, abs=1e-6)  # δ = ∂L/∂z of notebook 01


@needs_widgets
def test_paths_from_keeps_the_steps_it_draws():
    a, b = Value(0.3, label="a"), Value(-1.2, label="b")
    c = (a * 2).tanh()
    c.label = "c"
    d = (b.exp() + 1).log()
    d.label = "d"
    loss = c * d
    full = trace_backward(loss)
    stepper = step_through(loss, paths_from=[a], rankdir="TB")
    assert [(s.node, s.grad) for s in stepper.steps] == [(s.node, s.grad) for s in full]
    below_d = (d.parents[0], d.parents[0].parents[0])  # exp(b) + 1 and exp(b): not drawn
    d_history = {k for k, s in enumerate(full) if s.node in below_d}
    assert len(d_history) == 2
    assert d_history and stepper.drawn == [k for k in range(len(full)) if k not in d_history]
    assert [option for _, option in parts(stepper)[1].options] == stepper.drawn
    for k in stepper.drawn:  # the steps keep trace_backward's numbers
        stepper.k = k
        assert stepper.graph.source == draw_step(loss, full, k, "TB", paths_from=[a]).source
        assert stepper.text.startswith(f"step {k} of 0..{len(full) - 1}")
    stepper.k = stepper.drawn[0]
    parts(stepper)[2].click()  # next: the next step drawn
    assert stepper.k == stepper.drawn[1]
    with pytest.raises(ValueError, match=r"step \d+'s node is not in the drawing \(paths_from\)"):
        stepper.k = min(d_history)


def test_transcript_marks_the_step_shown(neuron):
    loss, _, _ = neuron
    stepper = step_through(loss, start=2)
    lines = [line for line in stepper.transcript().splitlines() if "step " in line]
    assert len(lines) == len(stepper.steps)
    assert [line.startswith(">> ") for line in lines] == [k == 2 for k in range(len(lines))]


@needs_dot
def test_the_output_carries_the_widget_and_a_static_fallback(neuron):
    loss, _, _ = neuron
    stepper = step_through(loss, start=3)
    data, _ = stepper._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == stepper.widget.model_id
    assert "<svg" in data["image/svg+xml"]  # the drawing of the step the slider is on
    assert HIGHLIGHT_FILL in data["image/svg+xml"]
    assert data["text/plain"] == stepper.transcript()
    stepper.k = 4
    assert stepper._repr_mimebundle_()[0]["text/plain"].count(">> step 4:") == 1


@needs_dot  # the fallback's text is the walk's transcript only where the drawing renders
def test_without_ipywidgets_the_widget_says_how_to_install_it(neuron, monkeypatch):
    loss, _, _ = neuron
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    stepper = step_through(loss)
    with pytest.raises(ImportError, match=r"pip install ipywidgets"):
        stepper.widget  # noqa: B018
    data, _ = stepper._repr_mimebundle_()
    assert WIDGET_VIEW not in data and data["text/plain"] == stepper.transcript()


def test_bad_input_is_named(neuron):
    loss, w, _ = neuron
    with pytest.raises(TypeError, match=r"root must be a Value, got float"):
        step_through(1.0)
    with pytest.raises(ValueError, match=r"root is a leaf"):
        step_through(w)
    n = len(trace_backward(loss))
    with pytest.raises(IndexError, match=rf"a step must be in 0\.\.{n - 1} for {n} steps"):
        step_through(loss, start=n)
    stepper = step_through(loss)
    with pytest.raises(TypeError, match=r"a step must be an int"):
        stepper.k = 1.0
    with pytest.raises(ValueError, match=r"rankdir"):
        step_through(loss, rankdir="up")
    with pytest.raises(ValueError, match=r"paths_from"):
        step_through(loss, paths_from=[Value(1.0)])
    assert isinstance(stepper, BackwardStepper) and stepper.k == 0


def test_importing_the_stepper_imports_neither_ipywidgets_nor_graphviz():
    code = ("import sys, autograd, autograd.stepper; "
            "assert 'ipywidgets' not in sys.modules and 'graphviz' not in sys.modules, "
            "sorted(m for m in sys.modules if m in ('ipywidgets', 'graphviz'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_start_at_a_value(neuron):
    loss, w, z = neuron
    stepper = step_through(loss, start=z)
    assert stepper.step.node is z
    with pytest.raises(ValueError, match=r"start is a Value that backward\(\) takes no step at"):
        step_through(loss, start=w)  # a leaf: it receives, it takes no step


def test_saved_notebooks_carry_the_static_fallback_and_no_widget():
    """A saved widget has no kernel to drive it: notebooks 01 and 02 keep their stepper's
    output as its fallback (the drawing of the step shown, and the walk as text), which
    JupyterLab, GitHub and the docs site show until the cell is run again."""
    import nbformat
    from notebook_outputs import notebook_paths

    found = 0
    for path in notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        assert "widgets" not in notebook.metadata, f"{path.name}: run ./dev.sh notebooks"
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                assert WIDGET_VIEW not in data, f"{path.name}: run ./dev.sh notebooks"
                if "step_through(" in cell.source and "text/plain" in data:
                    found += 1
                    assert "image/svg+xml" in data and ">> step " in data["text/plain"], path.name
    assert found >= 2  # notebooks 01 and 02
