"""Step through the backward pass: a slider and two buttons over ``trace_backward``'s steps.

``step_through(root)`` returns a ``BackwardStepper``. In Jupyter it shows as a widget: moving the
slider (or pressing "back" and "next") redraws the graph as it is after that step of
``backward()``, with the step's node highlighted, its gradient in its record, and each edge to a
parent in red, labelled with that parent's local derivative ∂(node)/∂(parent); under the
slider, the step in words. Nothing in the graph changes: the drawing shows the gradients
``trace_backward`` computed, not ``.grad``.

Where widgets cannot run (a saved notebook opened without a kernel, or shown on GitHub), the
same output shows a static fallback: the drawing of the step the slider was on, as an image, and
the whole walk as text, that step marked.

The widget needs ``ipywidgets`` (``pip install chainrule[notebooks]``) and the drawings
``graphviz`` (``chainrule[viz]``) and Graphviz's ``dot``; each is imported only when needed.

>>> from autograd import Value
>>> x = Value(2.0, label="x")
>>> y = (x * x).tanh()
>>> stepper = step_through(y)  # in a notebook, the last line of a cell shows the widget
>>> stepper.k, len(stepper.steps)
(0, 2)
>>> stepper.k = 1  # what the slider does
>>> "local 2" in stepper.graph.source  # d(x*x)/dx = x, on each of the two edges to x
True
"""

from __future__ import annotations

import contextlib
import html
from typing import TYPE_CHECKING, Any, Iterable

from autograd.value import Value
from autograd.viz import (
    BackwardStep,
    DotNotFoundError,
    draw,
    draw_step,
    require_dot,
    trace_backward,
)

if TYPE_CHECKING:
    import graphviz

