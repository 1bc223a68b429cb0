"""ARCHITECTURE.md's module map is the truth about sessionkit's imports.

The checker reads source with :mod:`ast` (nothing of sessionkit is imported) and the two tables
of ARCHITECTURE.md: "Module map" (one row per module: what it owns, which sessionkit modules it
may import) and "Known exceptions" (function-local imports of sessionkit modules, each with its
kind and reason). The rules it enforces:

* every module of the package has a row, and every name in the map is a module;
* every sessionkit-internal import (module level, ``if TYPE_CHECKING:``, inside a function, or
  ``importlib.import_module("...")`` with a literal name) is allowed by the importer's row, or
  is a ``cycle`` exception;
* an import inside a function is listed as an exception: ``lazy`` (allowed by the map, local
  only so a heavy dependency loads on first use) or ``cycle`` (not allowed by the map: a debt,
  an upward import that closes a circle); a listed exception the code no longer has fails;
* the map itself has no cycle, and the code has none except through a ``cycle`` exception
  (each of which must still close one, or it is to be turned into an ordinary import).

Module names are dotted and relative to the package (``store._sync``); the package's own
``__init__`` is named by the package (``sessionkit``). Importing ``pkg.mod`` also runs
``pkg/__init__``; the cycle search counts that edge (the map does not ask for it). A package
``__init__`` that sets ``_LAZY = ("name", ...)`` imports those submodules on attribute access
(PEP 562 ``__getattr__``): they count as function-local imports.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sessionkit"
DOC = ROOT / "ARCHITECTURE.md"

KINDS = ("module", "type-checking", "function")
EXCEPTION_KINDS = ("lazy", "cycle")


# ---------------------------------------------------------------------------- the code


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    kind: str  # one of KINDS
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.target} ({self.kind} import, line {self.line})"


def modules(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by its map name (``store._sync``; the root is the package)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts) or package.name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.AST, str]]:
    """Every node under ``node`` with the kind of import it would be."""
    for child in ast.iter_child_nodes(node):
        inner = kind
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = "function"
        yield child, inner
        if isinstance(child, ast.If) and _is_type_checking(child.test) and kind == "module":
            for stmt in child.body:
                yield stmt, "type-checking"
                yield from _walk(stmt, "type-checking")
            for stmt in child.orelse:
                yield stmt, kind
                yield from _walk(stmt, kind)
        else:
            yield from _walk(child, inner)


def imports(package: Path) -> list[Import]:
    """Every import of a module of ``package`` by a module of ``package``."""
    names = modules(package)
    root = package.name
    found: list[Import] = []

    def internal(dotted: str) -> str | None:
        """``dotted`` (absolute) as a map name, or None when it is not of the package."""
        if dotted == root:
            return root
        if dotted.startswith(root + "."):
            return dotted[len(root) + 1 :]
        return None

    for name, path in names.items():
        is_package = path.name == "__init__.py"
        here = root if name == root else f"{root}.{name}"
        base = here if is_package else here.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, kind in _walk(tree, "module"):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [internal(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parent = base
                    for _ in range(node.level - 1):
                        parent = parent.rpartition(".")[0]
                    source = f"{parent}.{node.module}" if node.module else parent
                else:
                    source = node.module or ""
                owner = internal(source)
                if owner is not None:
                    prefix = "" if owner == root else owner + "."
                    subs = [prefix + a.name for a in node.names if prefix + a.name in names]
                    # `from pkg import sub` imports the submodule; other names come from pkg
                    targets = list(subs)
                    if len(subs) < len(node.names):
                        targets.append(owner)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute | ast.Name)
                and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
                == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                targets = [internal(node.args[0].value)]
            elif (
                is_package
                and kind == "module"
                and isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets)
                and isinstance(node.value, ast.Tuple | ast.List)
            ):
                prefix = "" if name == root else name + "."
                targets = [
                    prefix + e.value
                    for e in node.value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                ]
                kind = "function"
            for target in targets:
                if target is not None and target != name:
                    found.append(Import(name, target, kind, getattr(node, "lineno", 0)))
    return found


def _packages_above(target: str, importer: str) -> list[str]:
    """The packages whose ``__init__`` importing ``target`` runs first, but that are not yet
    running when ``importer`` does (its own packages are)."""
    parts = target.split(".")
    above = [".".join(parts[:i]) for i in range(1, len(parts))]
    return [p for p in above if p != importer and not importer.startswith(p + ".")]


def import_graph(
    package: Path, skip: frozenset[tuple[str, str]] = frozenset()
) -> dict[str, set[str]]:
    """Importer → imported modules: every kind of import but the ``skip`` ones, plus the
    package ``__init__`` files they run."""
    graph: dict[str, set[str]] = {name: set() for name in modules(package)}
    for imp in imports(package):
        if (imp.importer, imp.target) in skip:
            continue
        graph.setdefault(imp.importer, set()).add(imp.target)
        for pkg in _packages_above(imp.target, imp.importer):
            graph[imp.importer].add(pkg)
    return graph


def cycles(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graphs here are small
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, frozenset())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, frozenset()):
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    found = []
    for component in components:
        start = min(component)
        paths = {start: [start]}  # breadth first inside the component: a shortest cycle
        queue = [start]
        while queue:
            node = queue.pop(0)
            for nxt in sorted(graph.get(node, frozenset()) & component):
                if nxt == start:
                    found.append([*paths[node], start])
                    queue = []
                    break
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
    return sorted(found)


def reaches(graph: Mapping[str, Set[str]], source: str, goal: str) -> bool:
    seen, todo = set(), [source]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, frozenset()))
    return False


# ---------------------------------------------------------------------------- the document


@dataclass(frozen=True)
class Doc:
    owns: dict[str, str]
    rules: dict[str, frozenset[str]]  # module → the modules it may import
    exceptions: dict[tuple[str, str], tuple[str, str]]  # (importer, target) → (kind, reason)
    layers: list[list[str]]  # bottom-up; each line's names left to right


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells, backticks dropped) of the first table under ``## heading``."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise AssertionError(f"ARCHITECTURE.md has no '## {heading}' section")
    rows = [line.strip() for line in match.group(1).splitlines() if line.strip().startswith("|")]
    cells = [[c.strip().replace("`", "") for c in row.strip("|").split("|")] for row in rows]
    return cells[2:]  # the header and the |---| line


def _names(cell: str) -> list[str]:
    return [n.strip() for n in cell.split(",") if n.strip() not in ("", "—", "-")]


def parse_doc(text: str) -> Doc:
    owns: dict[str, str] = {}
    rules: dict[str, frozenset[str]] = {}
    for row in _table(text, "Module map"):
        assert len(row) == 3, f"a module map row has 3 cells (module | owns | may import): {row}"
        module, what, allowed = row
        assert module not in rules, f"{module} has two rows in the module map"
        owns[module] = what
        rules[module] = frozenset(_names(allowed))
    exceptions: dict[tuple[str, str], tuple[str, str]] = {}
    for row in _table(text, "Known exceptions"):
        assert len(row) == 4, (
            f"an exception row has 4 cells (importer | imports | kind | why): {row}"
        )
        importer, targets, kind, reason = row
        assert kind in EXCEPTION_KINDS, f"exception kind {kind!r} is not one of {EXCEPTION_KINDS}"
        assert reason, f"the exception {importer} -> {targets} gives no reason"
        for target in _names(targets):
            exceptions[(importer, target)] = (kind, reason)
    block = re.search(r"^```layers\n(.*?)^```", text, re.M | re.S)
    lines = block.group(1).splitlines() if block else []
    layers = [[n.strip() for n in re.split(r"\s{2,}", ln.strip())[0].split("·")] for ln in lines]
    return Doc(owns, rules, exceptions, layers[::-1])


# ---------------------------------------------------------------------------- the checks


def unlisted(package: Path, doc: Doc) -> list[str]:
    names = set(modules(package))
    problems = [f"{m} is not in the module map" for m in sorted(names - set(doc.rules))]
    problems += [
        f"{m} is in the module map but is no module" for m in sorted(set(doc.rules) - names)
    ]
    for module, allowed in sorted(doc.rules.items()):
        problems += [
            f"{module} may import {a}, which is no module" for a in sorted(allowed - names)
        ]
    for importer, target in sorted(doc.exceptions):
        for m in (importer, target):
            if m not in names:
                problems.append(
                    f"the exception {importer} -> {target} names {m}, which is no module"
                )
    if not all(doc.owns.values()):
        problems += [f"{m} says nothing about what it owns" for m, o in doc.owns.items() if not o]
    return problems


def forbidden(package: Path, doc: Doc) -> list[str]:
    problems = []
    for imp in imports(package):
        allowed = imp.target in doc.rules.get(imp.importer, frozenset())
        kind = doc.exceptions.get((imp.importer, imp.target), ("", ""))[0]
        if not allowed and kind != "cycle":
            problems.append(f"{imp}: not allowed by the module map")
    return problems


def local_imports(package: Path, doc: Doc) -> list[str]:
    found = imports(package)
    problems = []
    for imp in found:
        if imp.kind == "function" and (imp.importer, imp.target) not in doc.exceptions:
            problems.append(f"{imp}: a function-local import not in Known exceptions")
    local = {(i.importer, i.target) for i in found if i.kind == "function"}
    edges = {(i.importer, i.target) for i in found}
    for (importer, target), (kind, _) in sorted(doc.exceptions.items()):
        if kind == "lazy" and (importer, target) not in local:
            problems.append(
                f"the lazy exception {importer} -> {target} is no function-local import"
            )
        if kind == "cycle" and (importer, target) not in edges:
            problems.append(f"the cycle exception {importer} -> {target} is no import any more")
        allowed = target in doc.rules.get(importer, frozenset())
        if kind == "lazy" and not allowed:
            problems.append(f"the lazy exception {importer} -> {target} is not allowed by the map")
        if kind == "cycle" and allowed:
            problems.append(
                f"the cycle exception {importer} -> {target} is allowed by the map: say lazy"
            )
    return problems


def misplaced(package: Path, doc: Doc) -> list[str]:
    """What the layer block gets wrong: a module without a layer, a name that is no module, an
    allowed import that goes up (or right, on one line)."""
    names = set(modules(package))
    place = {name: (i, j) for i, line in enumerate(doc.layers) for j, name in enumerate(line)}
    problems = [f"the layer block names {n}, which is no module" for n in place if n not in names]

    def unit(module: str) -> str | None:
        owners = [n for n in place if module == n or module.startswith(n + ".")]
        return max(owners, key=len) if owners else None

    problems += [f"{m} has no layer" for m in sorted(names) if unit(m) is None]
    for importer, allowed in sorted(doc.rules.items()):
        for target in sorted(allowed):
            low, high = unit(target), unit(importer)
            if low is None or high is None or low == high:
                continue
            if place[low] > place[high]:
                problems.append(f"{importer} may import {target}, which is in a layer above it")
    return problems


def import_cycles(package: Path, doc: Doc) -> list[str]:
    graph = import_graph(package)
    problems = [f"the module map allows a cycle: {' -> '.join(c)}" for c in cycles(doc.rules)]
    debts = {edge for edge, (kind, _) in doc.exceptions.items() if kind == "cycle"}
    for importer, target in sorted(debts):
        if not reaches(graph, target, importer):
            problems.append(
                f"the cycle exception {importer} -> {target} closes no cycle any more: import it "
                "at module level, add it to the module map and drop the exception"
            )
    rest = import_graph(package, skip=frozenset(debts))
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(rest)]
    return problems


# ---------------------------------------------------------------------------- sessionkit


@pytest.fixture(scope="module")
def doc() -> Doc:
    return parse_doc(DOC.read_text(encoding="utf-8"))


def test_every_module_is_in_the_map_and_every_entry_exists(doc: Doc) -> None:
    assert unlisted(PACKAGE, doc) == []


def test_every_internal_import_is_allowed_by_the_map(doc: Doc) -> None:
    assert forbidden(PACKAGE, doc) == []


def test_function_local_internal_imports_are_the_known_exceptions(doc: Doc) -> None:
    assert local_imports(PACKAGE, doc) == []


def test_the_layer_block_orders_every_allowed_import(doc: Doc) -> None:
    assert doc.layers, "ARCHITECTURE.md has no ```layers block"
    assert misplaced(PACKAGE, doc) == []


def test_no_import_cycle_beyond_the_known_exceptions(doc: Doc) -> None:
    assert import_cycles(PACKAGE, doc) == []


def test_the_emulator_imports_nothing_of_the_client_side(doc: Doc) -> None:
    """The emulator is the oracle the client is tested against: of the rest of sessionkit it may
    import ``config`` (the demo key) only. Its ``__main__`` is an entry point into the CLI."""
    for module, allowed in doc.rules.items():
        if module.split(".")[0] == "emulator" and module != "emulator.__main__":
            outside = {a for a in allowed if a.split(".")[0] != "emulator"}
            assert outside <= {"config"}, (module, outside)


def test_the_checker_sees_the_import_kinds_of_sessionkit() -> None:
    """The parser is not vacuous on the real package: it finds each kind of import."""
    found = imports(PACKAGE)
    kinds = {i.kind for i in found}
    assert kinds == set(KINDS)
    edges = {(i.importer, i.target) for i in found}
    assert ("frames", "schema") in edges and ("store._sync", "store._arrow") in edges
    assert ("widgets", "plot") in edges  # importlib.import_module("sessionkit.plot")
    assert ("sessionkit", "plot") in edges  # _LAZY


# ---------------------------------------------------------------------------- the checker fails


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


def _text(rows: dict[str, str], exceptions: tuple[str, ...] = ()) -> str:
    text = "## Module map\n\n| module | owns | may import |\n|---|---|---|\n"
    text += "".join(f"| `{m}` | a thing | {a} |\n" for m, a in rows.items())
    text += "\n## Known exceptions\n\n| importer | imports | kind | why |\n|---|---|---|---|\n"
    return text + "".join(f"{e}\n" for e in exceptions) + "\n## Other\n\n"


def _doc(rows: dict[str, str], exceptions: tuple[str, ...] = ()) -> Doc:
    return parse_doc(_text(rows, exceptions))


GOOD = {
    "__init__.py": "from .b import B\n_LAZY = ('heavy',)\n",
    "a.py": "A = 1\n",
    "b.py": "from typing import TYPE_CHECKING\nfrom . import a\nif TYPE_CHECKING:\n    from .sub import c\nB = a.A\n",
    "heavy.py": "import json\n",
    "sub/__init__.py": "",
    "sub/c.py": "from ..a import A\nfrom pkg.b import B\n",
}
GOOD_RULES = {
    "pkg": "`b`, `heavy`",
    "a": "—",
    "b": "`a`, `sub.c`",
    "heavy": "—",
    "sub": "—",
    "sub.c": "`a`, `b`",
}
GOOD_EXCEPTIONS = ("| `pkg` | `heavy` | lazy | loaded on first attribute access |",)


def test_a_clean_synthetic_package_passes(tmp_path: Path) -> None:
    package = _package(tmp_path, GOOD)
    doc = _doc(GOOD_RULES, GOOD_EXCEPTIONS)
    assert unlisted(package, doc) == []
    assert forbidden(package, doc) == []
    assert local_imports(package, doc) == []
    kinds = {(i.importer, i.target): i.kind for i in imports(package)}
    assert kinds == {
        ("pkg", "b"): "module",
        ("pkg", "heavy"): "function",
        ("b", "a"): "module",
        ("b", "sub.c"): "type-checking",
        ("sub.c", "a"): "module",
        ("sub.c", "b"): "module",
    }
    # b -> sub.c (type-checking) -> b is a cycle: counted, and reported
    assert import_cycles(package, doc) == [
        "the module map allows a cycle: b -> sub.c -> b",
        "import cycle: b -> sub.c -> b",
    ]


def test_it_reports_a_module_missing_from_the_map_and_a_stale_entry(tmp_path: Path) -> None:
    package = _package(tmp_path, GOOD)
    rows = {k: v for k, v in GOOD_RULES.items() if k != "heavy"} | {"gone": "`a`", "a": "`nope`"}
    exceptions = (*GOOD_EXCEPTIONS, "| `pkg` | `ghost` | lazy | gone |")
    assert unlisted(package, _doc(rows, exceptions)) == [
        "heavy is not in the module map",
        "gone is in the module map but is no module",
        "a may import nope, which is no module",
        "the exception pkg -> ghost names ghost, which is no module",
    ]


def test_it_reports_a_forbidden_import_of_each_kind(tmp_path: Path) -> None:
    files = GOOD | {
        "a.py": "import pkg.heavy\n",
        "heavy.py": "def f():\n    from .sub import c\n    import importlib\n    importlib.import_module('pkg.a')\n",
    }
    problems = forbidden(_package(tmp_path, files), _doc(GOOD_RULES, GOOD_EXCEPTIONS))
    assert problems == [
        "a -> heavy (module import, line 1): not allowed by the module map",
        "heavy -> sub.c (function import, line 2): not allowed by the module map",
        "heavy -> a (function import, line 4): not allowed by the module map",
    ]


def test_it_reports_an_unlisted_function_local_import_and_a_stale_exception(
    tmp_path: Path,
) -> None:
    files = GOOD | {"b.py": "def f():\n    from . import a\n    return a\n", "__init__.py": ""}
    exceptions = (*GOOD_EXCEPTIONS, "| `sub.c` | `a` | cycle | a debt |")
    problems = local_imports(_package(tmp_path, files), _doc(GOOD_RULES, exceptions))
    assert problems == [
        "b -> a (function import, line 2): a function-local import not in Known exceptions",
        "the lazy exception pkg -> heavy is no function-local import",
        "the cycle exception sub.c -> a is allowed by the map: say lazy",
    ]


def test_it_reports_a_cycle_and_accepts_only_a_listed_live_debt(tmp_path: Path) -> None:
    files = GOOD | {
        "a.py": "def f():\n    from .sub.c import C\n    return C\n",
        "sub/c.py": "from ..a import f\nC = 1\n",
        "b.py": "B = 1\n",
    }
    package = _package(tmp_path, files)
    rules = GOOD_RULES | {"b": "—"}
    assert import_cycles(package, _doc(rules, GOOD_EXCEPTIONS)) == [
        "import cycle: a -> sub.c -> a",
    ]
    debt = (*GOOD_EXCEPTIONS, "| `a` | `sub.c` | cycle | f moves to c later |")
    assert import_cycles(package, _doc(rules, debt)) == []
    assert forbidden(package, _doc(rules, debt)) == []
    # once sub.c stops importing a, the listed debt closes no cycle and must go
    fixed = _package(tmp_path / "fixed", files | {"sub/c.py": "C = 1\n"})
    assert import_cycles(fixed, _doc(rules, debt)) == [
        "the cycle exception a -> sub.c closes no cycle any more: import it at module level, "
        "add it to the module map and drop the exception",
    ]


def test_a_cycle_through_a_package_init_counts(tmp_path: Path) -> None:
    """``a`` imports ``sub.d``, which runs ``sub/__init__`` first, which imports ``a``."""
    files = GOOD | {"a.py": "from .sub.d import D\n", "sub/__init__.py": "from ..a import D\n"}
    files |= {"sub/d.py": "D = 1\n", "b.py": "B = 1\n"}
    rules = GOOD_RULES | {"a": "`sub.d`", "b": "—", "sub": "`a`", "sub.d": "—"}
    package = _package(tmp_path, files)
    doc = _doc(rules, GOOD_EXCEPTIONS)
    assert forbidden(package, doc) == []  # the map need not name the package a module runs
    assert import_cycles(package, doc) == ["import cycle: a -> sub -> a"]


def test_it_reports_a_module_out_of_its_layer(tmp_path: Path) -> None:
    package = _package(tmp_path, GOOD)
    rules = GOOD_RULES | {"sub.c": "`a`"}  # no b <-> sub.c circle
    text = "```layers\npkg  the top\nsub · b\nheavy · a  the bottom\n```\n"
    ordered = parse_doc(_text(rules, GOOD_EXCEPTIONS) + text)
    assert ordered.layers == [["heavy", "a"], ["sub", "b"], ["pkg"]]
    assert misplaced(package, ordered) == []
    wrong = "```layers\nsub\nb · pkg\nheavy · ghost\n```\n"  # a has no layer
    doc = parse_doc(_text(rules | {"b": "`a`, `sub.c`, `pkg`"}) + wrong)
    assert misplaced(package, doc) == [
        "the layer block names ghost, which is no module",
        "a has no layer",
        "b may import pkg, which is in a layer above it",
        "b may import sub.c, which is in a layer above it",
    ]
