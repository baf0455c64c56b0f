"""Write constraints.txt: the full lock of the test environment, per Python.

For each interpreter given, pip resolves the README's install with the
class hub's test added (``-e ".[test,hubtest]"``, Theano's sdist built as
the README builds it) in a throwaway venv without installing anything
(``pip install --dry-run --report``), and the versions chosen are merged
into one file: a package at one version on every Python gets a plain
``name==version`` line, one that differs gets a line per version with a
``python_version`` marker.
Where pyproject.toml gives a range (NumPy, SciPy and matplotlib on Python
3.12, from the lock's set to Colab's), the lock takes its lower end.

Each Python is first resolved with the current constraints.txt as
constraints, so that versions stay as they are unless a change to
pyproject.toml requires otherwise; only when that fails is it resolved
afresh (the newest versions the index offers), which the output says.

    .venv/bin/python scripts/lock_constraints.py \\
        PYTHON3.10 PYTHON3.11 PYTHON3.12 PYTHON3.13 [-o constraints.txt]

Every supported Python must be given (pyproject.toml's requires-python):
a lock missing one would leave that Python unpinned.  Needs the package
index; takes a few minutes.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

HEADER = """\
# Every package of the test environment, pinned, per Python
# (pip install -c constraints.txt ...; the README's set-up).
# Written by scripts/lock_constraints.py from pyproject.toml: do not edit.
"""


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def fail(message):
    print('lock_constraints.py: error: ' + message, file=sys.stderr)
    sys.exit(2)


def python_version(python):
    out = subprocess.run(
        [python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        fail('cannot run %s' % python)
    return out.stdout.strip()


def lower_ends(pyproject, version):
    """``name==lower`` for each ranged requirement on this Python."""
    pins = []
    for text in pyproject['project']['dependencies']:
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({'python_version': version}):
            continue
        lows = [s.version for s in req.specifier if s.operator == '>=']
        if lows:
            pins.append('%s==%s' % (req.name, lows[0]))
    return pins


def resolve(python, version, pyproject, setuptools_pin, current):
    """``{canonical name: (name, version)}`` pip chooses on one Python."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = os.path.join(tmp, 'venv')
        pip = [
            os.path.join(venv, 'bin', 'python'),
            '-m',
            'pip',
            '-q',
            '--disable-pip-version-check',
        ]
        subprocess.run([python, '-m', 'venv', venv], check=True)
        subprocess.run(pip + ['install', setuptools_pin], check=True)
        prefer = os.path.join(tmp, 'prefer.txt')
        with open(prefer, 'w') as f:
            f.write('\n'.join(lower_ends(pyproject, version)) + '\n')
        report = os.path.join(tmp, 'report.json')
        env = dict(os.environ, PYTHONPATH=str(ROOT / 'build-support'))
        command = pip + [
            'install',
            '--dry-run',
            '--ignore-installed',
            '--no-build-isolation',
            '--report',
            report,
            '-c',
            prefer,
            '-e',
            '%s[test,hubtest]' % ROOT,
        ]
        kept = (
            subprocess.run(
                command + ['-c', current],
                env=env,
                cwd=tmp,
                capture_output=True,
            ).returncode
            == 0
        )
        if not kept:
            print(
                '  Python %s: the current lock does not resolve; '
                'resolving afresh' % version
            )
            subprocess.run(command, check=True, env=env, cwd=tmp)
        with open(report) as f:
            installs = json.load(f)['install']
    own = canonical(pyproject['project']['name'])
    chosen = {}
    for item in installs:
        name = item['metadata']['name']
        if canonical(name) != own:
            chosen[canonical(name)] = (name, item['metadata']['version'])
    return chosen


def marker(versions, supported):
    """A ``python_version`` marker for a run of supported versions."""
    index = sorted(supported.index(v) for v in versions)
    runs, start = [], index[0]
    for prev, cur in zip(index, index[1:] + [None]):
        if cur != prev + 1:
            runs.append((supported[start], supported[prev]))
            start = cur
    parts = []
    for lo, hi in runs:
        if lo == hi:
            parts.append('python_version == "%s"' % lo)
        elif lo == supported[0]:
            parts.append('python_version <= "%s"' % hi)
        elif hi == supported[-1]:
            parts.append('python_version >= "%s"' % lo)
        else:
            parts.append(
                'python_version >= "%s" and python_version <= "%s"' % (lo, hi)
            )
    return ' or '.join(parts)


def merge(by_python):
    """The lock's lines from ``{python version: resolution}``."""
    supported = sorted(by_python, key=Version)
    names = {}
    for resolution in by_python.values():
        for key, (name, _) in resolution.items():
            names.setdefault(key, name)
    lines = []
    for key in sorted(names):
        versions = {}
        for py in supported:
            if key in by_python[py]:
                versions.setdefault(by_python[py][key][1], []).append(py)
        for version, pys in sorted(
            versions.items(), key=lambda kv: Version(kv[1][0])
        ):
            line = '%s==%s' % (names[key], version)
            if pys != supported:
                line += ' ; ' + marker(pys, supported)
            lines.append(line)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'pythons',
        nargs='+',
        help='one interpreter per supported Python version',
    )
    parser.add_argument(
        '-o', '--output', default=str(ROOT / 'constraints.txt')
    )
    parser.add_argument(
        '--current',
        default=str(ROOT / 'constraints.txt'),
        help='the lock to keep where it still resolves',
    )
    args = parser.parse_args(argv)
    with open(ROOT / 'pyproject.toml', 'rb') as f:
        pyproject = tomllib.load(f)
    allowed = SpecifierSet(pyproject['project']['requires-python'])
    setuptools_pin = next(
        d
        for d in pyproject['project']['dependencies']
        if canonical(Requirement(d).name) == 'setuptools'
    )
    by_python = {}
    for python in args.pythons:
        version = python_version(python)
        if version not in allowed:
            fail(
                '%s is Python %s, outside requires-python %s'
                % (python, version, allowed)
            )
        print('resolving on Python %s (%s)' % (version, python))
        by_python[version] = resolve(
            python, version, pyproject, setuptools_pin, args.current
        )
    expected = {
        '3.%d' % minor for minor in range(40) if '3.%d' % minor in allowed
    }
    if set(by_python) != expected:
        fail(
            'give one interpreter for each of %s (got %s)'
            % (
                ', '.join(sorted(expected, key=Version)),
                ', '.join(sorted(by_python, key=Version)),
            )
        )
    with open(args.output, 'w') as f:
        f.write(HEADER)
        f.write('\n'.join(merge(by_python)) + '\n')
    print('wrote %s' % args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
