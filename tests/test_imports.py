"""Each library stays behind its one module, so the data flow stays visible."""

import ast

from conftest import ROOT

ALLOWED = {
    "sqlite_utils": {"store.py"},
    "feedparser": {"parse.py"},
    "apscheduler": {"scheduler.py"},
    # pipeline only passes the shared client through, as a type
    "httpx": {"fetch.py", "pipeline.py"},
    "pydantic": {"config.py"},
    "click": {"cli.py"},
    "ahocorasick": {"match.py", "query.py"},
}


def _imports(path: str) -> set[str]:
    tree = ast.parse((ROOT / "tracker" / path).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_import_rules() -> None:
    problems = []
    for path in sorted(p.name for p in (ROOT / "tracker").glob("*.py")):
        for lib in _imports(path) & set(ALLOWED):
            if path not in ALLOWED[lib]:
                problems.append(f"tracker/{path} imports {lib}")
    assert not problems, problems
