"""autograd.viz: drawings, the missing-dot message, and the step-by-step backward pass."""

from __future__ import annotations

import base64
import io
import math
import re
import shutil
import struct
import subprocess
import sys

import pytest

import autograd
from autograd import Value, viz
from autograd.viz import DotNotFoundError, draw, draw_step, require_dot, trace_backward

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def node_lines(source: str, shape: str) -> list[str]:
    return [line for line in source.splitlines() if f"shape={shape}" in line]


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", source, flags=re.MULTILINE)


def node_id(source: str, text: str) -> str:
    """The id of the one record whose label contains ``text``."""
    (line,) = [line for line in node_lines(source, "record") if text in line]
    return line.split()[0]


@pytest.fixture
def neuron() -> tuple[Value, Value, Value, Value]:
    """y = sigmoid(w * x + b), backpropagated."""
    x, w, b = Value(1.5, label="x"), Value(-0.8, label="w"), Value(0.3, label="b")
    y = (w * x + b).sigmoid()
    y.label = "y"
    y.backward()
    return x, w, b, y


# --- draw ---------------------------------------------------------------------------------------


def test_one_record_per_value_and_one_node_per_op(neuron):
    *_, y = neuron
    source = draw(y).source
    assert len(node_lines(source, "record")) == 6  # x, w, b, w*x, w*x + b, y
    assert len(node_lines(source, "ellipse")) == 3  # *, +, sigmoid


def test_counts_with_unlabelled_intermediates():
    a = Value(2.0)
    c = (a * 3 + 1).exp()  # leaves a, 3, 1; computed a*3, +1, exp
    source = draw(c).source
    assert len(node_lines(source, "record")) == 6
    assert len(node_lines(source, "ellipse")) == 3


def test_a_leaf_alone_is_one_record():
    source = draw(Value(1.0, label="lonely")).source
    assert len(node_lines(source, "record")) == 1
    assert node_lines(source, "ellipse") == []
    assert edges(source) == []


def test_labels_data_and_grad_to_4_significant_digits(neuron):
    x, w, _, y = neuron
    source = draw(y).source
    assert '"x | data 1.5 | grad ' + f'{x.grad:.4g}"' in source
    assert f"grad {w.grad:.4g}" in source
    assert "data 0.2891" in source  # sigmoid(-0.9) = 0.2890505...
    assert "0.28905" not in source
    assert '"y | data 0.2891 | grad 1"' in source
    big = Value(123456.789, label="big")
    assert "data 1.235e+05" in draw(big).source


def test_show_grad_false_leaves_grads_out(neuron):
    *_, y = neuron
    source = draw(y, show_grad=False).source
    assert "grad" not in source
    assert '"y | data 0.2891"' in source


def test_labels_with_record_characters_are_escaped():
    v = Value(1.0, label="a|b {c} <d>")
    assert r"a\|b \{c\} \<d\>" in draw(v).source


def test_edges_follow_the_data(neuron):
    y = neuron[-1]
    source = draw(y).source
    found = edges(source)
    ids = {name: node_id(source, f'"{name} |') for name in "xwby"}
    wx = node_id(source, "data -1.2")
    assert (ids["w"], f"{wx}_op") in found and (ids["x"], f"{wx}_op") in found
    assert (f"{wx}_op", wx) in found
    assert (f"{ids['y']}_op", ids["y"]) in found
    # every edge goes Value -> op or op -> its own Value: 3 ops, 5 inputs, 3 results
    assert len(found) == 8
    for tail, head in found:
        assert head.endswith("_op") != tail.endswith("_op")
        if tail.endswith("_op"):
            assert tail == head + "_op"


def test_a_reused_value_has_one_record_and_an_edge_per_use():
    a = Value(3.0, label="a")
    b = a + a
    source = draw(b).source
    a_id = node_id(source, '"a |')
    assert edges(source).count((a_id, node_id(source, "data 6") + "_op")) == 2


