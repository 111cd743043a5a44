// Runs chainrule's tests on Pyodide (CPython compiled to WebAssembly) under Node, offline.
//   node run.mjs PYODIDE_DIR REPO WHEELS_DIR RESULT_JSON [pytest args...]
// PYODIDE_DIR: an installed npm `pyodide` package (node_modules/pyodide-314, ...); REPO: the
// chainrule tree, copied into Pyodide's in-memory file system (without .git, venvs, builds); WHEELS_DIR: pure-Python wheels (pytest and what the tests
// import), unpacked into its site-packages. The conftest writes the counts to RESULT_JSON.
// With `-c CODE` instead of pytest args, runs CODE (for probes) and prints what it prints.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, repo, wheels, result, ...args] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir + "/", stdout: (s) => console.log(s),
                                    stderr: (s) => console.error(s) });
const home = "/home/pyodide/chainrule";

const skip = new Set([".git", ".venv", "node_modules", "build", "dist", "results", "__pycache__",
                      ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints"]);
function copyTree(from, to) {
  pyodide.FS.mkdirTree(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (skip.has(entry.name) || entry.name.endsWith(".so") || entry.isSymbolicLink()) continue;
    const source = path.join(from, entry.name);
    if (entry.isDirectory()) copyTree(source, `${to}/${entry.name}`);
    else pyodide.FS.writeFile(`${to}/${entry.name}`, fs.readFileSync(source));
  }
}
copyTree(repo, home);
pyodide.FS.mkdirTree("/tmp/wheels");
for (const name of fs.readdirSync(wheels).filter((n) => n.endsWith(".whl"))) {
  pyodide.FS.writeFile(`/tmp/wheels/${name}`, fs.readFileSync(path.join(wheels, name)));
}
pyodide.globals.set("ARGS", pyodide.toPy(args));
const status = await pyodide.runPythonAsync(`
import os, site, sys, zipfile
for name in sorted(os.listdir("/tmp/wheels")):
    zipfile.ZipFile(f"/tmp/wheels/{name}").extractall(site.getsitepackages()[0])
os.chdir("${home}")
sys.path.insert(0, "${home}")
sys.dont_write_bytecode = True
os.environ["CHAINRULE_MATRIX_RESULT"] = "/tmp/result.json"
args = list(ARGS)
if args[:1] == ["-c"]:
    exec(compile(args[1], "<probe>", "exec"), {"__name__": "__main__"})
    status = 0
else:
    import pytest
    status = int(pytest.main(["-p", "no:cacheprovider", *args]))
status
`);
if (args[0] !== "-c" && fs.existsSync(path.dirname(result))) {
  try {
    fs.writeFileSync(result, pyodide.FS.readFile("/tmp/result.json"));
  } catch (error) {
    console.error(`pyodide: the tests wrote no result (${error})`);
  }
}
process.exit(status);
