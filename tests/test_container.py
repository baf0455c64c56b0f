"""The built image, run with podman: what students and instructors get.

These tests run containers of an image built by scripts/build_image.sh;
they are marked ``container`` and left out of the plain ``pytest`` run.
.ci/run builds the images and runs them::

    S2S_IMAGE=$(scripts/build_image.sh student) \\
    S2S_IMAGE_INSTRUCTOR=$(scripts/build_image.sh instructor) \\
        .venv/bin/python -m pytest -m container

``S2S_IMAGE`` names the student image, ``S2S_IMAGE_INSTRUCTOR`` the
instructor image (tests/test_container_opencl.py: ``S2S_IMAGE_OPENCL``).
Without them, or without podman, the tests skip saying why; under CI
(CI=true) that is a failure.  Containers run as the image's user (uid 1000)
through scripts/podman.sh, without network except JupyterLab's, which
listens on a loopback port of the host network.  Artifacts (a screenshot
of the lab, the figures) go to test-artifacts/.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from seq2seq_lasagne.settings import QUICK

ROOT = Path(__file__).resolve().parents[1]
PODMAN = ROOT / 'scripts' / 'podman.sh'
ARTIFACTS = ROOT / 'test-artifacts'
HOME = '/home/jovyan'
UID = 1000
LAB = ['01_encoder_decoder.ipynb', '02_attention_decoder.ipynb']
FALLBACK_LINE = (
    'seq2seq-lasagne: no NVIDIA GPU found (libcuda.so not '
    'loadable); running on the CPU'
)
#: nbgrader's solution marker, spelled in two parts so that this file (which
#: is in the student image) does not hold it.
MARKER = b'### BEGIN ' + b'SOLUTION'

pytestmark = pytest.mark.container


def _unavailable(why):
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail(why + ' (CI builds the images: see .ci/run)')
    pytest.skip(why)


def image_from(variable):
    tag = os.environ.get(variable)
    if not tag:
        _unavailable(
            '%s is not set (scripts/build_image.sh prints the tag '
            'to set it to)' % variable
        )
    if shutil.which('podman') is None:
        _unavailable(
            'podman is not installed (scripts/build_image.sh '
            'installs it as root)'
        )
    res = podman('image', 'exists', tag, check=False)
    if res.returncode != 0:
        _unavailable("%s=%s is not in podman's store" % (variable, tag))
    return tag


def podman(*args, check=True, timeout=900, **kw):
    res = subprocess.run(
        [str(PODMAN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )
    if check and res.returncode != 0:
        pytest.fail(
            'podman %s exited %d\n--- stdout\n%s\n--- stderr\n%s'
            % (
                ' '.join(map(str, args[:6])),
                res.returncode,
                res.stdout[-4000:],
                res.stderr[-4000:],
            )
        )
    return res


def run(
    image,
    *command,
    volumes=(),
    env=None,
    check=True,
    timeout=900,
    network='none',
):
    """``podman run --rm`` of one command; returns the CompletedProcess."""
    args = ['run', '--rm', '--network', network]
    for host, inside in volumes:
        args += ['--volume', '%s:%s' % (host, inside)]
    for key, value in (env or {}).items():
        args += ['--env', '%s=%s' % (key, value)]
    return podman(*args, image, *command, check=check, timeout=timeout)


def ours(stderr):
    return [
        line
        for line in stderr.splitlines()
        if line.startswith('seq2seq-lasagne:')
    ]


def work_folder(path):
    """A host folder for the students' work, as docs/CONTAINER.md says:
    owned by uid 1000 (the image's user)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, UID, UID)
    elif os.geteuid() != UID:
        pytest.skip('needs root (or uid 1000) to give the folder to uid 1000')
    return path


def record(name, value):
    """Keep a measured figure in test-artifacts/container_facts.json."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / 'container_facts.json'
    facts = json.loads(path.read_text()) if path.exists() else {}
    facts[name] = value
    path.write_text(json.dumps(facts, indent=1, sort_keys=True) + '\n')


@pytest.fixture(scope='module')
def image():
    return image_from('S2S_IMAGE')


@pytest.fixture(scope='module')
def instructor():
    return image_from('S2S_IMAGE_INSTRUCTOR')


# --------------------------------------------------------------------------
# Start-up


def test_the_entrypoint_says_in_one_line_that_it_runs_on_the_cpu(image):
    res = run(
        image,
        'python',
        '-c',
        'import seq2seq_lasagne, theano; print(theano.config.device)',
    )
    assert res.stdout.split() == ['cpu']
    assert ours(res.stderr) == [FALLBACK_LINE]


def test_the_user_is_uid_1000_in_its_home(image):
    res = run(image, 'sh', '-c', 'id -u; id -g; echo "$HOME"; pwd')
    assert res.stdout.split() == [str(UID), str(UID), HOME, HOME]


def test_a_terminals_login_shell_finds_the_command(image):
    """JupyterLab's terminals under jupyterhub-singleuser run ``$SHELL -l``,
    and /etc/profile sets PATH anew: the venv stays on it (docker/profile.sh),
    and the shell is bash, as in the lab's standalone server."""
    res = run(image, 'sh', '-c', 'echo "$SHELL"')
    assert res.stdout.split() == ['/bin/bash']
    for shell in ('bash', 'sh'):
        res = run(image, shell, '-lc', 'command -v seq2seq-lasagne')
        assert res.stdout.split() == ['/opt/venv/bin/seq2seq-lasagne'], (
            shell,
            res.stdout,
            res.stderr,
        )


def test_doctor_passes_on_the_cpu(image, capsys):
    res = run(image, 'seq2seq-lasagne', 'doctor', check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert lines[-1] == 'doctor: all checks passed on cpu'
    step = [line for line in lines if line.startswith('attention step')]
    assert step and ' ok, cost ' in step[0]
    with capsys.disabled():
        print('\n[container] doctor: %s' % step[0])


def test_jupyterhub_singleuser_runs(image):
    # JupyterHub 5's short help names no hub; its class options do.
    res = run(image, 'jupyterhub-singleuser', '--help-all')
    assert 'JupyterHubSingleUser' in res.stdout, res.stdout[-2000:]


def test_image_size_is_printed(image, capsys):
    size = int(
        podman(
            'image', 'inspect', '--format', '{{.Size}}', image
        ).stdout.strip()
    )
    assert size > 0
    record('image_size_bytes', size)
    with capsys.disabled():
        print('\n[container] %s: %.2f GB' % (image, size / 1e9))


# --------------------------------------------------------------------------
# The compile cache: a fresh container with a fresh home compiles nothing


# Theano 1.0.5 keyed DimShuffle's module by Python's salted hash, so every
# process compiled it again; compat.cache_keys fixes the key, and nothing
# at all may be compiled now.


def _seeded(image):
    """The compile directories the image ships."""
    res = run(image, 'sh', '-c', 'ls /opt/seq2seq-lasagne/theano-cache')
    names = res.stdout.split()
    assert names and all(n.startswith('compiledir_') for n in names), names
    return names


def test_a_fresh_empty_home_gets_the_compile_cache(image, tmp_path):
    """An empty host folder on /home/jovyan: the entrypoint seeds
    ~/.theano, and the doctor's attention step compiles no module."""
    home = work_folder(tmp_path / 'home')
    names = _seeded(image)
    res = run(
        image, 'seq2seq-lasagne', 'doctor', volumes=[(home, HOME)], check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    shipped = run(
        image,
        'sh',
        '-c',
        'cd /opt/seq2seq-lasagne/theano-cache && find . -name "*.so" | sort',
    ).stdout.split()
    for name in names:
        assert (home / '.theano' / name).is_dir()
    here = sorted(
        './' + str(p.relative_to(home / '.theano'))
        for p in (home / '.theano').rglob('*.so')
    )
    new = sorted(set(here) - set(shipped))
    ops = {
        line.split()[-1]
        for module in new
        for line in (home / '.theano' / module)
        .parent.joinpath('mod.cpp')
        .read_text()
        .splitlines()
        if line.startswith('// Op class ')
    }
    assert set(shipped) <= set(here)
    assert not new, 'the doctor compiled %s (%s)' % (new, sorted(ops))


def test_first_attention_step_of_the_lab_compiles_nothing(image, capsys):
    """A fresh container with a fresh named volume on /home/jovyan (podman
    fills it from the image, notebooks included): the attention notebook's
    first training step finds every graph compiled."""
    volume = 's2s-test-home-%s' % secrets.token_hex(4)
    podman('volume', 'create', volume)
    try:
        start = time.perf_counter()
        res = run(
            image,
            'python',
            '/opt/seq2seq-lasagne/docker/first_step.py',
            volumes=[(volume, HOME)],
            check=False,
        )
        wall = time.perf_counter() - start
        assert res.returncode == 0, res.stdout + res.stderr
        facts = json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        podman('volume', 'rm', '--force', volume, check=False)
    assert facts['compiledir'].startswith(HOME + '/.theano/')
    assert facts['compiled'] == 0 and not facts['compiled_ops'], facts
    # The image's warm stage optimised these graphs: none is optimised
    # again (compat.graph_cache; the container's flags differ from the
    # build's only in the cache's place and the unused GPU settings).
    assert facts['graph_cache']['misses'] == 0, facts
    assert facts['graph_cache']['hits'] > 0, facts
    facts['podman_run_seconds'] = round(wall, 2)
    record('first_attention_step', facts)
    with capsys.disabled():
        print(
            '\n[container] first attention step: %.1f s from podman run '
            '(%.1f s in the kernel), %d modules compiled'
            % (wall, facts['kernel_seconds'], facts['compiled'])
        )


# --------------------------------------------------------------------------
# The lab as a student runs it


def test_lab_notebooks_run_as_uid_1000_into_a_host_work_folder(
    image, tmp_path
):
    """Both lab notebooks in quick mode, executed inside the container by
    the image's user; the executed copies are saved to a host folder
    mounted as the work folder and outlive the container."""
    work = work_folder(tmp_path / 'work')
    res = run(
        image,
        'sh',
        '-c',
        'id -u && seq2seq-lasagne notebooks --quick '
        '--out %s/work/executed' % HOME,
        volumes=[(work, HOME + '/work')],
        check=False,
        timeout=1500,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.splitlines()[0] == str(UID)
    # The container is gone (--rm); its work is not.
    for name in LAB:
        saved = work / 'executed' / name
        assert saved.stat().st_uid == UID
        nb = json.loads(saved.read_text())
        outputs = [
            o
            for c in nb['cells']
            if c['cell_type'] == 'code'
            for o in c.get('outputs', [])
        ]
        assert not [o for o in outputs if o['output_type'] == 'error']
        text = ''.join(''.join(o.get('text', '')) for o in outputs)
        # Quick mode's sample counts, as the parameters cell prints them.
        assert 'samples_to_process %d ' % QUICK['samples'] in text, text[:300]
    shutil.copytree(
        work / 'executed',
        ARTIFACTS / 'container-notebooks',
        dirs_exist_ok=True,
    )


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def http(url, token=None, method='GET', body=None, timeout=10):
    """``(status, body)``; never raises for HTTP errors."""
    req = urllib.request.Request(url, method=method, data=body)
    if token:
        req.add_header('Authorization', 'token ' + token)
    if body is not None:
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope='module')
def lab(image, tmp_path_factory):
    """JupyterLab from the image's CMD, on a loopback port, with a host
    folder on /home/jovyan/work."""
    base = tmp_path_factory.mktemp('container-lab')
    work = work_folder(base / 'work')
    port, token = free_port(), secrets.token_hex(16)
    name = 's2s-test-lab-%s' % secrets.token_hex(4)
    podman(
        'run',
        '--detach',
        '--name',
        name,
        '--network',
        'host',
        '--env',
        'JUPYTER_TOKEN=' + token,
        '--env',
        'JUPYTER_IP=127.0.0.1',
        '--env',
        'JUPYTER_PORT=%d' % port,
        '--volume',
        '%s:%s/work' % (work, HOME),
        image,
    )
    url = 'http://127.0.0.1:%d' % port
    server = {
        'url': url,
        'token': token,
        'work': work,
        'name': name,
        'base': base,
    }
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if http(url + '/api/status', token, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            state = podman(
                'inspect', '--format', '{{.State.Running}}', name, check=False
            ).stdout.strip()
            if state != 'true' or time.monotonic() > deadline:
                logs = podman('logs', name, check=False)
                pytest.fail(
                    'JupyterLab did not answer (running: %s):\n%s'
                    % (state, (logs.stdout + logs.stderr)[-3000:])
                )
            time.sleep(0.5)
        yield server
    finally:
        logs = podman('logs', name, check=False)
        (base / 'server.log').write_text(logs.stdout + logs.stderr)
        podman('rm', '--force', '--time', '5', name, check=False)


def test_lab_refuses_no_token_and_a_wrong_token(lab):
    assert http(lab['url'] + '/api/contents')[0] in (401, 403)
    assert http(lab['url'] + '/api/contents', 'wrong-' + lab['token'])[0] in (
        401,
        403,
    )


def test_lab_lists_the_lab_notebooks_and_no_solutions(lab):
    status, body = http(lab['url'] + '/api/contents/notebooks', lab['token'])
    assert status == 200
    names = sorted(c['name'] for c in json.loads(body)['content'])
    assert [n for n in names if n.endswith('.ipynb')] == LAB
    assert 'solutions' not in names


def test_lab_log_says_it_runs_on_the_cpu(lab):
    logs = podman('logs', lab['name'])
    assert FALLBACK_LINE in logs.stdout + logs.stderr


def test_a_notebook_saved_through_the_lab_lands_in_the_host_folder(image, lab):
    """Saved through the lab's contents API into the mounted work folder:
    on the host, owned by uid 1000, and read back by a second container
    (the notebooks test shows the folder outlives a removed container)."""
    nb = {
        'type': 'notebook',
        'format': 'json',
        'content': {
            'cells': [
                {
                    'cell_type': 'markdown',
                    'metadata': {},
                    'source': 'my answer %s' % lab['token'][:8],
                }
            ],
            'metadata': {},
            'nbformat': 4,
            'nbformat_minor': 5,
        },
    }
    status, _ = http(
        lab['url'] + '/api/contents/work/mine.ipynb',
        lab['token'],
        method='PUT',
        body=json.dumps(nb).encode(),
    )
    assert status in (200, 201)
    saved = lab['work'] / 'mine.ipynb'
    assert saved.stat().st_uid == UID
    res = run(
        image,
        'cat',
        HOME + '/work/mine.ipynb',
        volumes=[(lab['work'], HOME + '/work')],
    )
    assert 'my answer %s' % lab['token'][:8] in res.stdout


def chromium():
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None:
        _unavailable(
            "Debian's chromium is not installed "
            '(scripts/ci_system_deps.sh installs it)'
        )
    return exe


def run_chromium(lab, url, *args):
    profile = lab['base'] / ('chromium-%s' % secrets.token_hex(4))
    cmd = [
        chromium(),
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--user-data-dir=%s' % profile,
        '--window-size=1280,900',
        '--virtual-time-budget=25000',
        *args,
        url,
    ]
    env = dict(os.environ, HOME=str(lab['base']))
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=str(lab['base']),
    )


def test_chromium_shows_the_lab(lab):
    url = '%s/lab/tree/notebooks/%s?token=%s' % (
        lab['url'],
        LAB[1],
        lab['token'],
    )
    dom = run_chromium(lab, url, '--dump-dom')
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'jp-Notebook' in dom.stdout, 'no notebook panel in the lab page'
    assert LAB[1] in dom.stdout
    shot = lab['base'] / 'container_lab.png'
    res = run_chromium(lab, url, '--screenshot=%s' % shot)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / 'container_lab.png')
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1280, 900)
        colors = img.convert('RGB').getcolors(maxcolors=1 << 20) or []
        assert len(colors) > 50, 'screenshot looks blank'
        assert max(c for c, _ in colors) < 0.97 * 1280 * 900


# --------------------------------------------------------------------------
# Solutions: none in the student image, all in the instructor's

#: A solutions notebook or the instructors' course, by path in the image.
SOLUTION_PATH = re.compile(
    r'(^|/)notebooks/solutions/|solutions?[^/]*\.ipynb$'
    r'|^home/[^/]+/teaching/'
)
#: The marker where nbgrader reads it: at the start of a line of a source
#: file, or anywhere in a notebook's JSON.
MARKER_LINE = re.compile(rb'(^|\n)[ \t]*' + re.escape(MARKER))


def solutions_in(image):
    """Paths of solution files in any layer of the image.

    Every layer is read (``podman image save``), not only the merged file
    system: a file deleted by a later layer is still shipped in an
    earlier one.
    """
    found = set()
    proc = subprocess.Popen(
        [str(PODMAN), 'image', 'save', '--format', 'docker-archive', image],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with tarfile.open(fileobj=proc.stdout, mode='r|') as archive:
            for member in archive:
                if not (member.isfile() and member.name.endswith('.tar')):
                    continue
                layer = archive.extractfile(member)
                with tarfile.open(fileobj=layer, mode='r|') as files:
                    for entry in files:
                        name = entry.name.lstrip('./')
                        if SOLUTION_PATH.search(name):
                            found.add(name)
                        if not entry.isfile() or entry.size > 50 << 20:
                            continue
                        data = files.extractfile(entry).read()
                        if MARKER not in data:
                            continue
                        if name.endswith('.ipynb') or MARKER_LINE.search(data):
                            found.add(name)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors='replace')
        if proc.wait() != 0:
            pytest.fail(
                'podman image save %s failed: %s' % (image, err[-500:])
            )
    return sorted(found)


def test_no_solutions_in_the_student_image(image):
    assert solutions_in(image) == []


def test_the_instructor_image_has_the_solutions(instructor):
    """The same search finds them in the instructor image (so it can fail)."""
    found = solutions_in(instructor)
    for name in (
        '01_encoder_decoder_solutions.ipynb',
        '02_attention_decoder_solutions.ipynb',
    ):
        assert 'home/jovyan/notebooks/solutions/' + name in found, found
    res = run(instructor, 'sh', '-c', 'ls notebooks/solutions')
    assert res.stdout.split() == [
        '01_encoder_decoder_solutions.ipynb',
        '02_attention_decoder_solutions.ipynb',
    ]
