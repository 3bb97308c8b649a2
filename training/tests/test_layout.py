"""training/ is a library (tbtrain/) plus scripts: the library has no import cycle, no script imports
another script (and the library imports none), and every source file stays short enough to read."""
import ast
import pathlib
import unittest

TRAINING = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = "tbtrain"
MAX_LINES = 400  # no exceptions


def sources():
    return sorted(p for p in TRAINING.rglob("*.py") if "work" not in p.relative_to(TRAINING).parts)


def imported_names(path: pathlib.Path) -> set[str]:
    """Every module a file imports, function-local imports included, as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # `from tbtrain import policies`
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))  # relative: the library uses absolute imports only
    return names


def library_graph() -> dict[str, set[str]]:
    """{tbtrain module: the tbtrain modules it imports}."""
    mods = {f"{LIBRARY}.{p.stem}" for p in (TRAINING / LIBRARY).glob("*.py") if p.stem != "__init__"}
    return {m: {n for n in imported_names(TRAINING / LIBRARY / f"{m.split('.')[1]}.py") if n in mods} for m in mods}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(m):
        state[m] = "open"; stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        state[m] = "done"; stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


class Layout(unittest.TestCase):
    def test_the_library_has_no_import_cycle(self):
        graph = library_graph()
        self.assertGreater(sum(map(len, graph.values())), 10)  # the graph was read: modules import each other
        self.assertIsNone(find_cycle(graph))

    def test_the_cycle_finder_finds_one(self):
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}), ["a", "b", "c", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}))

    def test_no_script_imports_a_script(self):
        """Scripts (every .py outside tbtrain/) import the library, never each other: not a sibling by its
        bare name, not a script folder as a package, not a relative import. The library imports no script."""
        scripts = [p for p in sources() if p.parent.name != LIBRARY]
        script_names = {p.stem for p in scripts} | {p.parent.name for p in scripts}
        script_names -= {"__init__", TRAINING.name}
        bad = []
        for p in sources():
            for name in imported_names(p):
                top = name.split(".")[0]
                if name.startswith(".") or (top in script_names and top != LIBRARY):
                    bad.append(f"{p.relative_to(TRAINING)} imports {name}")
        self.assertEqual(bad, [])

    def test_scripts_are_grouped_and_the_library_is_a_package(self):
        self.assertTrue((TRAINING / LIBRARY / "__init__.py").exists())
        loose = [p.name for p in TRAINING.glob("*.py")]
        self.assertEqual(loose, [], "scripts live in pipeline/, evaluation/, probes/ or dataset/")

    def test_no_source_file_is_over_the_limit(self):
        files = sources()
        self.assertGreater(len(files), 30)
        long = {str(p.relative_to(TRAINING)): n for p in files if (n := len(p.read_text().splitlines())) > MAX_LINES}
        self.assertEqual(long, {})


if __name__ == "__main__":
    unittest.main()