def test_order_of_inputs_is_shown_only_where_it_matters():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    assert "headlabel" not in draw(a * b).source
    source = draw(a - b).source
    assert 'headlabel=x' in source and 'headlabel=y' in source
    assert "headlabel" not in draw(autograd.dot([a, b], [b, a])).source  # too crowded to help
    assert "headlabel" not in draw(autograd.dot([a, b], [b, a], bias=a)).source


def test_leaves_and_computed_values_look_different(neuron):
    *_, y = neuron
    source = draw(y).source
    leaf = next(line for line in node_lines(source, "record") if '"x |' in line)
    computed = next(line for line in node_lines(source, "record") if '"y |' in line)
    assert "#dbe8fb" in leaf and "#dbe8fb" not in computed
    assert "white" in computed


def test_highlight(neuron):
    _, w, _, y = neuron
    source = draw(y, highlight=[w, y]).source
    highlighted = [line for line in node_lines(source, "record") if "penwidth" in line]
    assert len(highlighted) == 2
    assert any('"w |' in line for line in highlighted)
    assert any('"y |' in line for line in highlighted)
    with pytest.raises(ValueError, match="not part of root's graph"):
        draw(y, highlight=[Value(0.0)])


def test_more_than_max_nodes_says_how_many_and_how_to_raise_the_limit():
    x = Value(0.5)
    for _ in range(300):
        x = x * 1.001  # 2 Values per step: the product and the constant
    with pytest.raises(ValueError) as error:
        draw(x)
    message = str(error.value)
    assert "601 Values" in message and "max_nodes=500" in message
    assert "max_nodes=601" in message
    assert len(node_lines(draw(x, max_nodes=601).source, "record")) == 601


@pytest.mark.parametrize("rankdir", ["LR", "RL", "TB", "BT"])
def test_rankdir(rankdir, neuron):
    *_, y = neuron
    source = draw(y, rankdir=rankdir).source
    assert f"rankdir={rankdir}" in source
    # left to right the fields stack; top to bottom the name sits beside data and grad, stacked
    assert ('"y | data 0.2891 | grad 1"' in source) == (rankdir in ("LR", "RL"))
    assert ('"y | { data 0.2891 | grad 1 }"' in source) == (rankdir in ("TB", "BT"))


@pytest.mark.parametrize("rankdir", ["lr", "XY", "", None])
def test_bad_rankdir_lists_the_allowed_ones(rankdir, neuron):
    *_, y = neuron
    with pytest.raises(ValueError, match="LR, RL, TB, BT"):
        draw(y, rankdir=rankdir)


def test_root_must_be_a_value():
    with pytest.raises(TypeError, match="must be a Value"):
        draw(3.0)


def test_grads_from_create_graph_are_drawn_as_numbers():
    x = Value(3.0, label="x")
    (x * x).backward(create_graph=True)
    assert '"x | data 3 | grad 6"' in draw(x * x).source


# --- rendering, and what happens without dot -----------------------------------------------


@pytest.fixture
def no_dot(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)


def test_missing_dot_says_how_to_install_it(no_dot, neuron):
    *_, y = neuron
    graph = draw(y)
    assert "digraph" in graph.source  # building the graph needs no dot
    with pytest.raises(DotNotFoundError) as error:
        graph.pipe(format="svg")
    message = str(error.value)
    for command in ("apt-get install graphviz", "brew install graphviz",
                    "conda install -c conda-forge graphviz"):
        assert command in message
    with pytest.raises(DotNotFoundError):
        graph.render("/tmp/never-written", format="svg")
    with pytest.raises(DotNotFoundError, match="apt-get install graphviz"):
        require_dot()


def test_missing_dot_in_jupyter_shows_the_message_not_a_traceback(no_dot, neuron):
    *_, y = neuron
    bundle, metadata = draw(y)._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and metadata == {}
    assert "brew install graphviz" in bundle["text/plain"]


def test_missing_dot_caught_from_graphviz_too(monkeypatch, neuron):
    """``which`` finds a dot that cannot run: graphviz's own error becomes ours."""
    *_, y = neuron
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: "/nonexistent/dot")
    with pytest.raises(DotNotFoundError, match="brew install graphviz"):
        draw(y).pipe(format="svg")


