"""A class on one machine: JupyterHub spawning the student image for two
students, used the way a class uses it (docs/HUB.md).

The hub is real: JupyterHub (the ``hub`` extra's version) with
configurable-http-proxy from npm, DockerSpawner driving podman through its
Docker-compatible API, jupyterhub-idle-culler as a hub service, all started
from docker/hub/jupyterhub_config.py (scripts/class_hub.py adds loopback
ports and a roster of two students with passwords).  The students are HTTP
clients going through the proxy: the login form, the spawn page, the
OAuth round trip to their server, the contents API, a kernel's websocket
and a terminal's.

Marked ``container`` and ``hub``: they need ``S2S_IMAGE`` (the student
image, from scripts/build_image.sh), the ``hubtest`` extra and
configurable-http-proxy, which scripts/ci_hub.sh installs before it runs
``pytest -m hub``.  Without them the tests skip saying why; under CI
(CI=true) that is a failure.  The hub's log goes to test-artifacts/hub/.
"""

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seq2seq_lasagne.settings import notebook_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'scripts'))

from test_container import _unavailable, image_from  # noqa: E402

pytestmark = [pytest.mark.container, pytest.mark.hub, pytest.mark.slow]

ARTIFACTS = ROOT / 'test-artifacts' / 'hub'
NOTEBOOK = 'notebooks/02_attention_decoder.ipynb'
UID = 1000
#: Seconds without activity before the culler stops a server, here; long
#: enough that no server is culled while a test works with it.
CULL_TIMEOUT = 60
CULL_EVERY = 10
#: The interrupted run of the culler test.
RUN = 'runs/culled'
TRAIN = (
    'seq2seq-lasagne train --model attention --samples 1000000 '
    '--val-interval 500 --val-size 200 --no-progress --out %s '
    '> runs-culled.log 2>&1' % RUN
)


@pytest.fixture(scope='module')
def class_hub(tmp_path_factory):
    image = image_from('S2S_IMAGE')
    try:
        import dockerspawner  # noqa: F401
        import jupyterhub_idle_culler  # noqa: F401
    except ImportError as exc:
        _unavailable(
            '%s (pip install -c constraints.txt -e ".[hubtest]"; '
            'scripts/ci_hub.sh does)' % exc
        )
    from class_hub import ClassHub, proxy_command

    if proxy_command() is None:
        _unavailable(
            'configurable-http-proxy not found (scripts/ci_hub.sh installs '
            'it with npm)'
        )
    students = {'ada': secrets.token_hex(8), 'bob': secrets.token_hex(8)}
    hub = ClassHub(
        image,
        tmp_path_factory.mktemp('hub'),
        students,
        environment={'SEQ2SEQ_QUICK': '1'},
        settings={
            'CULL_TIMEOUT': CULL_TIMEOUT,
            'CULL_EVERY': CULL_EVERY,
            'ACTIVITY_INTERVAL': 5,
        },
    )
    try:
        hub.start()
        yield hub
    finally:
        hub.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name in ('jupyterhub.log', 'podman-service.log'):
            if (hub.workdir / name).exists():
                shutil.copy(hub.workdir / name, ARTIFACTS / name)


@pytest.fixture(scope='module')
def students(class_hub):
    """Both students logged in through the proxy, their servers started at
    the same time, as at the start of a class."""
    from class_hub import Student, run_all

    out = {
        name: Student(class_hub.url, name, password)
        for name, password in class_hub.students.items()
    }

    def arrive(student):
        begin = time.monotonic()
        student.login()
        student.start()
        return time.monotonic() - begin

    seconds = run_all([lambda s=s: arrive(s) for s in out.values()])
    record('login_to_lab_seconds', dict(zip(out, seconds)))
    return out


