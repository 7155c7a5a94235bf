"""The floor plan holds: layers without cycles, types seen across packages, a docstring on every public name."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "models", "store", "prompts", "nodes", "evaluation", "graph", "ui", "ictc")
BIN = Path(sys.executable).parent


def _copy_tree(target: Path) -> Path:
    """The tracked files of this checkout, links kept (ictc/graph -> ../graph), in a scratch folder."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        source, dest = ROOT / name.decode(), target / name.decode()
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(source.readlink())
        elif source.is_file():
            shutil.copy2(source, dest)
    return target


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if not p.is_symlink())


def _public_without_docstring(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    missing = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                public = not node.name.startswith("_") or (node.name == "__init__" and False)
                if public and ast.get_docstring(node) is None:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {prefix}{node.name}")
                if isinstance(node, ast.ClassDef) and public:
                    visit(node.body, f"{node.name}.")

    visit(tree.body, "")
    return missing


def test_every_public_function_class_and_method_has_a_docstring():
    missing = [name for path in _modules() for name in _public_without_docstring(path)]
    assert missing == [], f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)


def test_no_module_is_over_about_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text("utf-8").splitlines())) > 330}
    assert long == {}


@pytest.mark.slow
def test_layers_hold_and_an_upward_import_is_caught(tmp_path):
    run = [str(BIN / "lint-imports"), "--no-cache"]
    kept = subprocess.run(run, cwd=ROOT, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stdout[-2000:]
    copy = _copy_tree(tmp_path / "tree")
    settings = copy / "core" / "settings.py"
    settings.write_text(settings.read_text() + "\nfrom ictc.graph import build  # noqa: E402 (an upward import)\n")
    broken = subprocess.run(run, cwd=copy, capture_output=True, text=True, env={"PYTHONPATH": str(copy)})
    assert broken.returncode == 1 and "ictc.core is not allowed to import ictc.graph" in broken.stdout


@pytest.mark.slow
def test_mypy_sees_a_type_error_across_packages(tmp_path):
    copy = _copy_tree(tmp_path / "tree")
    probe = copy / "nodes" / "describe.py"
    # step_key (store/keys.py) returns str: assigning it to an int in another package must be reported
    probe.write_text(probe.read_text() + '\n_probe: int = step_key("describe", "m", [("user", "x")])\n')
    done = subprocess.run([str(BIN / "mypy"), "--cache-dir", str(tmp_path / "cache"), "ictc/nodes/describe.py"],
                          cwd=copy, capture_output=True, text=True)
    assert done.returncode == 1, done.stdout
    assert 'describe.py' in done.stdout and 'Incompatible types in assignment (expression has type "str"' in done.stdout
