"""benchmarks/python_matrix_speed.py: its worker, its venv lookup, its errors.

The figures themselves come from running the script (docs/PYTHONS.md);
these tests check that a worker measures what the table says and that the
driver finds the CI matrix's venvs and compile caches, or says in one line
why it cannot.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, 'benchmarks', 'python_matrix_speed.py')


def _load():
    spec = importlib.util.spec_from_file_location(
        'python_matrix_speed', SCRIPT
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_each_venv_gets_the_compile_cache_the_matrix_keyed_with_it(
    tmp_path, monkeypatch
):
    speed = _load()
    monkeypatch.setenv('S2S_MATRIX_CACHE', str(tmp_path))
    for name in ('venv-3.13-abc', 'home-3.13-abc', 'home-3.13-old'):
        (tmp_path / name).mkdir()
    old, new = tmp_path / 'home-3.11-old', tmp_path / 'home-3.11-new'
    old.mkdir()
    new.mkdir()
    os.utime(old, (1, 1))
    assert speed.matrix_home('3.13', str(tmp_path / 'venv-3.13-abc')) == str(
        tmp_path / 'home-3.13-abc'
    )
    # 3.11 is the README's .venv: its home is keyed apart, the newest wins.
    assert speed.matrix_home('3.11', '/anywhere/.venv') == str(new)
    assert speed.matrix_home('3.12', str(tmp_path / 'venv-3.12-x')) is None
    monkeypatch.setattr(speed, 'ROOT', str(tmp_path / 'no-checkout'))
    assert speed.matrix_venvs() == {'3.13': str(tmp_path / 'venv-3.13-abc')}
    assert speed.order(['3.13', '3.10', '3.11']) == ['3.11', '3.10', '3.13']
    # A Cython-core peer sorts right after its own venv.
    assert speed.order(['3.10+cython', '3.11', '3.10']) == [
        '3.11',
        '3.10',
        '3.10+cython',
    ]


@pytest.mark.parametrize(
    'args, message',
    [
        (['--venv', 'no-equals-sign'], '--venv takes NAME=PATH'),
        (['--venv', '3.12=/nowhere'], 'no 3.11 venv to compare with'),
        (['--venv', '3.11=/nowhere'], '3.11: no venv at /nowhere'),
        (['--steps', '0'], '--steps must be at least 1'),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message):
    proc = _run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


@pytest.mark.slow
def test_a_worker_trains_and_reports_its_stack():
    proc = _run(
        'worker', '--model', 'baseline', '--steps', '2', '--warmup', '1'
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    mark = [
        line for line in proc.stdout.splitlines() if line.startswith('PYTHON_')
    ]
    assert len(mark) == 1
    result = json.loads(mark[0].split(' ', 1)[1])
    import numpy

    assert result['python'] == '%d.%d.%d' % sys.version_info[:3]
    assert result['numpy'] == numpy.__version__
    assert result['steps'] == 2 and result['samples_per_s'] > 0
    # A real BLAS library, not Theano's NumPy C-API fallback.
    assert result['blas'] != 'NumPy C-API' and 'blas' in result['blas']
    assert 0 < result['cost_last'] < 10
    # compat's scan loops (--scan-cython is the peer): the Python loop,
    # and on 3.10 the Cython core for scans with small states.
    expected = 'python' if sys.version_info >= (3, 11) else 'mixed'
    assert result['scan_loop'] == expected
