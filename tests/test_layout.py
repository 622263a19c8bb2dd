"""The layout cannot drift back: every import of every module is walked (ast) and the arrows
that ARCHITECTURE.md forbids fail here, naming the file and line.

- console/kafka/ (the door to Kafka) is a leaf: it imports nothing of the project outside it.
- console/ and groups/ never import from topics/ (the shared message language lives in
  console/messages/, below the feature apps); only the project's wiring (URL roots, ASGI,
  routing, settings, the Celery app) names the feature apps.
- only console/kafka/ imports a Kafka client library.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("console", "topics", "groups", "tests", "tools", "bench")
WIRING = {"console/urls.py", "console/routing.py", "console/asgi.py", "console/settings.py"}
WIRING |= {"console/celery.py"}
KAFKA_CLIENTS = ("confluent_kafka", "kafka", "aiokafka")


def _modules(*folders: str) -> list[Path]:
    return sorted(
        p
        for folder in folders
        for p in (ROOT / folder).rglob("*.py")
        if "migrations" not in p.parts
    )


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_door_imports_nothing_of_the_project_outside_it():
    arrows = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in _modules("console/kafka")
        for line, mod in _imports(p)
        if _top(mod) in PROJECT and not (mod == "console.kafka" or mod.startswith("console.kafka."))
    ]
    assert not arrows, "console/kafka/ must be a leaf:\n" + "\n".join(arrows)


def test_cluster_level_and_groups_never_import_from_topics():
    arrows = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in _modules("console", "groups")
        if str(p.relative_to(ROOT)) not in WIRING
        for line, mod in _imports(p)
        if _top(mod) == "topics"
    ]
    assert not arrows, "the message language belongs below the feature apps:\n" + "\n".join(arrows)


def test_only_the_door_imports_a_kafka_client():
    arrows = [
        f"{p.relative_to(ROOT)}:{line} imports {mod}"
        for p in _modules("console", "topics", "groups")
        if "kafka" not in p.relative_to(ROOT).parts[:2]
        for line, mod in _imports(p)
        if _top(mod) in KAFKA_CLIENTS
    ]
    assert not arrows, "only console/kafka/ talks to Kafka:\n" + "\n".join(arrows)


def test_topics_is_grouped_by_feature():
    """A newcomer who wants to change the tail opens one folder."""
    flat = sorted(p.name for p in (ROOT / "topics").glob("*_*.py") if not p.name.startswith("__"))
    assert not flat, f"feature files at the top of topics/: {flat}"
    for feature in ("browse", "produce", "tail"):
        assert (ROOT / "topics" / feature / "views.py").exists()
        assert (ROOT / "topics" / "templates" / "topics" / feature).is_dir()
        assert (ROOT / "tests" / "topics" / feature).is_dir()


def test_the_walk_sees_every_arrow_kind():
    """The checks above would pass vacuously if the walk found no imports."""
    seen = {mod for p in _modules("console", "topics", "groups") for _, mod in _imports(p)}
    assert "console.kafka.connection" in seen
    assert "console.messages.filters" in seen
    assert any(m.startswith("topics.") for m in seen)
