"""Record once, replay many: ``autograd.compile`` turns a function's graph into a program.

The first call of a compiled function runs it eagerly while recording; its graph becomes a
**tape**: the leaves (the arguments, the Values the function read that exist outside it, the
constants) and one instruction per node, in the engine's own topological order. A later call
with arguments of the same shape replays the tape on the new numbers: no Value is made per op,
and ``backward()`` on the result fills ``.grad`` exactly as the eager walk would.

Also here: ``read_floats`` and ``write_floats``, the bulk transfer of many Values' numbers that
optimizers of a compiled step use instead of a Python loop per parameter.
"""

from __future__ import annotations

import functools
import sys
import threading
from array import array
from collections import Counter, OrderedDict
from itertools import accumulate, chain
from math import isfinite
from numbers import Real
from operator import attrgetter
from typing import Any, Callable, Iterable, Sequence

from autograd import _compiled, engine, grad_mode
from autograd.grad_mode import DataDependentError, is_recording, no_grad
from autograd.ops import LEAF, UNTRACKED, Op
from autograd.value import Value, _as_float, forward_numbers

__all__ = [
    "Compiled",
    "DataDependentError",
    "Replayed",
    "Tape",
    "compile",
    "flatten",
    "is_recording",
    "read_floats",
    "write_floats",
]

MAX_RECORDINGS = 32
"""How many recordings (argument shapes) a compiled function keeps by default."""

# --- the tape: a graph as flat arrays ------------------------------------------------------------


