"""No code path can be steered into running code a client chose.

Every Python file of the server side (``bridge/``, ``schemas/``, ``estimators/``) is parsed
with ``ast`` and must not use ``eval``, ``exec``, ``compile``, ``__import__``,
``importlib.import_module``, ``pickle``/``marshal`` (or their relatives), nor
``allow_pickle=True``; and ``getattr``/``setattr``/``delattr`` must name a constant
attribute, except at the reviewed call sites listed in ``ALLOWED``. A new dynamic
attribute access anywhere else fails this test until someone reviews it and adds it here
with the reason it is safe.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("bridge", "schemas", "estimators")

BANNED_CALLS = frozenset({"eval", "exec", "compile", "__import__"})
BANNED_MODULES = frozenset(
    {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
)
DYNAMIC = frozenset({"getattr", "setattr", "delattr"})

# (file, enclosing function, builtin) -> why the non-constant name is safe.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("bridge/dispatch.py", "call_method", "getattr"): (
        "the method name was looked up in the class's contract (ClassContract.methods) by "
        "Operations.call before the job was queued"
    ),
    ("bridge/dispatch.py", "read_attribute", "getattr"): (
        "the attribute name was looked up in ClassContract.attributes by Operations.get"
    ),
    ("bridge/dispatch.py", "_routing_map", "getattr"): (
        "names come from the constant tuple _ROUTED_METHODS"
    ),
    ("bridge/validation.py", "validate", "getattr"): (
        "names are the fields the pydantic wire model declares (model.model_fields)"
    ),
    ("bridge/cli.py", "_limits", "getattr"): (
        "names come from a constant tuple of argparse destinations; no client input"
    ),
    ("estimators/_persistence.py", "load_model", "setattr"): (
        "the model-format whitelist: only names of the class's ModelSpec.attributes, "
        "checked by _entries before anything is set"
    ),
    ("estimators/_kmeans_io.py", "to_sklearn", "setattr"): (
        "names come from the constant map _SKLEARN_NAMES"
    ),
    ("estimators/_params.py", "check_params", "getattr"): (
        "names are the keys of the class's own _parameter_constraints (constructor "
        "options), never client input"
    ),
}
# Names that may be imported from a banned module: they read no data (reviewed).
ALLOWED_FROM = {"joblib": frozenset({"cpu_count"})}


def _files() -> list[Path]:
    return sorted(path for folder in SCANNED for path in (ROOT / folder).rglob("*.py"))


class _Scanner(ast.NodeVisitor):
    def __init__(self, relative: str) -> None:
        self.relative = relative
        self.scope: list[str] = []
        self.problems: list[str] = []
        self.dynamic: list[tuple[str, str, str]] = []

    def _where(self, node: ast.AST) -> str:
        return f"{self.relative}:{getattr(node, 'lineno', '?')}"

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in BANNED_MODULES:
                self.problems.append(f"{self._where(node)} imports {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = (node.module or "").split(".")[0]
        if module in ALLOWED_FROM and all(a.name in ALLOWED_FROM[module] for a in node.names):
            return
        if module in BANNED_MODULES or (
            module == "importlib" and any(a.name == "import_module" for a in node.names)
        ):
            self.problems.append(f"{self._where(node)} imports from {node.module}")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in BANNED_MODULES:
            self.problems.append(f"{self._where(node)} uses {node.id}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if name in BANNED_CALLS:
            self.problems.append(f"{self._where(node)} calls {name}()")
        if isinstance(func, ast.Attribute) and func.attr == "import_module":
            self.problems.append(f"{self._where(node)} calls import_module()")
        for keyword in node.keywords:
            if keyword.arg == "allow_pickle" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                self.problems.append(f"{self._where(node)} passes allow_pickle other than False")
        if name in DYNAMIC:
            attribute = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)):
                function = self.scope[-1] if self.scope else "<module>"
                self.dynamic.append((self.relative, function, name))
                if (self.relative, function, name) not in ALLOWED:
                    self.problems.append(
                        f"{self._where(node)} {name}() with a non-constant name in "
                        f"{function}(); review it and list it in ALLOWED with the reason"
                    )
        self.generic_visit(node)


def _scan(path: Path) -> _Scanner:
    scanner = _Scanner(path.relative_to(ROOT).as_posix())
    scanner.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return scanner


def test_the_scan_covers_the_server_code():
    names = {path.relative_to(ROOT).as_posix() for path in _files()}
    assert {"bridge/server.py", "bridge/dispatch.py", "estimators/_persistence.py"} <= names


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_code_execution_and_no_unreviewed_dynamic_attributes(path):
    assert _scan(path).problems == []


def test_every_allowed_site_still_exists():
    """A stale entry would silently allow a future call at that place."""
    found = {site for path in _files() for site in _scan(path).dynamic}
    assert set(ALLOWED) <= found, set(ALLOWED) - found


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("eval(x)", "calls eval()"),
        ("import pickle", "imports pickle"),
        ("from marshal import loads", "imports from marshal"),
        ("def f(o, n):\n    return getattr(o, n)", "getattr() with a non-constant name in f()"),
        ("def f(o, n, v):\n    setattr(o, n + 'x', v)", "setattr() with a non-constant"),
        ("np.load(f, allow_pickle=True)", "allow_pickle"),
        ("importlib.import_module(name)", "import_module()"),
    ],
)
def test_the_scanner_catches_each_pattern(source, complaint):
    scanner = _Scanner("bridge/example.py")
    scanner.visit(ast.parse(source))
    assert any(complaint in problem for problem in scanner.problems), scanner.problems


def test_constant_names_pass():
    scanner = _Scanner("bridge/example.py")
    scanner.visit(ast.parse("getattr(o, 'shape', None)\nsetattr(o, 'x', 1)"))
    assert scanner.problems == []
