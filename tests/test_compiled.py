"""The compiled core and the reference: the same results, the same errors, and memory kept safe.

The whole suite runs under both implementations (``./dev.sh test`` runs it twice); this file
adds what needs both at once — the two compared case by case in fresh processes — and the
memory checks: graphs freed on drop, the one ``create_graph`` cycle collected, no leaks.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

import autograd
from autograd import Value, apply, engine
from autograd.ops import Op
from tests.conftest import bytes_held_after

ROOT = Path(__file__).resolve().parent.parent
COMPILED = autograd.implementation == "compiled"
compiled_only = pytest.mark.skipif(not COMPILED, reason="the compiled core is not running")


def _core_is_built() -> bool:
    try:
        from autograd import _core  # noqa: F401
    except ImportError:
        return False
    return True


def _run(code: str, pure: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_PURE_PYTHON"}
    if pure:
        env["CHAINRULE_PURE_PYTHON"] = "1"
    done = subprocess.run([sys.executable, *code.split("\0")], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_implementation_names_the_engine_and_the_variable_forces_python():
    assert autograd.implementation in ("compiled", "python")
    printed = _run("-c\0import autograd; print(autograd.implementation)", pure=True)
    assert printed.strip() == "python"
    if _core_is_built() and os.environ.get("CHAINRULE_PURE_PYTHON", "") in ("", "0"):
        assert COMPILED
    if os.environ.get("CHAINRULE_REQUIRE_COMPILED"):
        assert COMPILED, "this run must test the compiled core, but it is not running"


def _differences(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k),
                                                                          f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: compiled {a!r}, python {b!r}"]


@pytest.mark.skipif(not _core_is_built(), reason="the compiled core is not built")
def test_compiled_and_reference_agree_on_every_case():
    """Every op of the table (samples and hostile points, values, gradients, errors), 300 random
    graphs and the semantic probes of tests/twin_cases.py: equal to the last bit and letter."""
    script = str(ROOT / "tests" / "twin_cases.py")
    compiled = json.loads(_run(script, pure=False))
    python = json.loads(_run(script, pure=True))
    assert (compiled.pop("implementation"), python.pop("implementation")) == ("compiled", "python")
    assert len(compiled["table"]) > 700 and len(compiled["graphs"]) == 300
    differences = _differences(compiled, python)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:30])


def test_the_reference_walk_agrees_with_backward_on_these_nodes():
    x, w = Value(0.7), Value(-1.3)
    y = ((x * w).tanh() + x.exp() / (w * w + 1.0)) ** 2
    y.backward()
    first = (x.grad, w.grad)
    x.grad = w.grad = 0.0
    engine.backward(y)
    assert (x.grad, w.grad) == first


# --- memory ----------------------------------------------------------------------------------


@compiled_only
def test_ordinary_graphs_put_nothing_on_the_cycle_collector():
    a = Value(2.0)
    b = (a * a + 1.0).exp()
    b.backward()
    assert not any(gc.is_tracked(v) for v in (a, b, *b.parents))
    assert not any(type(o) is Value for o in gc.get_objects())


def _values_the_collector_sees() -> int:
    return sum(type(o) is Value for o in gc.get_objects())


def test_the_create_graph_cycle_is_collected():
    gc.collect()
    before = _values_the_collector_sees()
    x = Value(1.5)
    y = (x * x * x).tanh()
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)  # x.grad's graph reaches back to x: a cycle
    if COMPILED:
        assert gc.is_tracked(x) and gc.is_tracked(x.grad)
    del x, y
    gc.collect()
    assert _values_the_collector_sees() == before


def _grows(make, rounds: int = 1000) -> int:
    return bytes_held_after(make, rounds, warmup=100)


def test_building_and_dropping_graphs_holds_no_memory():
    params = [Value(0.1 * i, label=f"p{i}") for i in range(8)]

    def first_order():
        h = autograd.linear(params[:4], [params[4:], params[:4]], [0.5, -0.5], activation="tanh")
        loss = autograd.sum([v * v for v in h]) + sum(p.relu() for p in params) / 8
        loss.label = "loss"
        loss.backward()

    def second_order():  # its own leaves: a parameter's grad would keep each round's graph
        x, w = Value(0.3), Value(-0.4)
        y = (x * w).sin() * x.exp()
        y.backward(create_graph=True)
        x.grad.backward()

    def hessian():
        autograd.hessian(lambda a, b: (a * b).tanh() * a ** 2)(0.3, -0.7)

    for make in (first_order, second_order, hessian):
        assert _grows(make) < 16_000, make.__name__


def test_a_million_deep_chain_is_freed_without_recursion():
    x = a = Value(1.0)
    for _ in range(1_000_000):
        x = x * 1.0
    x.backward()
    assert a.grad == 1.0
    del x  # freeing recurses neither in C nor in Python


@compiled_only
def test_a_node_is_at_most_80_bytes():
    a, b = Value(0.999999), Value(1e-6)
    gc.collect()
    tracemalloc.start()
    try:
        x = Value(1.0)
        for _ in range(10_000):
            x = x * a + b
        held = tracemalloc.get_traced_memory()[0]
        x.backward()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held / 20_000 <= 80.5 and after / 20_000 <= 80.5


# --- threads, interrupts, user ops ------------------------------------------------------------


def test_threads_backpropagating_into_shared_leaves_add_up_exactly():
    w = [Value(0.5), Value(-1.5)]

    def work():
        for _ in range(50):
            ((w[0] * w[1]).tanh() + w[0] ** 2).backward()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    single = [Value(0.5), Value(-1.5)]
    ((single[0] * single[1]).tanh() + single[0] ** 2).backward()
    expected = [0.0, 0.0]
    for _ in range(400):
        expected = [e + s.grad for e, s in zip(expected, single)]
    assert [p.grad for p in w] == expected


def _op(name: str, partials) -> Op:
    try:  # the op table's calling convention: compute(datas), partials(out, inputs)
        return Op(name, forward=lambda x, y: x * y, derivatives=partials, arity=2,
                  domain=[(-2.0, 2.0)] * 2)
    except TypeError:  # pragma: no cover - an older Op signature
        pytest.skip("Op signature differs")


def test_an_interrupt_during_backward_changes_no_grad():
    def interrupted(out, x, y):
        raise KeyboardInterrupt

    op = _op("interrupted", interrupted)
    a, b, c = Value(2.0), Value(3.0), Value(4.0)
    a.grad = 1.0
    y = (a * b + apply(op, b, c)) * c
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    assert (a.grad, b.grad, c.grad, y.grad) == (1.0, 0.0, 0.0, 0.0)


def test_a_users_op_runs_through_its_python_rules():
    op = _op("scaled product", lambda out, x, y: (2.0 * y, 2.0 * x))
    a, b = Value(2.0), Value(3.0)
    y = apply(op, a, 2) + apply(op, a, b) * b
    assert y.op == "+" and y.parents[0].op == "scaled product"
    y.backward()
    assert (a.grad, b.grad) == (2.0 * 2 + 3.0 * 2.0 * 3.0, 2.0 * 2.0 * 3.0 + 2.0 * 3.0)


def test_backward_inside_a_rule_over_shared_leaves_adds_up():
    """A user's rule that itself calls backward() on another graph sharing a leaf. The C walk
    holds its grads in place, so it refuses the inner walk over its busy leaf and hands the
    whole backward to the reference, which allows it: the same result either way."""
    a, b = Value(2.0), Value(3.0)
    z = a * 5.0

    def nested(out, x, y):
        z.backward()
        return (y, x)

    y = apply(_op("nested", nested), a, b) * a  # rules: d/da = b, d/db = a
    y.backward()
    assert (a.grad, b.grad) == (5.0 + 2.0 * 3.0 + 6.0, 2.0 * 2.0)


# --- public API only: sub-interpreters, debug builds ------------------------------------------


def test_a_sub_interpreter_runs_the_reference_and_leaves_the_main_one_intact():
    """A sub-interpreter's import of the core is refused (autograd runs on the reference
    there); the main interpreter's core, its errors, pickling and users' ops keep working."""
    code = """if 1:
        import autograd, copy, pickle
        from autograd import Op, Value, apply
        try:
            import _xxsubinterpreters as interpreters
        except ImportError:
            import _interpreters as interpreters
        child = interpreters.create()
        interpreters.run_string(child, "import autograd, autograd._compiled as c\\n"
            "assert autograd.implementation == 'python', c.reason\\n"
            "from autograd import Value\\n"
            "assert (Value(2.0) ** 2.5).data == 2.0 ** 2.5")
        interpreters.destroy(child)
        assert (Value(2.0) ** 2.5).data == 2.0 ** 2.5
        try:
            Value(1.0) / 0
        except ZeroDivisionError as error:
            assert "cannot divide" in str(error)
        assert pickle.loads(pickle.dumps(Value(1.5))).data == 1.5
        assert copy.deepcopy(Value(2.0) * 3).data == 6.0
        double = Op("double", lambda x: 2 * x, lambda out, x: (2.0,), 1, [(-1, 1)])
        x = Value(1.0)
        apply(double, x).backward()
        print(autograd.implementation, x.grad)
    """
    try:
        import _xxsubinterpreters  # noqa: F401
    except ImportError:
        pytest.importorskip("_interpreters")
    printed = _run(f"-c\0{code}", pure=not COMPILED)
    assert printed.split() == [autograd.implementation, "2.0"]


def test_the_total_refcount_does_not_drift_on_a_debug_build():
    """.ci/refcount: the core built for python3.11-dbg; building and freeing ~40,000 nodes
    leaves sys.gettotalrefcount() where it was (a free that skipped Py_DECREF drifted by one
    per node)."""
    import shutil

    if shutil.which("python3.11-dbg") is None or shutil.which("gcc") is None:
        pytest.skip("needs python3.11-dbg and gcc (apt-get install python3.11-dbg python3.11-dev)")
    if not COMPILED:
        pytest.skip("checked once, in the compiled run")
    if not (ROOT / "autograd" / "_core.c").exists():
        pytest.skip("needs the source tree: .ci/refcount builds autograd/_core.c")
    done = subprocess.run([str(ROOT / ".ci" / "refcount")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "total refcount drift" in done.stdout


@pytest.mark.skipif(not _core_is_built(), reason="the compiled core is not built")
def test_the_differential_fuzzer_finds_no_difference():
    """tests/fuzz.py: 400 random programs over every op, the families, the fused front-ends,
    users' ops, wrong input counts and second derivatives, on both engines, compared to the
    last bit and letter (a longer run: python -m tests.fuzz --programs 100000 --compare)."""
    from tests import fuzz

    differences = fuzz.compare(programs=400, seed=18)
    assert not differences, f"{len(differences)} differences:\n" + "\n".join(differences[:30])


# --- one contract -----------------------------------------------------------------------------


def test_the_autograd_imports_form_no_circle():
    """Every import between autograd's modules, at module level or inside a function (not
    those for type annotations only), points one way: the modules form a DAG (the C core
    receives what it needs in one call instead of reaching back into the package)."""
    import ast

    package = Path(autograd.__file__).parent  # the copy that runs: a clone's or an installed one
    edges: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        module = path.stem
        edges[module] = set()
        tree = ast.parse(path.read_text())
        typing_only = {id(inner) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING"
                       for inner in ast.walk(block)}  # annotations only: no import at run time
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "autograd":
                edges[module] |= {alias.name for alias in node.names
                                  if (package / f"{alias.name}.py").exists()}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograd."):
                edges[module].add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                edges[module] |= {alias.name.split(".")[1] for alias in node.names
                                  if alias.name.startswith("autograd.")}
    edges.pop("__init__")
    for targets in edges.values():
        targets.discard("__init__")
        targets.discard("_core")
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join((*path, module))
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, (*path, module))
        done.add(module)

    for module in sorted(edges):
        visit(module, ())
    assert "value" in edges["fused"]
    # _compiled reads only the build record (_install), which imports nothing of autograd
    assert edges["_compiled"] <= {"_install"} and not edges["_install"]


@compiled_only
def test_only_logsumexp_of_the_table_runs_in_python_inside_the_c_core():
    """Each op of the table has a C row bound by its name (autograd/_core.c, ROWS); those
    without one run through their Python rules inside the C walk, slower. An op added to
    ops.py shows up here until it gets a row (or is added here on purpose)."""
    from autograd import _compiled

    assert _compiled.core.python_ops() == ("logsumexp",)
