"""The code is ruff-clean, lint and format, with the project's settings."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    'command',
    [
        ['check', '--no-fix', '.'],
        ['format', '--check', '.'],
    ],
)
def test_ruff(command):
    proc = subprocess.run(
        [sys.executable, '-m', 'ruff'] + command,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