class Tape:
    """One recording: the graph of one call as flat arrays (the layout is in docs/compile.md).

    Slots number every number of a replay: the ``n_arguments`` arguments, the ``captured``
    Values, the ``constants``, then one slot per instruction. Instruction ``k`` computes
    ``ops[codes[k]]`` on the slots ``parents[starts[k]:starts[k + 1]]``, in a topological
    order. The methods below build the eager engine's errors for a replay (the compiled core
    calls them too, so both say the same).

    >>> from autograd import Value
    >>> w = Value(2.0); f = compile(lambda x: w * x + 1.0); _ = f(3.0)
    >>> tape = next(iter(f.recordings.values())).tape
    >>> tape.n_arguments, tape.captured, list(tape.constants), [op.name for op in tape.ops]
    (1, (Value(data=2.0, grad=0.0),), [1.0], ['*', '+'])
    >>> list(tape.parents), list(tape.starts), list(tape.outputs)
    ([1, 0, 3, 2], [0, 2, 4], [4])
    """

    forward_numbers = staticmethod(forward_numbers)

    def __init__(self, name: str, outputs: list[Value], arguments: list[Value],
                 derived: dict[Value, tuple[Op, Sequence[Value]]]) -> None:
        self.name = name
        nodes = _instruction_order(outputs, derived)
        self.n_arguments = len(arguments)
        captured, constants = _leaves(nodes, outputs, derived, arguments, name)
        self.captured = tuple(captured)
        self.constants = array("d", [x.data for x in constants])
        self.first_instruction = len(arguments) + len(captured) + len(constants)
        slot_of = {x: k for k, x in enumerate([*arguments, *captured, *constants, *nodes])}
        self.n_slots = len(slot_of)
        instructions = [(x._op, x._prev) if x._prev else derived[x] for x in nodes]
        code_of: dict[Op, int] = {}
        self.codes = array("i", [code_of.setdefault(op, len(code_of)) for op, _ in instructions])
        self.ops: tuple[Op, ...] = tuple(code_of)
        inputs = [inputs for _, inputs in instructions]
        self.starts = array("i", accumulate(map(len, inputs), initial=0))
        self.parents = array("i", map(slot_of.__getitem__, chain.from_iterable(inputs)))
        # 1 for a node the walk passes through (not a leaf, not softmax's shift)
        self.walkable = bytearray(self.first_instruction) + bytes([bool(x._prev) for x in nodes])
        self.outputs = array("i", map(slot_of.__getitem__, outputs))
        self._orders: dict[int, array] = {}
        if len(outputs) == 1 and not derived and nodes:  # the instructions are the walk's order
            self._orders[self.outputs[0]] = array("i", range(self.n_slots - 1,
                                                              self.first_instruction - 1, -1))
        self._walk_inputs: list[Sequence[int]] | None = None

    @property
    def n_instructions(self) -> int:
        return self.n_slots - self.first_instruction

    def inputs(self, slot: int, values: Sequence[float]) -> list[float]:
        """The numbers instruction ``slot`` computes from."""
        k = slot - self.first_instruction
        return [values[p] for p in self.parents[self.starts[k]:self.starts[k + 1]]]

    def op(self, slot: int) -> Op:
        return self.ops[self.codes[slot - self.first_instruction]]

    def walk_order(self, root: int) -> array:
        """The instruction slots the eager walk from ``root`` visits, root first: the order
        ``engine.topological_order`` gives the graph, reversed (cached per root)."""
        order = self._orders.get(root)
        if order is None:
            order = self._orders[root] = array("i", reversed(self._topological_order(root)))
        return order

    def _topological_order(self, root: int) -> list[int]:
        # engine.topological_order on slots (a SHIFT is a leaf for the walk)
        if self._walk_inputs is None:
            starts, parents, first = self.starts, self.parents, self.first_instruction
            self._walk_inputs = [()] * first + [
                parents[starts[k]:starts[k + 1]] if self.walkable[first + k] else ()
                for k in range(self.n_instructions)]
        return engine.depth_first(root, self._walk_inputs.__getitem__, set())

    # --- the eager engine's errors, for a replay ------------------------------------------

    def node_error(self, slot: int, values: Sequence[float], error: Exception) -> Exception:
        """The walk's error for a rule that failed at instruction ``slot``."""
        return engine.rule_error(self.op(slot).name, self.inputs(slot, values), error)

    def gradient_error(self, slot: int, values: Sequence[float], grad: float) -> Exception:
        """The walk's error at an instruction whose gradient is not finite."""
        return self.node_error(slot, values, engine._not_finite(grad))

    def rule_check(self, slot: int, values: Sequence[float]) -> Exception | None:
        """The error the first-order rule raises at instruction ``slot``, or None."""
        try:
            partials = self.op(slot).partials(values[slot], self.inputs(slot, values))
            engine.as_numbers(partials)
        except engine.RULE_ERRORS as error:
            return self.node_error(slot, values, error)
        return None

    def end_error(self, slot: int, grad: float, values: Sequence[float],
                  grads: Sequence[float]) -> Exception:
        """The walk's error for a gradient that is not finite at an end (a leaf)."""
        return engine._end_error(self._leaf(slot, values, grads), grad)

    def accumulate_error(self, slot: int, grad: float, values: Sequence[float],
                         grads: Sequence[float]) -> Exception:
        """``backward``'s error when adding ``grad`` to the leaf's ``.grad`` overflows."""
        return engine._accumulate_error(self._leaf(slot, values, grads), grad)

    def _leaf(self, slot: int, values: Sequence[float], grads: Sequence[float]) -> Value:
        """The leaf at ``slot`` as the eager graph had it (a stand-in where it has none)."""
        if self.n_arguments <= slot < self.n_arguments + len(self.captured):
            return self.captured[slot - self.n_arguments]
        stand_in = Value(values[slot])
        stand_in.grad = grads[slot]
        return stand_in


def _instruction_order(outputs: list[Value], derived: dict[Value, Any]) -> list[Value]:
    """Every node the outputs depend on, each after its inputs: engine.topological_order, for
    many roots, with softmax's shifts made nodes of their inputs for the while (so each comes
    after the Values it is computed from), then leaves again."""
    for leaf, (op, inputs) in derived.items():
        leaf._op, leaf._prev = op, tuple(inputs)
    try:
        if len(outputs) == 1:
            return engine.topological_order(outputs[0])
        order: list[Value] = []
        seen: set[Value] = set()
        for root in outputs:
            order += engine.depth_first(root, _PREV, seen)
        return order
    finally:
        for leaf in derived:
            leaf._prev, leaf._op = (), LEAF


_PREV = attrgetter("_prev")