@needs_dot
def test_renders_svg(neuron):
    *_, y = neuron
    svg = draw(y).pipe(format="svg", encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    assert "data 0.2891" in svg
    bundle, _ = draw(y)._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


def png_header(png: bytes) -> tuple[int, int, int]:
    """A PNG's width, height and colour type (2 RGB, 3 a palette, 6 RGBA), from its IHDR chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height, png[25]


def svg_size_pt(svg: str) -> tuple[float, float]:
    width, height = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups()
    return float(width), float(height)


@needs_dot
def test_jupyter_output_carries_svg_png_and_what_it_draws(neuron):
    """An untrusted notebook shows no SVG but shows a PNG; both show the same drawing, the PNG
    at 1.5 pixels per CSS pixel and shown at the SVG's size."""
    *_, y = neuron
    graph = draw(y)
    bundle, metadata = graph._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "image/png", "text/plain"}
    assert bundle["text/plain"] == "<graph of 9 nodes (6 Values, 3 ops), root y = 0.2891>"
    png = base64.b64decode(bundle["image/png"], validate=True)
    width, height, colour_type = png_header(png)
    width_pt, height_pt = svg_size_pt(bundle["image/svg+xml"])
    assert width == pytest.approx(width_pt * viz.PNG_DPI / 72, abs=1)
    assert height == pytest.approx(height_pt * viz.PNG_DPI / 72, abs=1)
    shown = metadata["image/png"]
    assert shown["width"] == pytest.approx(width_pt * 96 / 72, abs=1)
    assert shown["height"] == pytest.approx(height_pt * 96 / 72, abs=1)
    assert colour_type == 3  # gd's palette: at most half the bytes of cairo's true colour
    true_colour = graph.copy()
    true_colour.graph_attr["dpi"] = f"{viz.PNG_DPI:g}"
    assert len(png) <= 0.5 * len(true_colour.pipe(format="png", renderer="cairo"))
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(png)).convert("RGB")
    assert image.getpixel((1, 1)) == (255, 255, 255)  # white, as the SVG's background
    colours = {rgb: n for n, rgb in image.getcolors(width * height)}
    leaf_fill = [n for rgb, n in colours.items()  # gd's palette moves a colour a little
                 if max(abs(a - b) for a, b in zip(rgb, (0xDB, 0xE8, 0xFB))) <= 3]
    assert sum(leaf_fill) > width * height / 100  # x, w and b: blue records


@needs_dot
def test_ipython_displays_the_bundle_with_its_metadata(neuron):
    """IPython's own formatter, as a kernel runs it: our text, and the PNG's display size."""
    formatters = pytest.importorskip("IPython.core.formatters")
    *_, y = neuron
    data, metadata = formatters.DisplayFormatter().format(draw(y, show_grad=False))
    assert set(data) == {"image/svg+xml", "image/png", "text/plain"}
    assert data["text/plain"] == "<graph of 9 nodes (6 Values, 3 ops), root y = 0.2891>"
    assert " at 0x" not in data["text/plain"]
    assert set(metadata["image/png"]) == {"width", "height"}


@needs_dot
def test_include_and_exclude_choose_the_forms(neuron):
    graph = draw(neuron[-1])
    assert set(graph._repr_mimebundle_(include=["image/png"])[0]) == {"image/png"}
    data, metadata = graph._repr_mimebundle_(exclude=["image/png"])
    assert set(data) == {"image/svg+xml", "text/plain"} and metadata == {}


@needs_dot
def test_a_huge_drawing_gets_a_png_of_bounded_size(monkeypatch, neuron):
    monkeypatch.setattr(viz, "MAX_PNG_PX", 300)
    graph = draw(neuron[-1])
    bundle, metadata = graph._repr_mimebundle_()
    width, height, _ = png_header(base64.b64decode(bundle["image/png"]))
    assert max(width, height) <= 300 and width > 250  # at a lower resolution, not cropped
    width_pt, _ = svg_size_pt(bundle["image/svg+xml"])
    assert metadata["image/png"]["width"] == pytest.approx(width_pt * 96 / 72, abs=2)


