"""The package's shape is checked, not hoped for: layers, import cycles, private names, sizes.

The rules (README, "Design"):

* the core (``space``, ``core``, ``searchers``, ``schedulers``, ``surrogates``, ``nas``) never
  imports Ray, and imports torch only inside functions (``nas`` and ``surrogates``), never
  at module level;
* Ray is imported only by the packages in :data:`RAY_PACKAGES`, and at module level only by
  ``raysearch.tune`` (the rest import it inside the functions that need it, so that
  ``import raysearch.automl`` or ``raysearch --help`` does not start loading Ray);
* no import cycle among module-level imports;
* no module imports a private name (``_x``) from another module;
* no file over 600 lines and no function over 80 lines, except those in :data:`LONG`,
  each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "raysearch"
CORE = ("space", "core", "searchers", "schedulers", "surrogates", "nas")
#: the packages that may import Ray (most of them lazily, inside functions)
RAY_PACKAGES = ("tune", "trainables", "automl", "cli", "bench")
#: products that read files from disk and never import Ray, not even through raysearch.tune
#: (``report``: matplotlib, imported inside its functions, draws the plots)
RAY_FREE = ("report",)
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 80
#: "module" or "module:function" -> why it is longer than the limit
LONG: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not MODULES[module].name == "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, *, top_level_only: bool) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of a module's imports."""
    nodes: list[ast.AST] = []
    todo: list[ast.AST] = list(TREES[module].body)
    while todo:  # skip `if TYPE_CHECKING:` blocks; functions only when not top_level_only
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if top_level_only and isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        ):
            continue
        nodes.append(node)
        todo.extend(ast.iter_child_nodes(node))
    out: list[tuple[str, str | None, int]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append(
                    (sub, None, node.lineno)
                    if sub in MODULES
                    else (target, alias.name, node.lineno)
                )
    return out


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _package(m) in CORE))
def test_core_never_imports_ray_and_torch_only_lazily(module: str) -> None:
    for target, _, line in _imports(module, top_level_only=False):
        assert target.split(".")[0] != "ray", f"{module}:{line} imports {target}"
    for target, _, line in _imports(module, top_level_only=True):
        assert target.split(".")[0] != "torch", f"{module}:{line} imports torch at module level"


def test_only_the_named_packages_import_ray() -> None:
    found = {
        module
        for module in MODULES
        for target, _, _ in _imports(module, top_level_only=False)
        if target.split(".")[0] == "ray"
    }
    outside = sorted(m for m in found if _package(m) not in RAY_PACKAGES)
    assert not outside, f"these modules import Ray outside {RAY_PACKAGES}: {outside}"
    eager = sorted(
        m
        for m in MODULES
        if _package(m) != "tune"
        and any(t.split(".")[0] == "ray" for t, _, _ in _imports(m, top_level_only=True))
    )
    assert not eager, f"only raysearch.tune may import Ray at module level: {eager}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _package(m) in RAY_FREE))
def test_ray_free_products_never_reach_ray(module: str) -> None:
    for target, _, line in _imports(module, top_level_only=False):
        root = target.split(".")
        assert root[0] != "ray", f"{module}:{line} imports {target}"
        assert root[:2] not in (["raysearch", "tune"], ["raysearch", "trainables"]), (
            f"{module}:{line} imports {target}, which imports Ray"
        )
    for target, _, line in _imports(module, top_level_only=True):
        assert target.split(".")[0] != "matplotlib", (
            f"{module}:{line} imports matplotlib at module level (import it where it draws)"
        )


def test_no_import_cycles() -> None:
    """Lazy imports count too: a cycle through a function-level import is still two
    modules that cannot be understood (or moved) one without the other."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        edges = set()
        for target, _, _ in _imports(module, top_level_only=False):
            if target in MODULES and target != module:
                edges.add(target)
        graph[module] = edges
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    # a package __init__ re-exporting its own submodules is not a cycle between concerns
    real = [
        c for c in cycles if not any(c[i + 1].startswith(c[i] + ".") for i in range(len(c) - 1))
    ]
    assert not real, "import cycles:\n" + "\n".join(" -> ".join(c) for c in real)


def test_no_private_names_across_modules() -> None:
    bad = []
    for module in MODULES:
        for target, name, line in _imports(module, top_level_only=False):
            if not target.startswith("raysearch") or target == module:
                continue
            private_module = any(
                p.startswith("_") and not p.startswith("__") and p != "_version"
                for p in target.split(".")
            )
            private_name = name is not None and name.startswith("_") and not name.startswith("__")
            if private_module or private_name:
                bad.append(f"{module}:{line} imports {target}{'.' + name if name else ''}")
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_file_and_function_sizes() -> None:
    bad = []
    for module, path in MODULES.items():
        n = len(path.read_text().splitlines())
        if n > MAX_FILE_LINES and module not in LONG:
            bad.append(f"{module}: {n} lines")
        for node in ast.walk(TREES[module]):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{module}:{node.name}"
                if length > MAX_FUNCTION_LINES and key not in LONG:
                    bad.append(f"{key}: {length} lines")
    assert not bad, "over the size limits (add a reason to LONG if it must be):\n" + "\n".join(bad)
