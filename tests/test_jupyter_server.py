"""JupyterLab as the image starts it: token auth, the notebooks, a browser.

The image's ENTRYPOINT (docker/entrypoint.sh, which picks the Theano device)
runs its CMD (docker/start-jupyter.sh) here on loopback, on a free port, with
a temporary HOME and runtime directory and a random token, serving a copy of
notebooks/.  Checks: the REST API refuses /api/contents without the token,
lists the notebooks with it, and a real headless Chromium (Debian's
``chromium``) opens the first notebook in the lab and saves a screenshot, to
the pytest tmp dir and to test-artifacts/jupyter_lab.png.

Needs the `test` extra (JupyterLab) and Debian's chromium
(scripts/ci_system_deps.sh); S2S_LAB_NOTEBOOKS=DIR serves another directory
of notebooks instead of notebooks/ (for trying it out before they exist).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts JupyterLab and Chromium

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = Path(os.environ.get('S2S_LAB_NOTEBOOKS', ROOT / 'notebooks'))
ARTIFACT = ROOT / 'test-artifacts' / 'jupyter_lab.png'
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def get(url, token=None, timeout=10):
    """``(status, body)`` of a GET; never raises for HTTP errors."""
    req = urllib.request.Request(url)
    if token:
        req.add_header('Authorization', 'token ' + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def notebook_names():
    return sorted(p.name for p in NOTEBOOKS.glob('*.ipynb'))


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    if shutil.which('jupyter-lab', path=str(BIN)) is None:
        pytest.fail('JupyterLab is missing: pip install -e ".[test]"')
    names = notebook_names()
    assert names, 'no notebooks in %s' % NOTEBOOKS
    base = tmp_path_factory.mktemp('lab')
    served = base / 'root'
    shutil.copytree(
        NOTEBOOKS,
        served / 'notebooks',
        ignore=shutil.ignore_patterns('.ipynb_checkpoints', 'executed'),
    )
    home = base / 'home'
    home.mkdir()
    port = free_port()
    token = secrets.token_hex(16)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(('JUPYTER', 'THEANO', 'VIRTUAL_ENV'))
    }
    env.update(
        PATH='%s:%s' % (BIN, os.environ.get('PATH', '/usr/bin:/bin')),
        HOME=str(home),
        JUPYTER_RUNTIME_DIR=str(base / 'runtime'),
        JUPYTER_CONFIG_DIR=str(base / 'config'),
        JUPYTER_DATA_DIR=str(base / 'data'),
        JUPYTER_TOKEN=token,
        JUPYTER_IP='127.0.0.1',
        JUPYTER_PORT=str(port),
        S2S_NOTEBOOK_DIR=str(served),
        # As in the image: asks for the GPU; the entrypoint falls back.
        THEANO_FLAGS='device=cuda,floatX=float32,base_compiledir=%s'
        % (base / 'theano'),
    )
    log = open(base / 'server.log', 'w')
    proc = subprocess.Popen(
        [
            'bash',
            str(ROOT / 'docker/entrypoint.sh'),
            str(ROOT / 'docker/start-jupyter.sh'),
        ],
        env=env,
        cwd=str(base),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = 'http://127.0.0.1:%d' % port
    server = {
        'url': url,
        'token': token,
        'names': names,
        'base': base,
        'log': base / 'server.log',
        'proc': proc,
    }
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    'JupyterLab exited %s:\n%s'
                    % (proc.returncode, server['log'].read_text()[-3000:])
                )
            try:
                if get(url + '/api/status', token, timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    'JupyterLab did not answer in 120 s:\n'
                    + server['log'].read_text()[-3000:]
                )
            time.sleep(0.5)
        yield server
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_api_refuses_requests_without_the_token(lab):
    status, _ = get(lab['url'] + '/api/contents/notebooks')
    assert status in (401, 403)
    status, _ = get(lab['url'] + '/api/contents/notebooks', token='wrong')
    assert status in (401, 403)


def test_api_lists_the_notebooks_with_the_token(lab):
    status, body = get(lab['url'] + '/api/contents/notebooks', lab['token'])
    assert status == 200
    listing = json.loads(body)
    served = sorted(
        c['name'] for c in listing['content'] if c['type'] == 'notebook'
    )
    assert served == lab['names'] and served


def test_server_says_why_it_runs_on_the_cpu(lab):
    probe = subprocess.run(
        [sys.executable, str(ROOT / 'docker/gpu_probe.py')],
        capture_output=True,
    )
    if probe.returncode == 0:
        pytest.skip('this machine has a usable NVIDIA GPU')
    text = lab['log'].read_text()
    assert (
        'seq2seq-lasagne: no NVIDIA GPU found (libcuda.so not loadable); '
        'running on the CPU'
    ) in text


def chromium():
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None:
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail(
                "Debian's chromium is missing: run "
                'scripts/ci_system_deps.sh first'
            )
        pytest.skip(
            "Debian's chromium is not installed "
            '(scripts/ci_system_deps.sh installs it)'
        )
    return exe


def run_chromium(lab, url, *args, budget_ms=25000):
    profile = lab['base'] / ('chromium-%s' % secrets.token_hex(4))
    cmd = [
        chromium(),
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--user-data-dir=%s' % profile,
        '--window-size=1280,900',
        '--virtual-time-budget=%d' % budget_ms,
        *args,
        url,
    ]
    env = dict(os.environ, HOME=str(lab['base'] / 'home'))
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=str(lab['base']),
    )


def test_chromium_opens_the_first_notebook(lab):
    first = lab['names'][0]
    url = '%s/lab/tree/notebooks/%s?token=%s' % (
        lab['url'],
        first,
        lab['token'],
    )
    dom = run_chromium(lab, url, '--dump-dom')
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'jp-Notebook' in dom.stdout, 'no notebook panel in the lab page'
    assert first in dom.stdout

    shot = lab['base'] / 'jupyter_lab.png'
    res = run_chromium(lab, url, '--screenshot=%s' % shot)
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    ARTIFACT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)

    data = shot.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    assert len(data) > 20000, 'screenshot suspiciously small'
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1280, 900)
        rgb = img.convert('RGB')
        colors = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colors) > 50, 'screenshot looks blank'
        # No single colour covers (almost) everything.
        assert max(c for c, _ in colors) < 0.97 * 1280 * 900