def record(name, value):
    """Keep a figure of this run in test-artifacts/hub/facts.json."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / 'facts.json'
    facts = json.loads(path.read_text()) if path.exists() else {}
    facts[name] = value
    path.write_text(json.dumps(facts, indent=1, sort_keys=True) + '\n')


def outputs_text(nb):
    return ''.join(
        ''.join(o.get('text', ''))
        for c in nb['cells']
        if c['cell_type'] == 'code'
        for o in c.get('outputs', [])
    )


def saved_by(name):
    return 'print(%r)' % ('saved by %s' % name)


# --------------------------------------------------------------------------


def test_a_wrong_password_is_refused(class_hub):
    from class_hub import HubError, Student

    with pytest.raises(HubError, match='login answered 403'):
        Student(class_hub.url, 'ada', 'not-her-password').login()


def test_each_student_gets_a_container_of_their_own(class_hub, students):
    assert class_hub.running() == sorted(
        class_hub.container(name) for name in students
    )
    for name, student in students.items():
        info = class_hub.inspect(name)
        assert info['State']['Running']
        assert info['ImageName'] == class_hub.image or info[
            'ImageName'
        ].endswith(class_hub.image), info['ImageName']
        assert 'JUPYTERHUB_USER=%s' % name in info['Config']['Env']
        homes = [
            m for m in info['Mounts'] if m['Destination'] == '/home/jovyan'
        ]
        assert [m['Name'] for m in homes] == [class_hub.volume(name)]
        # The server knows who is calling: the hub's OAuth identity.
        assert student.api('GET', 'me')['identity']['username'] == name
        assert class_hub.server(name)['ready']


def test_each_student_runs_the_notebook_into_their_own_volume(
    class_hub, students
):
    """Both students execute the attention notebook, quick mode, through
    their server's kernel websocket, each adding a cell of their own, and
    save it; each saved copy is in that student's volume only."""
    from class_hub import run_all

    begin = time.monotonic()
    run_all(
        [
            lambda s=s, n=n: s.run_notebook(
                NOTEBOOK, extra_cells=[saved_by(n)]
            )
            for n, s in students.items()
        ]
    )
    record('two_notebooks_seconds', round(time.monotonic() - begin, 1))
    for name in students:
        path = class_hub.volume_path(name) / NOTEBOOK
        assert path.stat().st_uid == UID
        nb = json.loads(path.read_text())
        errors = [
            o
            for c in nb['cells']
            if c['cell_type'] == 'code'
            for o in c.get('outputs', [])
            if o['output_type'] == 'error'
        ]
        assert not errors, errors
        text = outputs_text(nb)
        # The notebook prints its settings: a quick run's (SEQ2SEQ_QUICK=1
        # in the servers' environment).
        quick = notebook_settings('attention', quick=True)
        assert 'samples_to_process %d |' % quick.samples in text
        assert 'saved by %s' % name in text
        for other in set(students) - {name}:
            assert 'saved by %s' % other not in text
            assert saved_by(other) not in path.read_text()


def test_a_student_cannot_reach_another_students_server(class_hub, students):
    ada, bob = students['ada'], students['bob']
    # Ada's browser cookies, on Bob's server: refused by Bob's server (API)
    # and by the hub (the OAuth authorization of a page).
    r = ada.session.get(
        class_hub.url + '/user/bob/api/contents/' + NOTEBOOK, timeout=60
    )
    assert r.status_code == 403
    r = ada.session.put(
        class_hub.url + '/user/bob/api/contents/from-ada.txt',
        json={'type': 'file', 'format': 'text', 'content': 'hi'},
        headers=ada._server_headers(),
        timeout=60,
    )
    assert r.status_code == 403
    page = ada.session.get(class_hub.url + '/user/bob/lab', timeout=60)
    assert page.status_code == 403
    assert 'saved by bob' not in page.text
    # Ada's API token: the same answers, and Bob is not even listed.
    token = {'Authorization': 'token %s' % ada.token()}
    r = ada.session.get(
        class_hub.url + '/user/bob/api/status', headers=token, timeout=60
    )
    assert r.status_code == 403
    r = ada.session.get(
        class_hub.url + '/hub/api/users/bob', headers=token, timeout=60
    )
    assert r.status_code in (403, 404)
    assert not (class_hub.volume_path('bob') / 'from-ada.txt').exists()
    # Her own server still answers her token.
    r = ada.session.get(
        class_hub.url + '/user/ada/api/status', headers=token, timeout=60
    )
    assert r.status_code == 200
    assert bob.read(NOTEBOOK)['content']