def _leaves(nodes: list[Value], outputs: list[Value], derived: dict[Value, Any],
            arguments: list[Value], name: str) -> tuple[list[Value], list[Value]]:
    """The leaves that are not arguments, split into captured Values and constants.

    A leaf that something outside the graph holds (a model, a list, a closure) is captured: a
    replay reads its ``.data`` then and accumulates into its ``.grad``, as eager would. A leaf
    only the graph holds was made during the call from a number (``x * 2``): nothing else can
    read or change it, so its number is a constant of the recording. Which is which, the
    reference counts tell: the graph's own references are counted here.
    """
    held = _graph_references(nodes, outputs, derived)
    not_leaves = {*arguments, *derived}
    candidates = [x for x in held if not x._prev and x not in not_leaves]
    return _classify(candidates, held, name)


def _graph_references(nodes: list[Value], outputs: list[Value],
                      derived: dict[Value, Any]) -> Counter[Value]:
    """How many references the graph and the recorder hold to each Value it uses, in the
    order the instructions first use them."""
    held = Counter(chain.from_iterable([x._prev for x in nodes]))
    held.update(outputs * 2)  # the list `outputs`, and the function's result holds each once
    held.update(iter(derived))  # the registry's keys (an iterator: a dict would add counts)
    for inputs in {id(inputs): inputs for _, inputs in derived.values()}.values():
        held.update(inputs)  # (the leaves of one softmax share one list)
    return held


def _classify(candidates: list[Value], held: Counter[Value],
              name: str) -> tuple[list[Value], list[Value]]:
    counted = hasattr(sys, "getrefcount")  # not on PyPy or GraalPy: every leaf is captured
    outside = _held_outside(candidates, held) if counted else [1] * len(candidates)
    captured: list[Value] = []
    constants: list[Value] = []
    for leaf, count in zip(candidates, outside):
        if leaf._op is UNTRACKED and (count <= 0 or not counted):
            raise DataDependentError(
                f"{name} used a Value computed inside no_grad() (data {leaf.data!r}): a "
                f"recording would keep its number as a constant. Compute it outside "
                f"no_grad(), or outside the compiled function and let the function read it")
        (captured if count > 0 else constants).append(leaf)
    return captured, constants


def _held_outside(candidates: list[Value], held: Counter[Value]) -> list[int]:
    """How many references beyond the graph's hold each candidate. Besides the graph's (that
    `held` counts), the candidate is referenced by `held`'s key, by the list `candidates` and
    by the counting itself: these are measured on a probe held the same way, as CPython
    versions differ in the references a call borrows."""
    probes = [object()]
    keys = dict.fromkeys(probes)
    ours = _reference_counts(probes)[0]
    del keys
    return [count - ours - held[leaf]
            for leaf, count in zip(candidates, _reference_counts(candidates))]


def _reference_counts(objects: list[Any]) -> list[int]:
    return [sys.getrefcount(x) for x in objects]


# --- the program: the tape run forward and backward ---------------------------------------------


