#!/usr/bin/env bash
# Set up chainrule in ./.venv and run it:
#   ./dev.sh demo          train an MLP on the two moons, write plots to results/demo
#   ./dev.sh test [ARGS]   ruff, then every test, doctest and notebook (ARGS go to pytest), run
#                          twice: on the compiled core, then on the pure-Python reference
#   ./dev.sh asan [ARGS]   the compiled core built with AddressSanitizer, and its tests (.ci/asan)
#   ./dev.sh dist [ARGS]   build the sdist and the manylinux wheel, check them, and run the tests
#                          from the unpacked sdist in a fresh venv (.ci/dist; ARGS go to pytest)
#   ./dev.sh matrix        the suite on every CPython within reach (the host's; 3.13, 3.14, 3.15
#                          in a cached Debian testing root) on both engines, and on Pyodide
#                          (.ci/matrix; docs/versions.md)
#   ./dev.sh lab [ARGS]    JupyterLab on notebooks/, with chainrule installed in its kernel
#   ./dev.sh docs [ARGS]   the reference site into results/site (docs/build_site.py; ARGS go to it)
#   ./dev.sh notebooks     run every notebook and save its outputs in place (the test compares
#                          a fresh run with the saved outputs, so rerun this after editing one)
#   ./dev.sh bench [ARGS]  the benchmark suite against micrograd (ARGS go to benchmarks.run, e.g.
#                          --write to update benchmarks/RESULTS.md; --torch first adds PyTorch: the
#                          pinned CPU build, e.g. PIP_FIND_LINKS=DIR holding its wheel)
# Installs what each needs: a venv with the package and its extras, Graphviz's `dot` for the
# notebooks, and for `test` Chromium (with apt-get when run as root; otherwise it says how).
set -euo pipefail
cd "$(dirname "$0")"
venv=.venv
python=${PYTHON:-python3}

setup() {  # setup EXTRAS: a venv with chainrule[EXTRAS] installed (editable)
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "chainrule needs Python >= 3.11 as '$python' (set PYTHON=/path/to/python3)" >&2
        exit 1
    fi
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    local stamp="$venv/.installed-$1" want
    want=$(cat pyproject.toml setup.py autograd/_core.c | cksum)  # the C core rebuilds on change
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$1]"
        echo "$want" >"$stamp"
    fi
}

need_dot() {  # the notebooks render graphs with Graphviz's dot program
    command -v dot >/dev/null && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Graphviz (apt-get install graphviz) for the notebooks' drawings" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null
    else
        echo "Graphviz's 'dot' program is missing. Install it, then run again:" >&2
        echo "  Debian/Ubuntu: sudo apt-get install graphviz   macOS: brew install graphviz" >&2
        echo "  conda: conda install -c conda-forge graphviz" >&2
        exit 1
    fi
}

need_torch() {  # nn.to_torch's tests: the pinned CPU wheel, from disk only (never a CUDA build
    # from the index); without it those tests are skipped, saying why. WHEELS=DIR to look elsewhere
    "$venv/bin/python" -c 'import torch' 2>/dev/null && return
    local tag wheel
    tag=$("$venv/bin/python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
    wheel=$(ls "${WHEELS:-/opt/wheels}"/torch-2.13.0+cpu-"$tag"-*.whl 2>/dev/null | head -n 1 || true)
    [ -n "$wheel" ] && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
    return 0
}

need_browser() {  # tests/test_jupyter_browser.py opens the notebooks in headless Chromium
    command -v chromedriver >/dev/null && { command -v chromium >/dev/null ||
        command -v chromium-browser >/dev/null; } && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Chromium (apt-get install chromium chromium-driver) for the browser test" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            chromium chromium-driver >/dev/null
    else
        echo "Chromium is missing, so the browser test will be skipped. To run it:" >&2
        echo "  Debian/Ubuntu: sudo apt-get install chromium chromium-driver" >&2
    fi
}

case "${1:-}" in
    demo)
        shift
        setup nn
        exec "$venv/bin/python" -m nn.train --dataset moons --out results/demo "$@"
        ;;
    test)
        shift
        setup test
        need_torch
        need_dot
        need_browser
        "$venv/bin/ruff" check .
        "$venv/bin/python" -c 'import autograd as a; print("engine:", a.implementation, a._compiled.reason)'
        # CHAINRULE_MATRIX_RESULTS=DIR: each run's counts also go to DIR (.ci/matrix's table)
        results=${CHAINRULE_MATRIX_RESULTS:+$CHAINRULE_MATRIX_RESULTS/host}
        CHAINRULE_MATRIX_RESULT=${results:+$results-compiled.json} "$venv/bin/python" -m pytest "$@"
        echo "--- again on the pure-Python reference (CHAINRULE_PURE_PYTHON=1)"
        CHAINRULE_MATRIX_RESULT=${results:+$results-python.json} CHAINRULE_PURE_PYTHON=1 \
            exec "$venv/bin/python" -m pytest "$@"
        ;;
    asan)
        shift
        setup test
        exec .ci/asan "$@"
        ;;
    dist)
        shift
        exec .ci/dist "$@"
        ;;
    matrix)
        shift
        exec .ci/matrix "$@"
        ;;
    lab)
        shift
        setup lab
        need_dot
        # the saved outputs are this repository's own: trust them, so that Jupyter shows their
        # SVG drawings (it hides an untrusted notebook's SVG until its cells are run again)
        "$venv/bin/jupyter" trust notebooks/*.ipynb >/dev/null
        root=(); [ "$(id -u)" = 0 ] && root=(--allow-root)  # JupyterLab refuses root without it
        exec "$venv/bin/jupyter" lab --ServerApp.root_dir=notebooks ${root[@]+"${root[@]}"} "$@"
        ;;
    docs)
        shift
        setup docs
        exec "$venv/bin/python" docs/build_site.py "$@"
        ;;
    notebooks)
        shift
        setup test
        need_dot
        exec "$venv/bin/python" -m tests.notebook_outputs --write "$@"
        ;;
    bench)
        shift
        extra=bench
        if [ "${1:-}" = --torch ]; then extra=bench-torch; shift; fi
        setup "$extra"
        exec "$venv/bin/python" -m benchmarks.run "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo | test [pytest args] | asan [pytest args] | matrix |" \
             "dist [pytest args] | lab [jupyter args] | docs | notebooks | bench [--torch] [args]" >&2
        exit 2
        ;;
esac
