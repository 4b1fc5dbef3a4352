"""The package layering: which parts of ``pipeline`` may import which.

Read from the source (module-level imports, ``if TYPE_CHECKING:`` blocks left out) and, for
what an import costs, from a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PIPELINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:  # relative: resolve against the module's package
            package = module.split(".") if is_package else module.split(".")[:-1]
            base = ".".join(package[: len(package) - node.level + 1])
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        return [target] + [f"{target}.{alias.name}" for alias in node.names]
    return []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(path: Path) -> set[str]:
    """What a module imports when it is imported: top-level statements, try/if bodies included,
    functions, classes and ``if TYPE_CHECKING:`` blocks not."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(_imported(node, module, is_package))
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def all_imports(path: Path) -> set[str]:
    """Every import anywhere in the module, deferred ones inside functions included."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    return {name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            for name in _imported(node, module, is_package)}


def _modules(package: str) -> list[Path]:
    return sorted((PIPELINE / package).rglob("*.py"))


def _reaches(imports: set[str], package: str) -> list[str]:
    prefix = f"pipeline.{package}"
    return sorted(name for name in imports if name == prefix or name.startswith(prefix + "."))


def test_the_model_layer_imports_nothing_from_the_environment() -> None:
    """``env`` uses models (the LLM simulator); ``llm`` must not need ``env`` back."""
    offenders = {_module_name(path): _reaches(all_imports(path), "env") for path in _modules("llm")}
    assert {module: names for module, names in offenders.items() if names} == {}


def test_llm_and_env_do_not_import_each_other_at_module_level() -> None:
    llm_to_env = [name for path in _modules("llm") for name in _reaches(module_level_imports(path), "env")]
    env_to_llm = [name for path in _modules("env") for name in _reaches(module_level_imports(path), "llm")]
    assert not (llm_to_env and env_to_llm), (llm_to_env, env_to_llm)


@pytest.mark.parametrize("module", ["pipeline.settings", "pipeline.specs.fetch_options"])
def test_reading_the_configuration_does_not_load_aiohttp(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_scanner_sees_a_deferred_import_but_not_as_module_level() -> None:
    """Guards the guard: an import inside a function or a TYPE_CHECKING block is not module level."""
    sample = PIPELINE / "env" / "environment.py"
    assert "pipeline.llm.factory" in all_imports(sample)
    assert "pipeline.llm.factory" not in module_level_imports(sample)
    assert "pipeline.llm.types.ChatModel" not in module_level_imports(sample)