def test_stopping_and_restarting_keeps_the_files(class_hub, students):
    ada = students['ada']
    before = class_hub.inspect('ada')['Id']
    ada.stop()
    assert class_hub.container('ada') not in class_hub.running()
    assert class_hub.volume_path('ada').is_dir()
    seconds = ada.start()
    record('restart_to_lab_seconds', round(seconds, 1))
    assert class_hub.inspect('ada')['Id'] != before
    nb = ada.read(NOTEBOOK)['content']
    assert 'saved by ada' in outputs_text(nb)


def _stops_runs_cleanly(image):
    """Whether the image's package ends a run stopped by SIGTERM by writing
    its outputs (seq2seq_lasagne.interrupts, the package's stop signals);
    without it a SIGTERM ends a run at once, and what remains is the
    checkpoint of its last validation."""
    res = subprocess.run(
        [
            str(ROOT / 'scripts' / 'podman.sh'),
            'run',
            '--rm',
            '--network',
            'none',
            image,
            'python',
            '-c',
            'import importlib.util as u; '
            'print(u.find_spec("seq2seq_lasagne.interrupts") is not None)',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.split()[-1] == 'True'


def test_the_idle_culler_stops_an_idle_server_and_the_work_is_kept(
    class_hub, students
):
    """Bob starts a long training run in a terminal, with its output to a
    file, and leaves.  The culler stops his idle server; before the
    container goes, the run gets SIGTERM (docker/hub/pre_stop.sh) and
    writes its outputs into his volume, next to his saved notebook."""
    from class_hub import _wait

    bob = students['bob']
    if class_hub.server('bob') is None:  # culled while the others worked
        bob.start()
    bob.terminal(TRAIN)

    def checkpoint():
        try:
            names = [f['name'] for f in bob.read(RUN)['content']]
        except Exception:  # not there yet
            return False
        return 'checkpoint.npz' in names

    _wait(checkpoint, 900, 'the first checkpoint of %s' % RUN, 5)
    # Bob leaves: no request reaches his server from here on.
    idle_since = time.monotonic()
    class_hub.wait_stopped('bob', CULL_TIMEOUT + 4 * CULL_EVERY + 240)
    idle = time.monotonic() - idle_since
    record('culled_after_idle_seconds', round(idle, 1))
    log = (class_hub.workdir / 'jupyterhub.log').read_text()
    assert 'DELETE /hub/api/users/bob/server (idle-culler@' in log
    # Activity reaches the hub every 5 s: the culler cannot have seen Bob
    # idle for CULL_TIMEOUT before he was.
    assert idle >= CULL_TIMEOUT - 5
    assert 'pre-stop of %s: ' % class_hub.container('bob') in log
    assert 'SIGTERM to ' in log and 'seq2seq-lasagne train' in log
    assert class_hub.container('bob') not in class_hub.running()

    home = class_hub.volume_path('bob')
    run = home / RUN
    assert (run / 'checkpoint.npz').stat().st_uid == UID
    assert 'saved by bob' in outputs_text(
        json.loads((home / NOTEBOOK).read_text())
    )
    if _stops_runs_cleanly(class_hub.image):
        metrics = json.loads((run / 'metrics.json').read_text())
        assert metrics['interrupted']
        assert 0 < metrics['samples_processed'] < 1000000
        assert (run / 'params.npz').exists()
        record('culled_run_samples', metrics['samples_processed'])
    else:
        assert not (run / 'metrics.json').exists()
        record('culled_run_samples', None)