@needs_dot
def test_without_the_gd_formatter_the_png_is_cairos_own(monkeypatch, capfd, neuron):
    """A Graphviz built without gd: once dot says it does not know the format, cairo's PNG."""
    monkeypatch.setattr(viz, "PNG_FORMATTER", "gdiplus")  # Windows only: unknown to dot here
    monkeypatch.setattr(viz, "_formatter_works", {})
    graph = draw(neuron[-1])
    for _ in range(2):
        bundle, _ = graph._repr_mimebundle_(include=["image/png"])
        assert png_header(base64.b64decode(bundle["image/png"]))[2] in (2, 6)  # true colour
    assert viz._formatter_works == {"gdiplus": False}
    assert "not recognized" not in capfd.readouterr().err


def test_the_text_form_says_what_is_drawn(neuron):
    x, w, b, y = neuron
    assert repr(draw(y)) == "<graph of 9 nodes (6 Values, 3 ops), root y = 0.2891>"
    assert repr(draw(y, paths_from=[b])) == "<graph of 6 nodes (4 Values, 2 ops), root y = 0.2891>"
    assert repr(draw(y, params={"out": y})).endswith("root out = 0.2891>")
    assert repr(draw(w * x)) == "<graph of 4 nodes (3 Values, 1 op), root = -1.2 (from *)>"
    assert repr(draw(Value(2.5))) == "<graph of 1 node (1 Value, 0 ops), root = 2.5>"
    (fused,) = autograd.linear([x], [[w]], [b], activation="tanh")
    assert repr(draw(fused)).startswith("<graph of 5 nodes (4 Values, 1 op)")
    assert repr(draw(fused, expand_fused=True)).startswith("<graph of 7 nodes (5 Values, 2 ops)")
    steps = trace_backward(y)
    assert repr(draw_step(y, steps, 1)) == ("<graph of 9 nodes (6 Values, 3 ops), root y = 0.2891; "
                                            "backward step 1 of 0..2 highlighted: + -0.9>")
    assert repr(draw_step(y, steps, -1)).endswith("step 2 of 0..2 highlighted: * -1.2>")


def test_missing_graphviz_package_says_how_to_install_it(monkeypatch):
    from autograd import viz

    viz._digraph_class.cache_clear()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    try:
        with pytest.raises(ImportError, match="pip install graphviz"):
            draw(Value(1.0))
    finally:
        viz._digraph_class.cache_clear()


def test_import_autograd_does_not_import_graphviz():
    code = ("import sys, autograd, autograd.viz; from autograd import Value; "
            "assert 'graphviz' not in sys.modules, 'graphviz imported'; "
            "autograd.viz.draw(Value(1.0)); assert 'graphviz' in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": ".", "PATH": ""}, cwd=_repo_root())
    assert result.returncode == 0, result.stderr


def _repo_root() -> str:
    import pathlib

    return str(pathlib.Path(autograd.__file__).resolve().parent.parent)


# --- trace_backward -------------------------------------------------------------------------


def diamond() -> tuple[Value, list[Value]]:
    """a feeds b and c, which meet again in d: a's gradient arrives along two paths."""
    a = Value(0.7, label="a")
    k = Value(-1.3, label="k")
    b = a * k
    c = a.tanh()
    d = (b * c).exp() + c
    return d, [a, k]


def reused() -> tuple[Value, list[Value]]:
    """b = a + a; c = b * b — the same node used twice by one op, and by two."""
    a = Value(2.0, label="a")
    b = a + a
    c = b * b + b.sigmoid()
    return c, [a]


def final_totals(steps) -> dict[Value, float]:
    totals = {}
    for step in steps:
        for edge in step.edges:
            totals[edge.parent] = edge.total
    return totals