class PyProgram:
    """The reference replay of a tape: ``apply``'s steps per instruction, then ``engine.walk``'s.

    The compiled core's ``Program`` is its twin (one C loop per pass, no Python object per
    instruction); both give the eager engine's bits and errors.

    >>> from autograd import Value
    >>> w = Value(2.0); f = compile(lambda x: w * x); _ = f(3.0)
    >>> tape = next(iter(f.recordings.values())).tape
    >>> values = PyProgram(tape).forward(array("d", [5.0])); values
    array('d', [5.0, 2.0, 10.0])
    >>> PyProgram(tape).backward(values, 2, tape.walk_order(2), array("d", [0.0] * 3)); w.grad
    5.0
    """

    def __init__(self, tape: Tape) -> None:
        self.tape = tape

    def forward(self, arguments: array) -> array:
        """The number of every slot, from the arguments' numbers and the captured Values'."""
        tape = self.tape
        values = array("d", arguments)
        if len(values) != tape.n_arguments:
            raise ValueError(f"Program.forward: the recording takes {tape.n_arguments} numbers, "
                             f"got {len(values)}")
        values.extend([x.data for x in tape.captured])
        values.extend(tape.constants)
        ops, codes, starts, parents = tape.ops, tape.codes, tape.starts, tape.parents
        for k, code in enumerate(codes):
            inputs = [values[p] for p in parents[starts[k]:starts[k + 1]]]
            values.append(forward_numbers(ops[code], inputs))
        return values

    def backward(self, values: array, root: int, order: array, grads: array) -> None:
        """The eager walk from slot ``root`` over the instructions of ``order`` (root first);
        the ends accumulate: the captured Values into ``.grad``, the other slots into
        ``grads``. All or nothing, with the eager walk's errors."""
        tape = self.tape
        ops, codes, starts, parents = tape.ops, tape.codes, tape.starts, tape.parents
        first = tape.first_instruction
        sums: dict[int, float] = {root: 1.0}
        node = root
        try:
            with no_grad():  # as engine.walk runs the rules (a user's rule may make Values)
                for node in order:
                    grad = sums.pop(node, 0.0)
                    if not isfinite(grad):
                        raise engine._not_finite(grad)
                    k = node - first
                    op = ops[codes[k]]
                    if grad == 0.0 and op.always_defined:
                        continue  # nothing to pass on, and its rule cannot fail
                    inputs = parents[starts[k]:starts[k + 1]]
                    partials = op.partials(values[node], [values[p] for p in inputs])
                    if len(partials) != len(inputs):
                        raise engine._count_error(partials, inputs)
                    partials = engine.as_numbers(partials)
                    if grad != 0.0:
                        engine.pass_on(sums, grad, inputs, partials)
        except engine.RULE_ERRORS as error:
            raise tape.node_error(node, values, error) from None
        for end, grad in sums.items():
            if not isfinite(grad):
                raise tape.end_error(end, grad, values, grads)
        low, high = tape.n_arguments, tape.n_arguments + len(tape.captured)
        totals = []
        for end, grad in sums.items():
            total = engine.accumulated(tape.captured[end - low].grad if low <= end < high
                                       else grads[end], grad)
            if total is None:
                raise tape.accumulate_error(end, grad, values, grads)
            totals.append(total)
        for end, total in zip(sums, totals):
            if low <= end < high:
                tape.captured[end - low].grad = total
            else:
                grads[end] = total


Program: Any = getattr(_compiled.core, "Program", None) or PyProgram
"""The replay that runs: the compiled core's ``Program`` when it is built, else ``PyProgram``."""


# --- what a compiled function returns ------------------------------------------------------------


class _Run:
    """One replay: the numbers of every slot, shared by the outputs of one call."""

    __slots__ = ("recording", "values", "grads", "tracked")

    def __init__(self, recording: _Recording, values: array, tracked: bool) -> None:
        self.recording, self.values, self.tracked = recording, values, tracked
        self.grads: array | None = None  # the .grad of the leaves that are no Value, if asked


