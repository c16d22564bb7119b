"""The product's imports go one way: no module imports, even lazily, a module that imports it back.

Every ``import`` is counted, also those inside function bodies: a deferred import hides a
cycle from Python, not from the next reader. Only ``if TYPE_CHECKING:`` blocks are left out.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "assistants", "automations", "campaigns", "chronoflow", "contacts", "functions", "whatsapp")


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The product modules that the module at ``path`` imports."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in _walk_outside_type_checking(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name, path.name == "__init__.py")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {_known_prefix(module, known) for module in found} - {None, name}


def _walk_outside_type_checking(tree: ast.AST):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        yield from _walk_outside_type_checking(node)


def _absolute(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _known_prefix(module: str, known: set[str]) -> str | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return None


def graph() -> dict[str, set[str]]:
    modules = product_modules()
    known = set(modules)
    edges = {name: imported(path, name, known) for name, path in modules.items()}
    # Importing a.b.c runs a/__init__ and a/b/__init__ too, which is not an edge worth a cycle:
    # packages here hold docstrings and small registries, checked as modules in their own right.
    return {name: {dep for dep in deps if not name.startswith(dep + ".")} for name, deps in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in edges.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_product_has_no_import_cycle():
    assert cycles(graph()) == []


def test_whatsapp_and_functions_never_import_automations():
    """One way: automations uses whatsapp and functions; they announce through signals."""
    offenders = {f"{name} -> {dep}" for name, deps in graph().items() if name.split(".")[0] in ("whatsapp", "functions")
                 for dep in deps if dep.startswith("automations")}
    assert offenders == set()


def test_contacts_never_imports_automations_and_whatsapp_never_imports_contacts():
    """contacts sits between: it uses whatsapp and answers its signals (before_send, message_stored)."""
    offenders = {f"{name} -> {dep}" for name, deps in graph().items() for dep in deps
                 if (name.split(".")[0] == "contacts" and dep.startswith("automations"))
                 or (name.split(".")[0] in ("whatsapp", "functions") and dep.startswith("contacts"))}
    assert offenders == set()


def test_nothing_in_the_product_imports_the_task_modules():
    """tasks.py are the worker's entry points; runs are enqueued by task name (automations/queue.py)."""
    importers = {f"{name} -> {dep}" for name, deps in graph().items() for dep in deps if dep.endswith(".tasks")}
    assert importers <= {"whatsapp.webhooks -> whatsapp.tasks"}


def test_the_checker_sees_a_cycle_hidden_in_a_function_body(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from b import g\n")
    (tmp_path / "b.py").write_text("import a\n")
    known = {"a", "b"}
    edges = {name: imported(tmp_path / f"{name}.py", name, known) for name in known}
    assert cycles(edges) == [["a", "b"]]