@pytest.mark.parametrize("build", [diamond, reused])
def test_trace_agrees_with_backward(build):
    root, leaves = build()
    steps = trace_backward(root)
    assert all(v.grad == 0.0 for v in autograd.topological_order(root) + leaves)
    assert [s.node for s in steps] == list(reversed(autograd.topological_order(root)))
    assert steps[0].node is root and steps[0].grad == 1.0
    totals = final_totals(steps)
    root.backward()
    for step in steps:
        assert step.grad == pytest.approx(step.node.grad, rel=1e-12, abs=1e-15)
    for leaf in leaves:
        assert totals[leaf] == pytest.approx(leaf.grad, rel=1e-12)


@pytest.mark.parametrize("build", [diamond, reused])
def test_trace_does_not_touch_grad(build):
    root, leaves = build()
    root.backward()
    before = {v: v.grad for v in autograd.topological_order(root) + leaves}
    trace_backward(root)
    assert {v: v.grad for v in before} == before


def test_step_records_local_derivatives_and_running_totals():
    root, (a,) = reused()
    steps = trace_backward(root)
    plus = next(s for s in steps if s.node.op == "+" and s.node.parents == (a, a))
    assert [e.parent for e in plus.edges] == [a, a]
    assert [e.local for e in plus.edges] == [1.0, 1.0]
    first, second = plus.edges
    assert first.contribution == second.contribution == plus.grad
    assert first.total == plus.grad and second.total == 2 * plus.grad
    for step in steps:
        for edge in step.edges:
            assert edge.contribution == pytest.approx(step.grad * edge.local)


def test_trace_of_a_leaf_is_empty():
    assert trace_backward(Value(1.0)) == []


def test_an_undefined_derivative_raises_as_in_backward_even_times_zero():
    x = Value(0.0)
    root = x.sqrt() * 0.0 + 1.0  # sqrt's derivative at 0 divides by zero
    with pytest.raises(ZeroDivisionError, match="backward through sqrt"):
        trace_backward(root)


def test_step_prints_as_a_line_per_edge():
    a = Value(2.0, label="a")
    b = a * a
    b.label = "b"
    assert str(trace_backward(b)[0]) == (
        "b: grad 1\n"
        "  -> a: local 2, += 1 * 2 = 2, total 2\n"
        "  -> a: local 2, += 1 * 2 = 2, total 4"
    )


def test_draw_step_shows_grads_so_far_and_highlights_the_current_node():
    root, (a, _) = diamond()
    steps = trace_backward(root)
    for i, step in enumerate(steps):
        source = draw_step(root, steps, i).source
        highlighted = [line for line in node_lines(source, "record") if "penwidth" in line]
        assert len(highlighted) == 1
        assert f"data {step.node.data:.4g} | grad {step.grad:.4g}" in highlighted[0]
        assert source.count("label=\"local ") == len(step.edges)
    # a's gradient is complete only after the last step that reaches it
    last = max(i for i, s in enumerate(steps) if any(e.parent is a for e in s.edges))
    root.backward()
    assert f'"a | data 0.7 | grad {a.grad:.4g}"' in draw_step(root, steps, last).source
    assert '"a | data 0.7 | grad 0"' in draw_step(root, steps, 0).source
    assert draw_step(root, steps, -1).source == draw_step(root, steps, len(steps) - 1).source
    with pytest.raises(IndexError, match=f"0..{len(steps) - 1}"):
        draw_step(root, steps, len(steps))


# --- what to draw: names, a path, fused neurons, size ------------------------------------------


def test_params_name_values_as_named_parameters_does(neuron):
    _x, w, b, y = neuron
    source = draw(y, params={"weight": w, "bias": b}).source
    assert '"weight | data -0.8 |' in source and '"bias | data 0.3 |' in source
    assert '"w |' not in source and '"x | data 1.5 |' in source  # unnamed: its label
    assert draw(y, params=[("weight", w)]).source == draw(y, params={"weight": w}).source


def test_params_from_a_model():
    import nn

    model = nn.MLP(2, [2, 1], seed=0)
    source = draw(model([0.5, -1.0]), params=model.named_parameters()).source
    for name, _ in model.named_parameters():
        assert f'"{name} | data' in source


