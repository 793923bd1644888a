"""The ``newsrag`` command's composition root: only ``newsrag.cli`` knows every package."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from typer.testing import CliRunner


def test_every_package_registers_its_commands_on_the_one_app():
    from newsrag.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    listed = [name for name in ("ingest", "ask", "serve", "eval", "compare", "model") if f" {name} " in result.stdout]
    assert listed == ["ingest", "ask", "serve", "eval", "compare", "model"]


def test_rag_cli_imports_no_package_above_rag():
    code = (
        "import sys, rag.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ingest', 'ui', 'evals', 'newsrag'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_and_python_m_run_the_same_app():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "newsrag"]
    assert script.value == "newsrag.cli:main"
    out = subprocess.run([sys.executable, "-m", "newsrag", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Question answering over news articles" in out.stdout
