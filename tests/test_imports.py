"""Each library stays behind its one module, so the data flow stays visible."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "tracker"
ALLOWED = {
    "sqlite_utils": {
        "store/facade.py",
        "store/sqlite/base.py",
        "store/sqlite/migrations.py",
    },
    "feedparser": {"ingest/parse.py"},
    "apscheduler": {"service/scheduler.py", "delivery/routing.py"},  # routing: digest times
    # pipeline only passes the shared client through, as a type; webhooks are HTTP too
    "httpx": {"ingest/fetch.py", "ingest/pipeline.py", "delivery/channels/webhook.py"},
    "pydantic": {"config/schema.py", "config/loader.py", "config/reference.py"},
    "yaml": {"config/loader.py"},
    "click": {"cli/main.py"},
    "ahocorasick": {"topics/matcher/scan.py"},
    "prometheus_client": {"service/http.py"},
    "aiohttp": {"service/http.py", "ingest/fetch.py"},  # fetch: its transport's exceptions
    "jinja2": {"delivery/channels/render.py"},
    "smtplib": {"delivery/channels/email.py"},
    "apprise": {"delivery/channels/apprise.py", "config/schema.py"},  # config checks apprise URLs
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_import_rules() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        for lib in _imports(path) & set(ALLOWED):
            if name not in ALLOWED[lib]:
                problems.append(f"tracker/{name} imports {lib}")
    assert not problems, problems


def test_config_checks_queries_without_the_matcher() -> None:
    # `tracker check` validates every topic query; the parser alone does that, so the
    # compiled matcher and its automaton library stay unloaded (and off the start time).
    code = (
        "import importlib, pkgutil, sys, tracker.config\n"
        "for module in pkgutil.iter_modules(tracker.config.__path__):\n"
        "    importlib.import_module(f'tracker.config.{module.name}')\n"
        "assert 'tracker.config.schema' in sys.modules\n"
        "loaded = {'ahocorasick', 'tracker.topics.matcher'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