__all__ = ["BackwardStepper", "step_through"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LEGEND = ("local: the local derivative ∂(node)/∂(parent) of the highlighted node's op; "
          "+= grad * local: what the parent receives; total: the parent's gradient so far")


def step_through(root: Value, *, start: int | Value = 0, rankdir: str = "LR", max_nodes: int = 500,
                 params: Any = None, paths_from: Iterable[Value] | None = None,
                 size: str | None = None) -> BackwardStepper:
    """A ``BackwardStepper`` over ``trace_backward(root)``, showing step ``start`` first.

    ``start`` is a step's number in ``trace_backward(root)`` (negative counts from the end), or
    the Value whose step to show. The other arguments are ``draw_step``'s: ``rankdir``,
    ``max_nodes``, ``params`` (names for parameters, ``model.named_parameters()``), ``size``,
    and ``paths_from`` (draw only the paths from these Values to ``root``; then the slider moves
    only over the steps whose node is drawn, keeping their numbers in ``trace_backward``).

    >>> from autograd import Value
    >>> a = Value(0.5, label="a")
    >>> stepper = step_through((a * 3).tanh(), start=-1)  # the last step
    >>> print(stepper.text)
    step 1 of 0..1
    * 1.5: grad 0.1807
      -> a: local 3, += 0.1807 * 3 = 0.5421, total 0.5421
      -> leaf 3: local 0.5, += 0.1807 * 0.5 = 0.09035, total 0.09035
    """
    return BackwardStepper(root, start=start, rankdir=rankdir, max_nodes=max_nodes,
                           params=params, paths_from=paths_from, size=size)


class BackwardStepper:
    """``backward()`` from ``root``, one step at a time: a widget in Jupyter, text elsewhere.

    ``steps`` is ``trace_backward(root)`` and ``drawn`` the numbers of the steps the slider
    moves over (every step, or with ``paths_from`` those whose node is drawn); ``k`` the number
    of the step shown, which the slider sets; ``graph`` the drawing of step ``k``
    (``draw_step``); ``text`` step ``k`` in words; ``widget`` the ``ipywidgets`` box (made on
    first use, with ``slider`` in it). ``step_through`` says what the arguments do.

    >>> from autograd import Value
    >>> x = Value(3.0, label="x")
    >>> stepper = BackwardStepper(x * x)
    >>> stepper.steps[0].grad, [edge.local for edge in stepper.steps[0].edges]
    (1.0, [3.0, 3.0])
    """

    def __init__(self, root: Value, *, start: int | Value = 0, rankdir: str = "LR",
                 max_nodes: int = 500, params: Any = None,
                 paths_from: Iterable[Value] | None = None, size: str | None = None) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"step_through: root must be a Value, got {type(root).__name__}")
        paths = None if paths_from is None else list(paths_from)
        steps = trace_backward(root)
        draw(root, rankdir, max_nodes=max_nodes, params=params, paths_from=paths,
             size=size)  # the options checked once, with draw's errors
        if not steps:
            raise ValueError("step_through: root is a leaf, so backward() has no step to show "
                             "(compute something from it first)")
        self.root = root
        self.steps: list[BackwardStep] = steps
        # with paths_from, the steps whose node is drawn: draw_step refuses the others
        self.drawn: list[int] = [k for k in range(len(steps)) if paths is None or _drawable(
            root, steps, k, rankdir, max_nodes, params, paths)]
        self._options: dict[str, Any] = {"rankdir": rankdir, "max_nodes": max_nodes,
                                         "params": params, "paths_from": paths, "size": size}
        if isinstance(start, Value):
            start = next((k for k, step in enumerate(steps) if step.node is start), None)
            if start is None:
                raise ValueError("step_through: start is a Value that backward() takes no step "
                                 "at (a leaf, or not in root's graph): give a computed "
                                 "Value of root's graph, or a step's number")
        self._k = self._index(start)
        self._svg: dict[int, str] = {}  # rendered drawings, by step
        self._widget: Any = None
        self.slider: Any = None

    # --- which step -----------------------------------------------------------------------------

    def _index(self, k: Any) -> int:
        n = len(self.steps)
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"step_through: a step must be an int in 0..{n - 1}, "
                            f"got {type(k).__name__}")
        if not -n <= k < n:
            raise IndexError(f"step_through: a step must be in 0..{n - 1} for {n} steps "
                             f"(or -{n}..-1 from the end), got {k}")
        if k % n not in self.drawn:
            raise ValueError(f"step_through: step {k}'s node is not in the drawing (paths_from); "
                             f"the steps drawn are {_ranges(self.drawn)}")
        return k % n

    @property
    def k(self) -> int:
        """The number of the step shown, 0 (the root's) to ``len(steps) - 1`` (one of
        ``drawn``); setting it moves the slider."""
        return self._k

    @k.setter
    def k(self, k: int) -> None:
        k = self._index(k)
        if self.slider is not None:
            self.slider.value = k  # its observer calls _show
        else:
            self._k = k

    @property
    def step(self) -> BackwardStep:
        """``steps[k]``, the step shown."""
        return self.steps[self._k]

    # --- what is shown --------------------------------------------------------------------------

    @property
    def graph(self) -> graphviz.Digraph:
        """The drawing of step ``k``: ``draw_step`` of the step in ``trace_backward(root)``."""
        o = self._options
        return draw_step(self.root, self.steps, self._k,
                         o["rankdir"], o["max_nodes"], params=o["params"],
                         paths_from=o["paths_from"], size=o["size"])

    @property
    def text(self) -> str:
        """Step ``k`` in words, as ``trace_backward`` prints it, after a line saying which."""
        return f"step {self._k} of 0..{len(self.steps) - 1}\n{self.step}"

    def transcript(self) -> str:
        """Every step in words, step ``k`` marked with ``>>``.

        >>> from autograd import Value
        >>> x = Value(3.0, label="x")
        >>> y = x * x
        >>> y.label = "y"
        >>> print(step_through(y).transcript())
        >> step 0: y: grad 1
             -> x: local 3, += 1 * 3 = 3, total 3
             -> x: local 3, += 1 * 3 = 3, total 6
        """
        lines = []
        for k, step in enumerate(self.steps):
            mark = ">> " if k == self._k else "   "
            lines.append(mark + f"step {k}: {step}".replace("\n", "\n   "))
        return "\n".join(lines)

    def svg(self) -> str:
        """The drawing of step ``k`` as an ``<svg>`` element (``DotNotFoundError`` without dot)."""
        if self._k not in self._svg:
            svg = self.graph.pipe(format="svg", encoding="utf-8")
            self._svg[self._k] = svg[svg.index("<svg"):]  # without the XML header and doctype
        return self._svg[self._k]

    # --- the widget -----------------------------------------------------------------------------

    @property
    def widget(self) -> Any:
        """The ``ipywidgets.VBox``: "back", a slider over the steps and "next", the step in
        words, and its drawing. Made (and ``ipywidgets`` imported) on first use."""
        if self._widget is None:
            self._widget = self._make_widget()
        return self._widget

    def _make_widget(self) -> Any:
        try:
            import ipywidgets as widgets
        except ImportError:
            raise ImportError("step_through's widget needs ipywidgets: pip install ipywidgets "
                              "(or pip install 'chainrule[notebooks]'); without it, print "
                              "stepper.transcript() or draw stepper.graph") from None
        # its value is the step's number in trace_backward, its readout too
        self.slider = widgets.SelectionSlider(options=[(str(k), k) for k in self.drawn],
                                              value=self._k, description="step",
                                              continuous_update=True,
                                              layout=widgets.Layout(width="420px"))
        back = widgets.Button(description="back", icon="step-backward", tooltip="step back",
                              layout=widgets.Layout(width="80px"))
        forward = widgets.Button(description="next", icon="step-forward", tooltip="next step",
                                 layout=widgets.Layout(width="80px"))
        back.on_click(lambda _: self._move(-1))
        forward.on_click(lambda _: self._move(+1))
        self._words = widgets.HTML()
        self._drawing = widgets.HTML()
        self._drawing.add_class("chainrule-step-drawing")
        legend = widgets.HTML(f"<small>{html.escape(LEGEND)}</small>")
        self.slider.observe(lambda change: self._show(change["new"]), names="value")
        self._show(self._k)
        return widgets.VBox([widgets.HBox([back, self.slider, forward]), self._words, legend,
                             self._drawing])

    def _move(self, by: int) -> None:
        at = self.drawn.index(self.slider.value) + by
        self.slider.value = self.drawn[min(max(at, 0), len(self.drawn) - 1)]

    def _show(self, k: int) -> None:
        self._k = k
        self._words.value = f"<pre style='margin:0'>{html.escape(self.text)}</pre>"
        try:
            require_dot()
            self._drawing.value = self.svg()
        except DotNotFoundError as missing:
            self._drawing.value = f"<pre>{html.escape(str(missing))}</pre>"

    # --- how Jupyter shows it -------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                          **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The widget, and the static fallback beside it: the drawing of step ``k`` as the
        drawing shows itself (SVG), and the walk as text; a frontend that cannot show the
        widget (no kernel, GitHub) shows the richest of the others."""
        shown = self.graph._repr_mimebundle_()
        data, metadata = shown if isinstance(shown, tuple) else (shown, {})
        data = dict(data)
        missing = data.get("text/plain", "") if "image/svg+xml" not in data else ""
        data["text/plain"] = (missing + "\n\n" if missing else "") + self.transcript()
        with contextlib.suppress(ImportError):  # no ipywidgets: the static view alone
            data[WIDGET_VIEW] = self.widget._repr_mimebundle_()[WIDGET_VIEW]
        return data, dict(metadata)

    def __repr__(self) -> str:
        return f"<BackwardStepper: step {self._k} of 0..{len(self.steps) - 1}>"


def _drawable(root: Value, steps: list[BackwardStep], k: int, rankdir: str, max_nodes: int,
              params: Any, paths: list[Value]) -> bool:
    """Whether ``draw_step`` can draw step ``k`` along ``paths`` (its node is in the drawing)."""
    try:
        draw_step(root, steps, k, rankdir, max_nodes, params=params, paths_from=paths)
    except ValueError:  # the options are checked: the step's node is not in the drawing
        return False
    return True


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
