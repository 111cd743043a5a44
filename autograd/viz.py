"""Draw computation graphs, and replay the backward pass one node at a time.

``draw(root)`` returns a ``graphviz.Digraph``, which Jupyter shows inline: its output carries the
drawing as SVG, as PNG (an untrusted notebook shows no SVG, but does show the PNG) and as a line
of text saying what it draws (``<graph of 9 nodes (6 Values, 3 ops), root y = 0.2891>``). Each
Value is a record (its label, ``data`` and ``grad`` to 4 significant digits) and each op a small
oval; edges follow the data, from inputs to outputs. ``trace_backward(root)`` lists what
``backward()`` does, node by node, without touching any ``.grad``; ``draw_step`` draws the graph
after one of those steps.

Drawing needs the ``graphviz`` Python package (``pip install chainrule[viz]``), imported only
when a drawing is made, and rendering needs Graphviz's ``dot`` program; building a graph and
reading its ``.source`` work without ``dot``.

>>> from autograd import Value
>>> x = Value(2.0, label="x")
>>> y = x * x
>>> y.backward()
>>> "x | data 2 | grad 4" in draw(y).source
True
>>> draw(y)
<graph of 3 nodes (2 Values, 1 op), root = 4 (from *)>
"""

from __future__ import annotations

import base64
import functools
import shutil
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence, Union

from autograd.engine import gradients, topological_order
from autograd.ops import AFFINE
from autograd.value import Value

if TYPE_CHECKING:
    import graphviz

__all__ = [
    "BackwardStep",
    "DotNotFoundError",
    "EdgeStep",
    "draw",
    "draw_step",
    "require_dot",
    "trace_backward",
]

RANKDIRS = ("LR", "RL", "TB", "BT")

INSTALL_DOT = (
    "Graphviz's 'dot' program is needed to render drawings, and it is not on your PATH.\n"
    "Install it, then restart the kernel or the interpreter:\n"
    "  Debian/Ubuntu:  sudo apt-get install graphviz\n"
    "  macOS:          brew install graphviz\n"
    "  conda:          conda install -c conda-forge graphviz\n"
    "  Windows:        winget install graphviz (then add its bin folder to PATH)\n"
    "Without dot you can still read the drawing's text: print(graph.source)."
)

# colours: leaves (the Values you made) blue, computed Values white, highlighted ones amber
_LEAF = {"style": "filled", "fillcolor": "#dbe8fb", "color": "#4a6fa5"}
_COMPUTED = {"style": "filled", "fillcolor": "white", "color": "#555555"}
_HIGHLIGHT = {"style": "filled,bold", "fillcolor": "#ffe08a", "color": "#c0392b",
              "penwidth": "2.5"}
_OP = {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee", "color": "#999999",
       "fontsize": "9", "height": "0.3", "margin": "0.04,0.02"}
_CUT = {"style": "filled,dashed", "fillcolor": "white", "color": "#555555"}  # its history not drawn
_ACTIVE_EDGE = {"color": "#c0392b", "fontcolor": "#c0392b", "penwidth": "2"}
# ops whose inputs are drawn without names: the order does not matter, or (dot, affine and the
# fused affine>activation) the names would crowd the picture more than they explain
_UNNAMED_INPUTS = {"+", "*", "sum", "logsumexp", "dot", "affine"}


class DotNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is missing, so a drawing cannot be rendered.

    The message says how to install it (apt-get, brew, conda). It is a ``RuntimeError``, like
    graphviz's own ``ExecutableNotFound``.

    >>> "brew install graphviz" in str(DotNotFoundError(INSTALL_DOT))
    True
    """


def require_dot() -> str:
    """The path of Graphviz's ``dot`` program; ``DotNotFoundError`` saying how to install it.

    >>> try:
    ...     dot = require_dot()  # '/usr/bin/dot', say
    ... except DotNotFoundError as missing:
    ...     dot = None  # str(missing) gives the install commands for apt, brew and conda
    """
    path = shutil.which("dot")
    if path is None:
        raise DotNotFoundError(INSTALL_DOT)
    return path


@functools.cache
def _digraph_class() -> type[graphviz.Digraph]:
    """``graphviz.Digraph``, but rendering without ``dot`` explains how to install it."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("drawing needs the graphviz Python package: pip install graphviz "
                          "(or pip install 'chainrule[viz]'), and Graphviz's dot program to "
                          "render") from None

    def _with_dot(run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a rendering method, saying how to install ``dot`` when it is missing."""
        require_dot()
        try:
            return run(*args, **kwargs)
        except graphviz.ExecutableNotFound as error:
            raise DotNotFoundError(INSTALL_DOT) from error

    class Digraph(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose rendering checks for ``dot`` first, and which Jupyter
        shows as SVG, or as PNG where SVG is not shown (an untrusted notebook)."""

        description = ""  # what it draws, for its text form; set by draw() and draw_step()

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            return _with_dot(super().pipe, *args, **kwargs)

        def render(self, *args: Any, **kwargs: Any) -> Any:
            return _with_dot(super().render, *args, **kwargs)

        def __repr__(self) -> str:
            return f"<{self.description}>" if self.description else super().__repr__()

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                              **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            # Jupyter's display: the install instructions instead of a traceback
            if shutil.which("dot") is None:
                return {"text/plain": INSTALL_DOT}, {}
            wanted = set(MIME_TYPES if include is None else include) - set(exclude or ())
            data: dict[str, Any] = {"text/plain": repr(self)} if "text/plain" in wanted else {}
            metadata: dict[str, Any] = {}
            if "image/svg+xml" in wanted:
                data["image/svg+xml"] = self.pipe(format="svg", encoding="utf-8")
            if "image/png" in wanted:
                png, width, height = _png(self)
                data["image/png"] = base64.b64encode(png).decode("ascii")
                metadata["image/png"] = {"width": width, "height": height}
            return data, metadata

    Digraph.__module__, Digraph.__qualname__ = __name__, "Digraph"
    return Digraph


MIME_TYPES = ("image/svg+xml", "image/png", "text/plain")
"""What a drawing's output in Jupyter carries. A trusted notebook shows the SVG (sharp at any
zoom); an untrusted one (a notebook opened for the first time, or one whose outputs were not made
on this machine) shows no SVG, for SVG can carry scripts, but shows the PNG; a terminal, the
text."""

def digraph(description: str = "", **attrs: Any) -> graphviz.Digraph:
    """An empty ``graphviz.Digraph`` (``attrs`` as graphviz takes them) that Jupyter shows as
    ``draw``'s drawings are: SVG, and PNG where SVG is not shown (an untrusted notebook), with
    ``description`` as its text form. For a diagram of your own beside the engine's drawings.

    >>> net = digraph("two neurons", graph_attr={"rankdir": "LR"})
    >>> net.edge("x", "y")
    >>> net
    <two neurons>
    """
    graph = _digraph_class()(**attrs)
    graph.description = description
    return graph


PNG_DPI = 144
"""The PNG's resolution: 1.5 pixels per pixel of the drawing as shown (96 dpi), so that it stays
crisp on a high-density screen; its ``width`` metadata shows it at the SVG's size."""

MAX_PNG_PX = 4000
"""A PNG larger than this on either side is drawn at a lower resolution (a graph near
``max_nodes``): it is unreadable at any resolution, and would otherwise weigh megabytes."""

PNG_FORMATTER = "gd"
"""Drawn by cairo (smooth text), written by gd as a PNG of at most 256 colours: a third to a half
of the size of cairo's own true-colour PNG, which is the fallback for a Graphviz built without
gd."""

_formatter_works: dict[str, bool] = {}


def _png(graph: graphviz.Digraph) -> tuple[bytes, int, int]:
    """``graph`` as PNG bytes, with the width and height (CSS pixels) at which to show it."""
    dpi = PNG_DPI
    for _ in range(2):  # pixels scale with dpi: one lower dpi brings a large drawing in bounds
        copy = graph.copy()  # dpi scales the SVG too: set it on a copy only
        copy.graph_attr["dpi"] = f"{dpi:g}"
        png = _pipe_png(copy)
        width, height = struct.unpack(">II", png[16:24])  # PNG's header: its IHDR chunk first
        if max(width, height) <= MAX_PNG_PX:
            break
        dpi = dpi * MAX_PNG_PX / max(width, height) * 0.99
    return png, round(width * 96 / dpi), round(height * 96 / dpi)


def _pipe_png(graph: graphviz.Digraph) -> bytes:
    """PNG bytes through ``PNG_FORMATTER`` where this Graphviz has it, else cairo's own."""
    import graphviz

    if _formatter_works.get(PNG_FORMATTER, True):
        try:
            png = graph.pipe(format="png", renderer="cairo", formatter=PNG_FORMATTER,
                             quiet=True)  # dot's "not recognized" is handled here
            _formatter_works[PNG_FORMATTER] = True
            return _white_background(png)
        except graphviz.CalledProcessError as error:
            if "not recognized" not in str(error.stderr):
                raise
            _formatter_works[PNG_FORMATTER] = False  # ask once per process
    png = graph.pipe(format="png")
    return bytes(png)


def _white_background(png: bytes) -> bytes:
    """``png`` with the near-white colours of its palette made white: gd's palette turns the
    white background into (252, 254, 252), a tinted box on a white page."""
    chunks, at = [png[:8]], 8  # the signature, then chunks: length, type, data, CRC
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        if kind == b"PLTE":
            data = b"".join(b"\xff\xff\xff" if min(data[i:i + 3]) >= 250 else data[i:i + 3]
                            for i in range(0, len(data), 3))
            chunks.append(png[at:at + 8] + data + struct.pack(">I", zlib.crc32(kind + data)))
        else:
            chunks.append(png[at:at + 12 + length])
        at += 12 + length
    return b"".join(chunks)


# --- drawing ------------------------------------------------------------------------------------


def draw(root: Value, rankdir: str = "LR", show_grad: bool = True, max_nodes: int = 500,
         highlight: Iterable[Value] = (), *, params: Params | None = None,
         paths_from: Iterable[Value] | None = None, expand_fused: bool = False,
         size: str | None = None) -> graphviz.Digraph:
    """The graph ``root`` was computed from, as a ``graphviz.Digraph`` (shown inline in Jupyter).

    One record per Value — its label (if any), ``data`` and ``grad`` to 4 significant digits —
    and one small node per op, with edges in the direction data flows. Leaves (the Values you
    made, and constants) are blue, computed Values white; the Values in ``highlight`` are amber
    with a red border. A graph of more than ``max_nodes`` Values raises ``ValueError``: Graphviz
    gets slow and the picture unreadable long before a graph gets big.

    Layout and what to draw:

    - ``rankdir``: ``"LR"`` (left to right), ``"RL"``, ``"TB"`` (top to bottom) or ``"BT"``.
      A deep, narrow graph reads best top to bottom at notebook width.
    - ``params``: names for parameters, as ``model.named_parameters()`` gives them (pairs, or a
      dict ``name -> Value``); a named Value shows its name instead of its label.
    - ``paths_from``: draw only the Values through which these reach ``root`` — the path a
      gradient takes back to them — and the other inputs of the ops on it. An input whose own
      history is left out has a dashed border.
    - ``expand_fused``: draw a fused neuron (``affine>relu``, say) as its two steps, the
      weighted sum ``w·x + b`` as a Value of its own, then the activation.
    - ``size``: Graphviz's ``size`` (inches, ``"8,6"``): a larger drawing is scaled down to fit,
      text and all.

    >>> from autograd import Value
    >>> a = Value(3.0, label="a")
    >>> b = (a * 2).tanh()
    >>> g = draw(b, show_grad=False)
    >>> print(g.source.count("shape=record"), "Values,", g.source.count("shape=ellipse"), "ops")
    4 Values, 2 ops
    """
    return _draw(root, rankdir, max_nodes, highlight,
                 grad_of=_stored_grad if show_grad else None, params=params,
                 paths_from=paths_from, expand_fused=expand_fused, size=size)


Params = Union[Mapping[str, Value], Iterable[tuple[str, Value]]]


def _draw(root: Value, rankdir: str, max_nodes: int, highlight: Iterable[Value],
          grad_of: Callable[[Value], float] | None,
          edge_labels: dict[tuple[Value, int], str] | None = None, *,
          params: Params | None = None, paths_from: Iterable[Value] | None = None,
          expand_fused: bool = False, size: str | None = None) -> graphviz.Digraph:
    if not isinstance(root, Value):
        raise TypeError(f"draw: root must be a Value, got {type(root).__name__}: {root!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    nodes = _all_nodes(root)
    with_op = {node for node in nodes if not node.is_leaf}  # drawn with the op that made it
    main_line: set[Value] = set()  # drawn in a straight line, side inputs around it
    if paths_from is not None:
        sources = _members(paths_from, nodes, "paths_from")
        nodes, with_op = _paths(nodes, sources)
        main_line = with_op | sources
    if len(nodes) > max_nodes:
        raise ValueError(
            f"draw: the graph has {len(nodes)} Values, more than max_nodes={max_nodes}. "
            f"Pass max_nodes={len(nodes)} (or more) to draw it anyway; Graphviz may take a "
            f"while, and a picture this big is hard to read — drawing a smaller piece of the "
            f"computation (paths_from=...) is often clearer."
        )
    highlighted = _members(highlight, nodes, "highlight", "root's graph" if paths_from is None
                           else "root's graph as drawn (with paths_from)")
    names = _param_names(params)
    ids = {node: f"v{i}" for i, node in enumerate(nodes)}

    graph = _digraph_class()(
        # ordering=in: an op's inputs side by side in the order of its edges (see below)
        graph_attr={"rankdir": rankdir, "nodesep": "0.15", "ranksep": "0.25", "ordering": "in",
                    **({"size": size} if size is not None else {})},
        node_attr={"fontname": "Helvetica", "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7",
                   "labelfontsize": "8", "labelfontcolor": "#777777", "labeldistance": "1.4"},
    )
    horizontal = rankdir in ("LR", "RL")  # records lay their fields across the rank direction
    drawn = {"record": 0, "op": 0}

    def record(node_id: str, name: str, data: float, grad: float | None,
               style: dict[str, str]) -> None:
        drawn["record"] += 1
        numbers = f"data {_fmt(data)}" + ("" if grad is None else f" | grad {_fmt(grad)}")
        # narrow records: left to right, the fields stacked (name, data, grad); top to bottom,
        # the name beside data and grad, stacked (braces turn a record's fields by 90°)
        label = (_escape(name) + " | " if name else "") + (
            numbers if horizontal else "{ " + numbers + " }")
        graph.node(node_id, label, shape="record", **style)

    for node in nodes:
        grad = grad_of(node) if grad_of is not None else None
        style = (_HIGHLIGHT if node in highlighted else _LEAF if node.is_leaf else
                 _COMPUTED if node in with_op else _CUT)
        record(ids[node], names.get(node, node.label), node.data, grad, style)
        if node not in with_op:
            continue
        op_id = ids[node] + "_op"
        activation = node._op.activation
        if expand_fused and activation is not None:
            z = AFFINE.compute([parent.data for parent in node.parents])
            z_grad = None if grad is None else grad * float(
                activation.partials(node.data, [z])[0])
            record(op_id + "_z", "w·x + b", z, z_grad, _COMPUTED)
            graph.node(op_id, _escape(AFFINE.name), **_OP)
            graph.edge(op_id, op_id + "_z")
            graph.node(op_id + "_act", _escape(activation.name), **_OP)
            drawn["op"] += 2
            graph.edge(op_id + "_z", op_id + "_act")
            graph.edge(op_id + "_act", ids[node], weight="10")
        else:
            graph.node(op_id, _escape(node.op), **_OP)
            graph.edge(op_id, ids[node], weight="10")  # heavy: the op sits in line with it
            drawn["op"] += 1
        input_names = _input_names(node)
        order = sorted(range(len(node.parents)), key=lambda i: node.parents[i] not in main_line)
        for i in order:  # the path's edge first: Graphviz then keeps the side inputs on one side
            parent = node.parents[i]
            attrs = {}
            if input_names:
                attrs["headlabel"] = input_names[i]
            if edge_labels and (node, i) in edge_labels:
                attrs.update(_ACTIVE_EDGE, label=edge_labels[node, i])
            if parent in main_line:
                attrs["weight"] = "10"  # the path drawn straight, its side inputs around it
            graph.edge(ids[parent], op_id, **attrs)
    graph.description = _describe(drawn["record"], drawn["op"], names.get(root, root.label), root)
    return graph


def _describe(values: int, ops: int, name: str, root: Value) -> str:
    """A drawing's text form: ``graph of 9 nodes (6 Values, 3 ops), root y = 0.2891``."""
    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    made_by = "" if root.is_leaf else f" (from {root.op})"
    return (f"graph of {count(values + ops, 'node')} ({count(values, 'Value')}, "
            f"{count(ops, 'op')}), root {name + ' ' if name else ''}= {_fmt(root.data)}"
            + ("" if name else made_by))


def _all_nodes(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, leaves included, each after its parents."""
    nodes: list[Value] = []
    seen: set[Value] = set()
    for node in topological_order(root) or [root]:
        for parent in node.parents:
            if parent.is_leaf and parent not in seen:
                seen.add(parent)
                nodes.append(parent)
        seen.add(node)
        nodes.append(node)
    return nodes


def _members(values: Iterable[Value], nodes: list[Value], option: str,
             where: str = "root's graph") -> set[Value]:
    """``values`` as a set, each checked to be one of the drawn ``nodes``."""
    found = set(nodes)
    chosen = set()
    for value in values:
        if value not in found:
            raise ValueError(f"draw: {option}: {value!r} is not part of {where}")
        chosen.add(value)
    return chosen


def _paths(nodes: list[Value], sources: set[Value]) -> tuple[list[Value], set[Value]]:
    """The Values on a path from ``sources`` to the root (drawn with their ops), plus the
    other inputs of those ops (drawn alone), in the order of ``nodes``."""
    on_path = set(sources)
    for node in nodes:  # parents come first, so one pass finds every descendant
        if any(parent in on_path for parent in node.parents):
            on_path.add(node)
    with_op = {node for node in on_path if node not in sources and not node.is_leaf}
    inputs = {parent for node in with_op for parent in node.parents}
    return [node for node in nodes if node in on_path or node in inputs], with_op


def _param_names(params: Params | None) -> dict[Value, str]:
    if params is None:
        return {}
    pairs = params.items() if isinstance(params, Mapping) else params
    names: dict[Value, str] = {}
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], Value)):
            raise TypeError("draw: params must be model.named_parameters() (pairs of a name and "
                            f"a Value) or a dict name -> Value; got an entry {pair!r}")
        names.setdefault(pair[1], pair[0])
    return names


def _input_names(node: Value) -> list[str]:
    """Names for the inputs of an op whose result depends on their order ([] if it does not)."""
    n = len(node.parents)
    if n < 2 or node.op in _UNNAMED_INPUTS or node._op.activation is not None:  # fused neurons
        return []
    if n == 2:
        return ["x", "y"]
    return [str(i + 1) for i in range(n)]


def _stored_grad(node: Value) -> float:
    grad = node.grad
    return grad.data if isinstance(grad, Value) else grad  # a Value after create_graph=True


def _fmt(x: float) -> str:
    """4 significant digits: 0.96724 -> '0.9672', 2.0 -> '2', 12345.0 -> '1.234e+04'."""
    return f"{x:.4g}"


def _escape(text: str) -> str:
    """Escape the characters that structure a record label, so a label shows as written."""
    for char in "\\{}|<>":
        text = text.replace(char, "\\" + char)
    return text


# --- the backward pass, step by step ------------------------------------------------------------


@dataclass(frozen=True)
class EdgeStep:
    """What one step sends along the edge to one parent: ``contribution = grad * local``.

    ``total`` is the parent's gradient after this contribution is added (a running total: a
    parent used twice, or by several nodes, receives several contributions).

    >>> from autograd import Value
    >>> a = Value(3.0, label="a")
    >>> edge = trace_backward(a * 2)[0].edges[0]
    >>> edge.parent is a, edge.local, edge.contribution, edge.total
    (True, 2.0, 2.0, 2.0)
    """

    parent: Value
    local: float  # ∂node/∂parent, from the op table
    contribution: float  # the node's gradient times local
    total: float  # d root/d parent accumulated so far


@dataclass(frozen=True)
class BackwardStep:
    """One node of the backward pass: its gradient, pushed to each of its parents.

    >>> from autograd import Value
    >>> x = Value(3.0, label="x")
    >>> step = trace_backward(x * x)[0]
    >>> step.grad, [(e.local, e.total) for e in step.edges]
    (1.0, [(3.0, 3.0), (3.0, 6.0)])
    """

    node: Value
    grad: float  # d root/d node: complete when the step runs (every user of node came first)
    edges: tuple[EdgeStep, ...]

    def __str__(self) -> str:
        lines = [f"{_name(self.node)}: grad {_fmt(self.grad)}"]
        for edge in self.edges:
            lines.append(
                f"  -> {_name(edge.parent)}: local {_fmt(edge.local)}, "
                f"+= {_fmt(self.grad)} * {_fmt(edge.local)} = {_fmt(edge.contribution)}, "
                f"total {_fmt(edge.total)}"
            )
        return "\n".join(lines)


def _name(node: Value) -> str:
    if node.label:
        return node.label
    if node.is_leaf:
        return f"leaf {_fmt(node.data)}"
    return f"{node.op} {_fmt(node.data)}"


def trace_backward(root: Value) -> list[BackwardStep]:
    """The backward pass from ``root`` as a list of steps, in the order ``backward()`` runs them.

    Each step takes one computed Value (the root first) with its gradient d root/d node, and for
    each parent the local derivative from the op table and the gradient the parent has
    accumulated so far. Nothing in the graph changes: ``.grad`` is not touched. The last
    ``total`` each parent receives is what ``backward()`` stores in its ``.grad`` (for leaves
    whose ``.grad`` started at 0).

    >>> from autograd import Value
    >>> a = Value(0.5, label="a")
    >>> b = a * 3
    >>> b.label = "b"
    >>> print(trace_backward(b.tanh())[1])
    b: grad 0.1807
      -> a: local 3, += 0.1807 * 3 = 0.5421, total 0.5421
      -> leaf 3: local 0.5, += 0.1807 * 0.5 = 0.09035, total 0.09035
    """
    steps: list[BackwardStep] = []
    totals: dict[Value, float] = {}

    def record(node: Value, grad: float, partials: Sequence[float],
               grads: dict[Value, float]) -> None:
        edges = []
        for parent, local in zip(node.parents, partials):
            totals[parent] = totals.get(parent, 0.0) + grad * local
            edges.append(EdgeStep(parent, local, grad * local, totals[parent]))
        steps.append(BackwardStep(node, grad, tuple(edges)))

    gradients(root, on_step=record)
    return steps


def draw_step(root: Value, steps: Sequence[BackwardStep], k: int, rankdir: str = "LR",
              max_nodes: int = 500, *, params: Params | None = None,
              paths_from: Iterable[Value] | None = None,
              size: str | None = None) -> graphviz.Digraph:
    """Draw ``root``'s graph as it is after ``steps[k]`` of ``trace_backward(root)``.

    Gradients are those accumulated by steps ``0..k`` (not the ``.grad`` stored in the Values);
    the node of step ``k`` is highlighted and the edges it sends gradient along are red, labelled
    with their local derivative. Draw every ``k`` in turn to play the backward pass. ``params``,
    ``paths_from`` and ``size`` are ``draw``'s; with ``paths_from``, step ``k``'s node must be in
    the part drawn.

    >>> from autograd import Value
    >>> x = Value(2.0, label="x")
    >>> y = (x * x).tanh()
    >>> steps = trace_backward(y)
    >>> "local 2" in draw_step(y, steps, 1).source  # d(x*x)/dx = x, along each of 2 edges
    True
    """
    if not -len(steps) <= k < len(steps):
        raise IndexError(f"draw_step: k must be in 0..{len(steps) - 1} for {len(steps)} steps, "
                         f"got {k}")
    current = steps[k]
    grads: dict[Value, float] = {root: 1.0}
    for step in steps[: k % len(steps) + 1]:
        for edge in step.edges:
            grads[edge.parent] = edge.total
    labels = {(current.node, i): f"local {_fmt(edge.local)}"
              for i, edge in enumerate(current.edges)}
    graph = _draw(root, rankdir, max_nodes, [current.node],
                  grad_of=lambda node: grads.get(node, 0.0), edge_labels=labels, params=params,
                  paths_from=paths_from, size=size)
    graph.description += (f"; backward step {k % len(steps)} of 0..{len(steps) - 1} "
                           f"highlighted: {_name(current.node)}")
    return graph
