"""docker/start-jupyter.sh: a weak token refused, loopback outside a
container, and the token out of the environment of kernels and terminals.

The short-token checks run the script itself (it stops before Jupyter
starts).  The server test starts the real JupyterLab through the script
with ``S2S_CONTAINER=0`` (this machine may itself be a container), then
looks at the addresses the server listens on and at the environment
(``/proc/PID/environ``) of a real kernel and a real terminal it started.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / 'docker' / 'start-jupyter.sh'
BIN = Path(sys.executable).parent


def start_env(tmp_path, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(('JUPYTER', 'S2S_'))
    }
    env.update(
        PATH='%s:%s' % (BIN, os.environ.get('PATH', '/usr/bin:/bin')),
        HOME=str(tmp_path),
        JUPYTER_RUNTIME_DIR=str(tmp_path / 'runtime'),
        JUPYTER_CONFIG_DIR=str(tmp_path / 'config'),
        JUPYTER_DATA_DIR=str(tmp_path / 'data'),
        S2S_NOTEBOOK_DIR=str(tmp_path),
    )
    env.update(extra)
    return env


@pytest.mark.parametrize('token', ['short', 'x' * 31])
def test_short_token_is_refused_in_one_line(tmp_path, token):
    res = subprocess.run(
        ['bash', str(START)],
        env=start_env(tmp_path, JUPYTER_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        'seq2seq-lasagne: error: JUPYTER_TOKEN has %d characters; use at '
        'least 32 (or leave it unset to get one)' % len(token)
    )


def test_bad_container_switch_is_refused(tmp_path):
    res = subprocess.run(
        ['bash', str(START)],
        env=start_env(tmp_path, JUPYTER_TOKEN='t' * 40, S2S_CONTAINER='yes'),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert 'S2S_CONTAINER must be 0 or 1' in res.stderr


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def api(url, token, method='GET'):
    req = urllib.request.Request(
        url, method=method, data=b'' if method == 'POST' else None
    )
    req.add_header('Authorization', 'token ' + token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b'null')


def environ_of(pid):
    data = Path('/proc/%d/environ' % pid).read_bytes()
    return dict(
        item.split('=', 1)
        for item in data.decode(errors='replace').split('\0')
        if '=' in item
    )


def children(pid):
    import psutil

    return psutil.Process(pid).children(recursive=True)


@pytest.mark.slow
def test_server_on_a_host(tmp_path):
    token = secrets.token_hex(20)
    port = free_port()
    proc = subprocess.Popen(
        ['bash', str(START)],
        env=start_env(
            tmp_path,
            JUPYTER_TOKEN=token,
            JUPYTER_PORT=str(port),
            S2S_CONTAINER='0',
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = 'http://127.0.0.1:%d' % port
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, 'the server exited'
            try:
                api(url + '/api/status', token)
                break
            except OSError:
                assert time.monotonic() < deadline, 'no answer in 180 s'
                time.sleep(0.5)
        import psutil

        server = psutil.Process(proc.pid)  # the script exec'ed jupyter
        listening = {
            c.laddr.ip
            for c in server.net_connections(kind='inet')
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening and listening <= {'127.0.0.1', '::1'}, listening

        kernel = api(url + '/api/kernels', token, 'POST')
        terminal = api(url + '/api/terminals', token, 'POST')
        found = {}
        deadline = time.monotonic() + 120
        while len(found) < 2 and time.monotonic() < deadline:
            for child in children(proc.pid):
                cmd = ' '.join(child.cmdline())
                if 'ipykernel' in cmd:
                    found['kernel'] = child.pid
                elif child.name() == 'bash':
                    found['terminal'] = child.pid
            time.sleep(0.5)
        assert set(found) == {'kernel', 'terminal'}, (found, kernel, terminal)
        for what, pid in found.items():
            env = environ_of(pid)
            assert 'JUPYTER_TOKEN' not in env, what
            assert token not in '\0'.join(env.values()), what
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_image_declares_it_is_a_container():
    text = (ROOT / 'Dockerfile').read_text()
    assert 'ENV S2S_CONTAINER=1' in text


@pytest.mark.slow
def test_default_address_follows_the_container_switch(tmp_path):
    """The address the script passes (read from its trace, jupyter not
    started: the port is refused by a bad --ServerApp option first)."""
    for switch, ip in (('0', '127.0.0.1'), ('1', '0.0.0.0')):
        res = subprocess.run(
            ['bash', '-x', str(START), '--ServerApp.port=notaport'],
            env=start_env(
                tmp_path, JUPYTER_TOKEN='t' * 40, S2S_CONTAINER=switch
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert '--ServerApp.ip=%s' % ip in res.stderr, res.stderr[-2000:]
        remote = 'False' if switch == '0' else 'True'
        assert '--ServerApp.allow_remote_access=%s' % remote in res.stderr
