"""The shape of the package, beyond what import-linter's contracts check in CI: no private
name is imported from another module, and no module imports itself back through others.
(The layers are the contracts in pyproject.toml, checked by ``lint-imports``.)"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dasklr"


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text())
    return found


def _imports(tree: ast.Module):
    """(module, name) for every ``from dasklr… import name``, anywhere in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dasklr"):
            for alias in node.names:
                yield node.module, alias.name


def test_no_private_name_is_imported_across_modules():
    crossing = [
        f"{module} imports {source}.{name}"
        for module, tree in _modules().items()
        for source, name in _imports(tree)
        if name.startswith("_") and not name.endswith("__") and source != module
    ]
    assert crossing == []


def test_no_import_cycles():
    modules = _modules()
    edges = {
        module: {source for source, _ in _imports(tree) if source in modules and source != module}
        for module, tree in modules.items()
    }
    state: dict[str, str] = {}

    def cycle_from(module, path):
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                return [*path, module, target]
            if target not in state and (found := cycle_from(target, [*path, module])):
                return found
        state[module] = "done"
        return None

    for module in sorted(modules):
        if module not in state:
            assert cycle_from(module, []) is None