class Replayed:
    """A result of a replayed call: behaves as the eager result (``data``, ``backward()``).

    >>> from autograd import Value
    >>> w = Value(2.0)
    >>> f = compile(lambda x: w * x * x)
    >>> f(3.0).data, f(4.0).data          # the first call records, the second replays
    (18.0, 32.0)
    >>> y = f(5.0); y.backward(); w.grad  # d(w x²)/dw at x = 5
    25.0
    """

    __slots__ = ("_run", "_slot", "grad")

    def __init__(self, run: _Run, slot: int) -> None:
        self._run, self._slot = run, slot
        self.grad = 0.0

    @property
    def data(self) -> float:
        """The number, as the eager result's ``.data``."""
        return self._run.values[self._slot]

    def item(self) -> float:
        """The plain float, as ``Value.item()``."""
        return self._run.values[self._slot]

    def __float__(self) -> float:
        return self._run.values[self._slot]

    def __repr__(self) -> str:
        return f"Replayed(data={self.data!r}, grad={self.grad!r})"

    # compared by their numbers, as Values are (``loss < best``)

    def __lt__(self, other: Any) -> bool:
        return self.data < _number(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _number(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _number(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _number(other)

    def backward(self, create_graph: bool = False) -> None:
        """Fill ``.grad`` of the Values the function read, exactly as eager ``backward()``.

        The captured Values (a model's parameters) accumulate; all or nothing; the same errors.
        """
        run = self._run
        if create_graph:
            raise RuntimeError("backward(create_graph=True): a replayed result has no graph to "
                               "differentiate again; call the function un-compiled for that")
        if not run.tracked:
            raise engine.untracked_error()
        tape = run.recording.tape
        if run.grads is None:
            run.grads = array("d", [0.0]) * tape.n_slots
        slot = self._slot
        run.recording.program.backward(run.values, slot, tape.walk_order(slot), run.grads)
        if tape.walkable[slot]:
            self.grad = 1.0  # as eager backward() sets the root's
        elif tape.n_arguments <= slot < tape.n_arguments + len(tape.captured):
            self.grad = tape.captured[slot - tape.n_arguments].grad
        else:
            self.grad = run.grads[slot]


def _number(x: Any) -> Any:
    return x.data if isinstance(x, (Value, Replayed)) else x


class _Recording:
    """A tape, its program, and how to rebuild the function's result from the outputs."""

    __slots__ = ("tape", "program", "structure")

    def __init__(self, tape: Tape, structure: Any) -> None:
        self.tape, self.structure = tape, structure
        self.program = Program(tape)

    def replay(self, arguments: array) -> Any:
        tracked = grad_mode.is_grad_enabled()
        run = _Run(self, self.program.forward(arguments), tracked)
        return _rebuild(self.structure, run)


# --- compile: the cache of recordings, keyed by the arguments' shape -----------------------------

def py_flatten(arguments: Any) -> tuple[tuple[Any, ...], array]:
    """The shape of ``arguments`` and their numbers: what a recording is looked up by.

    The shape is a tuple of tokens, the arguments read depth first: ``"["`` or ``"("`` and the
    length for a list or a tuple, ``None`` for a number, ``(type, x)`` for anything else (so
    it compares by value). The numbers are converted as ``Value(x)`` would (NaN refused).

    >>> py_flatten(([1.0, 2], "mean"))
    (('(', 2, '[', 2, None, None, (<class 'str'>, 'mean')), array('d', [1.0, 2.0]))
    """
    tokens: list[Any] = []
    numbers = array("d")
    stack = [arguments]
    while stack:
        x = stack.pop()
        if type(x) is float and x == x:
            tokens.append(None)
            numbers.append(x)
        elif type(x) is list or type(x) is tuple:
            tokens += ("[" if type(x) is list else "(", len(x))
            stack += reversed(x)
        elif isinstance(x, Real) and not isinstance(x, (bool, Value)):
            tokens.append(None)
            numbers.append(_as_float(x))
        else:
            tokens.append(_other(x))
    return tuple(tokens), numbers


def _other(x: Any) -> tuple[type, Any]:
    """The token of an argument that is neither a number nor a list or tuple."""
    if isinstance(x, Value):
        raise TypeError("compile: an argument is a Value; pass numbers (value.data, outside the "
                        "function), or let the function read the Value itself (it is then "
                        "captured: a replay reads its current .data)")
    if type(x) is float:  # NaN: refused as Value(nan) refuses it
        _as_float(x)
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"compile: an argument is a {type(x).__name__}, which is neither a "
                        f"number, a list or tuple of them, nor hashable (the arguments' shape "
                        f"is a dictionary key); pass numbers in lists (e.g. array.tolist())"
                        ) from None
    return (type(x), x)


flatten = getattr(_compiled.core, "flatten", None) or py_flatten
"""``py_flatten``, by the compiled core when it runs."""


def _with_values(x: Any, leaves: list[Value]) -> Any:
    """The arguments with each number made a new leaf Value (appended to ``leaves``)."""
    if type(x) is list or type(x) is tuple:
        return type(x)([_with_values(item, leaves) for item in x])
    if isinstance(x, Real) and not isinstance(x, (bool, Value)):
        leaves.append(Value(x))
        return leaves[-1]
    return x


def _outputs(result: Any, outputs: list[Value], name: str) -> Any:
    """The structure of what the function returned, with its Values listed in ``outputs``."""
    if isinstance(result, Value):
        outputs.append(result)
        return len(outputs) - 1
    if type(result) is list or type(result) is tuple:
        return (type(result), tuple([_outputs(item, outputs, name) for item in result]))
    if result is None or type(result) in (float, int, str, bool):
        return ("constant", result)
    raise TypeError(f"compile: {name} returned a {type(result).__name__}; a compiled function "
                    f"returns Values, numbers, or lists and tuples of them")


def _rebuild(structure: Any, run: _Run) -> Any:
    if type(structure) is int:
        return Replayed(run, run.recording.tape.outputs[structure])
    if structure[0] == "constant":
        return structure[1]
    return structure[0]([_rebuild(item, run) for item in structure[1]])


class Compiled:
    """A function that records its graph on the first call with a given shape of arguments and
    replays the recording on the next ones (see ``compile``); ``recordings`` holds them, the
    most recently used last.

    >>> f = Compiled(lambda xs: sum(xs, start=xs[0] * 0.0), max_recordings=4)
    >>> f([1.0, 2.0]).data, f([3.0, 4.0]).data, len(f.recordings)
    (3.0, 7.0, 1)
    """

    def __init__(self, function: Callable[..., Any], max_recordings: int = MAX_RECORDINGS) -> None:
        if not callable(function):
            raise TypeError(f"compile: needs a function, got {type(function).__name__}")
        if type(max_recordings) is not int or max_recordings < 1:
            raise ValueError(f"compile: max_recordings must be a positive int, got "
                             f"{max_recordings!r}")
        functools.update_wrapper(self, function)
        self.function = function
        self.max_recordings = max_recordings
        self.recordings: OrderedDict[Any, _Recording] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if grad_mode.recording.function:  # called by a function being recorded: part of it
            return self.function(*args, **kwargs)
        shape, numbers = flatten((args, tuple(kwargs.items())) if kwargs else args)
        with self._lock:
            recording = self.recordings.get(shape)
            if recording is not None:
                self.recordings.move_to_end(shape)
        if recording is not None:
            try:
                return recording.replay(numbers)
            except Exception:
                # The tape runs in topological order, the eager call ran in the order it made
                # the nodes: where two ops fail, it names another. Run it eagerly for its error.
                self.function(*_with_values(args, []),
                              **{name: _with_values(x, []) for name, x in kwargs.items()})
                raise
        if not grad_mode.is_grad_enabled():  # no graph to record: run it as it is
            return self.function(*args, **kwargs)
        return self._record(shape, args, kwargs)

    def _record(self, shape: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        leaves: list[Value] = []
        args = _with_values(args, leaves)
        kwargs = {name: _with_values(x, leaves) for name, x in kwargs.items()}
        name = getattr(self.function, "__qualname__", None) or repr(self.function)
        state = grad_mode.recording
        state.derived = {}
        grad_mode.set_recording(name)
        try:
            result = self.function(*args, **kwargs)
        finally:
            grad_mode.set_recording("")
            derived, state.derived = state.derived, {}
        outputs: list[Value] = []
        structure = _outputs(result, outputs, name)
        recording = _Recording(Tape(name, outputs, leaves, derived), structure)
        del outputs, derived
        with self._lock:
            self.recordings[shape] = recording
            while len(self.recordings) > self.max_recordings:
                self.recordings.popitem(last=False)
        return result

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        """As a method: the instance is the first argument (a part of the shape, by identity
        unless its class compares by value)."""
        return self if instance is None else functools.partial(self, instance)

    def __repr__(self) -> str:
        return f"<compiled {getattr(self.function, '__qualname__', self.function)!r}: " \
               f"{len(self.recordings)} recordings>"


def compile(function: Callable[..., Any] | None = None, *,
            max_recordings: int = MAX_RECORDINGS) -> Any:
    """Record ``function``'s graph once per shape of its arguments, then replay it.

    The first call with a given shape (the nesting and lengths of the arguments, and whatever
    is not a number, by value) runs ``function`` eagerly, each number made a leaf Value, and
    records the graph it builds; it returns the eager result. Later calls with that shape
    replay the recording on the new numbers and on the current ``.data`` of the Values the
    function reads (a model's parameters), without making a Value per op: the result has
    ``.data`` and ``backward()``, which fills the ``.grad`` of those Values exactly as eager
    ``backward()`` would (they accumulate). Reading a Value's number while recording raises
    ``DataDependentError``. Use as ``compile(f)`` or as the decorator ``@compile``.

    >>> from autograd import Value
    >>> w = Value(0.5)
    >>> @compile
    ... def loss(x, y):
    ...     return (w * x - y) ** 2
    >>> [loss(x, y).data for x, y in [(1.0, 2.0), (2.0, 0.0)]]  # records, then replays
    [2.25, 1.0]
    >>> loss(2.0, 0.0).backward(); w.grad
    4.0
    """
    if function is None:
        return lambda function: Compiled(function, max_recordings)
    return Compiled(function, max_recordings)


# --- bulk transfer for optimizers: many Values' numbers at once -------------------------------

_ATTRIBUTES = ("data", "grad")


def _check_attribute(function: str, attribute: object) -> None:
    if attribute not in _ATTRIBUTES:
        raise ValueError(f"{function}: attribute must be 'data' or 'grad', got {attribute!r}")


def _not_a_value(function: str, position: int, value: object) -> TypeError:
    return TypeError(f"{function}: values[{position}] is a {type(value).__name__}, not a Value")


def py_read_floats(values: Sequence[Value], attribute: str) -> array:
    """The ``.data`` or ``.grad`` of every Value of ``values``, as an ``array('d')``.

    >>> read_floats([Value(1.0), Value(2.5)], "data")
    array('d', [1.0, 2.5])
    """
    _check_attribute("read_floats", attribute)
    numbers = array("d")
    for position, value in enumerate(values):
        if not isinstance(value, Value):
            raise _not_a_value("read_floats", position, value)
        number = getattr(value, attribute)
        if type(number) is not float:  # a Value, after backward(create_graph=True)
            raise TypeError(f"read_floats: values[{position}].grad is a Value (from "
                            f"backward(create_graph=True)), not a number")
        numbers.append(number)
    return numbers


def py_write_floats(values: Sequence[Value], attribute: str, numbers: Iterable[float]) -> None:
    """Set the ``.data`` or ``.grad`` of every Value of ``values`` from ``numbers``.

    ``numbers``: an ``array('d')``, a float64 numpy array, anything with the buffer protocol or
    a sequence of real numbers, one per Value. Each is checked as setting the attribute would
    check it (``.data`` refuses NaN and what is not a real number), all before any is written.

    >>> xs = [Value(0.0), Value(0.0)]
    >>> write_floats(xs, "data", [1.0, 2.5]); [x.data for x in xs]
    [1.0, 2.5]
    """
    _check_attribute("write_floats", attribute)
    try:
        numbers = memoryview(numbers).tolist() if _is_double_buffer(numbers) else list(numbers)
    except TypeError:
        raise TypeError(f"write_floats: numbers must be a sequence or a buffer of floats, got "
                        f"{type(numbers).__name__}") from None
    if len(numbers) != len(values):
        raise ValueError(f"write_floats: {len(values)} values but {len(numbers)} numbers")
    checked = []
    for position, (value, number) in enumerate(zip(values, numbers)):
        if not isinstance(value, Value):
            raise _not_a_value("write_floats", position, value)
        try:
            if attribute == "data" or type(number) is not float:
                number = _as_float(number) if attribute == "data" else _as_grad(number)
        except (TypeError, ValueError, OverflowError) as error:
            raise type(error)(f"write_floats: numbers[{position}]: {error}") from None
        checked.append(number)
    for value, number in zip(values, checked):
        setattr(value, attribute, number)


def _as_grad(number: Any) -> float:
    """A gradient as setting ``.grad`` takes it: a float as it is (even inf or NaN)."""
    if isinstance(number, float):
        return float(number)
    return _as_float(number)


def _is_double_buffer(numbers: object) -> bool:
    try:
        view = memoryview(numbers)  # type: ignore[arg-type]
    except TypeError:
        return False
    return view.format == "d" and view.ndim == 1 and view.c_contiguous


read_floats = getattr(_compiled.core, "read_floats", None) or py_read_floats
"""``py_read_floats``, by the compiled core when it runs (no Python loop per Value)."""
write_floats = getattr(_compiled.core, "write_floats", None) or py_write_floats
"""``py_write_floats``, by the compiled core when it runs (no Python loop per Value)."""
