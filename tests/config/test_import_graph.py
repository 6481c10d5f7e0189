"""Imports flow one way: reporting -> campaigns -> funnel -> leads. A module may import its
own app and the apps below it, never one above (not even inside a function)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("leads", "funnel", "campaigns", "reporting")  # lowest first


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def upward_imports() -> list[str]:
    rank = {app: index for index, app in enumerate(LAYERS)}
    wrong = []
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            for line, name in _imported(path):
                target = name.split(".")[0]
                if rank.get(target, -1) > rank[app]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return wrong


def test_it_finds_no_upward_import():
    assert upward_imports() == []


def test_it_catches_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a funnel module importing reporting is reported."""
    for app in LAYERS:
        (tmp_path / app).mkdir()
    (tmp_path / "funnel" / "sneaky.py").write_text(
        "def f():\n    from reporting.selectors import funnel_snapshot\n"
    )
    (tmp_path / "campaigns" / "fine.py").write_text("from funnel import models\nfrom . import x\n")
    monkeypatch.setattr(__name__ + ".ROOT", tmp_path)
    assert upward_imports() == ["funnel/sneaky.py:2 imports reporting.selectors"]