@pytest.mark.parametrize("params", [{"w": 1.0}, [("w",)], [(1, Value(1.0))], ["w"]])
def test_bad_params_say_what_is_expected(params, neuron):
    with pytest.raises(TypeError, match=r"named_parameters\(\)"):
        draw(neuron[-1], params=params)


def test_paths_from_draws_the_path_and_the_inputs_along_it(neuron):
    x, w, b, y = neuron
    source = draw(y, paths_from=[b]).source
    records = node_lines(source, "record")
    assert len(records) == 4  # b, w*x (its history cut), w*x + b, y
    assert not any('"x |' in line or '"w |' in line for line in records)
    (cut,) = [line for line in records if "dashed" in line]
    assert "data -1.2" in cut  # w*x: an input of the path's +, drawn without its own op
    assert len(node_lines(source, "ellipse")) == 2  # + and sigmoid
    everything = draw(y, paths_from=[x, w, b]).source
    assert everything.count("shape=record") == 6 and "dashed" not in everything


def test_paths_from_a_computed_value_starts_there():
    a = Value(2.0, label="a")
    b = (a * a).exp()
    b.label = "b"
    c = b.tanh()
    source = draw(c, paths_from=[b]).source
    assert len(node_lines(source, "record")) == 2 and len(node_lines(source, "ellipse")) == 1


def test_paths_from_and_highlight_must_be_in_the_drawing(neuron):
    x, _w, b, y = neuron
    with pytest.raises(ValueError, match=r"paths_from: .* not part of root.s graph"):
        draw(y, paths_from=[Value(1.0)])
    with pytest.raises(ValueError, match="not part of root's graph as drawn"):
        draw(y, paths_from=[b], highlight=[x])


def test_draw_step_along_a_path():
    root, (_a, k) = diamond()
    steps = trace_backward(root)
    source = draw_step(root, steps, 0, paths_from=[k]).source
    assert '"k |' in source and "penwidth" in source


def test_size_scales_the_drawing(neuron):
    assert 'size="4,3"' in draw(neuron[-1], size="4,3").source
    assert not re.search(r"\bsize=", draw(neuron[-1]).source)


def test_top_to_bottom_records_stack_data_and_grad_beside_the_name(neuron):
    source = draw(neuron[-1], rankdir="TB").source
    assert "y | { data 0.2891 | grad 1 }" in source


@needs_dot
def test_a_long_chain_top_to_bottom_stays_narrow():
    x = Value(0.3, label="x")
    y = x
    for _ in range(6):
        y = (y * 1.5).tanh()
    widths = {}
    for rankdir in ("TB", "LR"):
        svg = draw(y, rankdir=rankdir).pipe(format="svg", encoding="utf-8")
        widths[rankdir] = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
    assert widths["TB"] < 400 < 4 * widths["TB"] < widths["LR"]


def test_expand_fused_draws_a_neuron_as_its_weighted_sum_and_activation():
    xs = [Value(0.5, label="x0"), Value(-1.0, label="x1")]
    ws = [Value(0.8, label="w0"), Value(0.3, label="w1")]
    b = Value(0.1, label="b")
    (y,) = autograd.linear(xs, [ws], [b], activation="tanh")
    y.backward()
    fused = draw(y).source
    assert len(node_lines(fused, "ellipse")) == 1 and r"affine\>tanh" in fused
    source = draw(y, expand_fused=True).source
    ops = node_lines(source, "ellipse")
    assert len(ops) == 2 and any("label=affine" in op for op in ops)
    assert any("label=tanh" in op for op in ops)
    z = 0.5 * 0.8 - 1.0 * 0.3 + 0.1
    dz = 1 - math.tanh(z) ** 2  # dy/dz, y's grad being 1
    assert f"w·x + b | data {z:.4g} | grad {dz:.4g}" in source
    assert f"grad {ws[0].grad:.4g}" in source and ws[0].grad == pytest.approx(dz * 0.5)
    assert len(node_lines(source, "record")) == 7  # 5 inputs, z and y
    # the edges: inputs -> affine -> z -> tanh -> y
    assert len(edges(source)) == 5 + 3
