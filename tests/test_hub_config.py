"""The hub's committed files, checked without a hub (docs/HUB.md).

- docker/hub/config.yaml (Zero to JupyterHub values) against the keys the
  chart documents, and against the measured memory of a student's server;
- docker/hub/package.json and its lock (configurable-http-proxy's pin);
- docker/hub/jupyterhub_config.py's settings, as documented;
- docker/hub/pre_stop.sh, run in a PID namespace of its own, where it can
  see no process of this machine but its own.

tests/test_hub.py runs a real hub with jupyterhub_config.py and the script;
Kubernetes was not run for this project.
"""

import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

yaml = pytest.importorskip('yaml')

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / 'docker' / 'hub'
MEASURED = ROOT / 'docs' / 'results' / 'hub' / 'hub-measure.json'

ANY = object()  # a mapping (or value) the chart passes through unchecked
NUMBER = (int, float)
QUANTITY = (int, float, str)
#: The part of the chart's values.schema.yaml (Zero to JupyterHub 4.x, the
#: chart of JupyterHub 5.4) that config.yaml uses.  These mappings are
#: closed in the schema (additionalProperties: false): helm refuses a key
#: they do not list.  ``(type, ...)`` is a leaf's type.
CHART = {
    'hub': {'config': ANY},
    'singleuser': {
        'image': {'name': str, 'tag': str, 'pullPolicy': str},
        'cmd': (list, str),
        'defaultUrl': str,
        'uid': int,
        'fsGid': int,
        'cpu': {'limit': NUMBER, 'guarantee': NUMBER},
        'memory': {'limit': QUANTITY, 'guarantee': QUANTITY},
        'storage': {
            'type': str,
            'capacity': str,
            'homeMountPath': str,
            'dynamic': ANY,
            'static': ANY,
            'extraVolumes': ANY,
            'extraVolumeMounts': ANY,
            'extraLabels': ANY,
        },
        'lifecycleHooks': {'postStart': ANY, 'preStop': ANY},
        'extraPodConfig': ANY,
        'extraEnv': ANY,
        'extraResource': {'limits': ANY, 'guarantees': ANY},
        'profileList': list,
        'startTimeout': int,
    },
    'cull': {
        'enabled': bool,
        'users': bool,
        'adminUsers': bool,
        'removeNamedServers': bool,
        'timeout': int,
        'every': int,
        'concurrency': int,
        'maxAge': int,
    },
}
#: What the schema requires of the mappings used here.
REQUIRED = {
    ('singleuser', 'image'): {'name', 'tag'},
    ('singleuser', 'storage'): {'type', 'homeMountPath'},
    ('cull',): {'enabled'},
}
#: KubeSpawner's profile keys (singleuser.profileList passes them through).
PROFILE_KEYS = {
    'display_name',
    'slug',
    'description',
    'default',
    'kubespawner_override',
    'profile_options',
}


def check_keys(values, schema, path=()):
    """Every key of ``values`` is one the chart documents, of its type."""
    assert isinstance(values, dict), path
    for key, value in values.items():
        where = '.'.join(path + (key,))
        assert key in schema, '%s is not a documented key of the chart' % where
        spec = schema[key]
        if spec is ANY:
            continue
        if isinstance(spec, dict):
            check_keys(value, spec, path + (key,))
        else:
            assert isinstance(value, spec), (where, value)
    for required in REQUIRED.get(path, ()):
        assert required in values, '%s needs %s' % ('.'.join(path), required)


def quantity(text):
    """A Kubernetes or Docker memory quantity in bytes (``2G``, ``1Gi``)."""
    m = re.fullmatch(r'(\d+(?:\.\d+)?)([KMGT]i?)?', str(text))
    assert m, text
    factor = {'': 1, None: 1}
    for i, unit in enumerate('KMGT', 1):
        factor[unit] = 1000**i
        factor[unit + 'i'] = 1024**i
    return float(m.group(1)) * factor[m.group(2)]


@pytest.fixture(scope='module')
def values():
    return yaml.safe_load((HUB / 'config.yaml').read_text())


@pytest.fixture(scope='module')
def spawner_config():
    return (HUB / 'jupyterhub_config.py').read_text()


def default_of(config, name):
    m = re.search(r"_env\(\s*'%s',\s*'([^']*)'\s*\)" % name, config)
    assert m, name
    return m.group(1)


# --- config.yaml -----------------------------------------------------------


def test_config_yaml_uses_only_documented_keys(values):
    check_keys(values, CHART)


def test_a_bad_key_is_caught():
    with pytest.raises(AssertionError, match='singleuser.memory.max'):
        check_keys({'singleuser': {'memory': {'max': '1G'}}}, CHART)
    with pytest.raises(AssertionError, match='singleuser.storage needs'):
        check_keys({'singleuser': {'storage': {'type': 'dynamic'}}}, CHART)


def test_config_yaml_runs_the_student_image_as_the_hub_expects(
    values, spawner_config
):
    single = values['singleuser']
    image = default_of(spawner_config, 'S2S_HUB_IMAGE')
    assert '%s:%s' % (single['image']['name'], single['image']['tag']) == (
        image
    )
    assert single['cmd'] in (
        'jupyterhub-singleuser',
        ['jupyterhub-singleuser'],
    )
    assert single['uid'] == 1000
    assert single['storage']['type'] == 'dynamic'
    assert single['storage']['homeMountPath'].startswith('/home/jovyan')


def test_config_yaml_culls_idle_servers(values, spawner_config):
    cull = values['cull']
    assert cull['enabled'] is True
    assert cull['timeout'] == int(
        default_of(spawner_config, 'S2S_HUB_CULL_TIMEOUT')
    )
    assert cull['every'] == int(
        default_of(spawner_config, 'S2S_HUB_CULL_EVERY')
    )
    assert 0 < cull['every'] < cull['timeout']


def test_config_yaml_offers_a_gpu(values):
    profiles = values['singleuser']['profileList']
    for profile in profiles:
        assert set(profile) <= PROFILE_KEYS, profile
    assert sum(bool(p.get('default')) for p in profiles) == 1
    gpus = [
        p['kubespawner_override']['extra_resource_limits']['nvidia.com/gpu']
        for p in profiles
        if 'nvidia.com/gpu'
        in p.get('kubespawner_override', {}).get('extra_resource_limits', {})
    ]
    assert gpus == ['1']


def test_config_yaml_stops_runs_cleanly(values, spawner_config):
    """The preStop hook is the DockerSpawner's pre-stop, and the pod waits
    longer than it does."""
    hooks = values['singleuser']['lifecycleHooks']
    command = hooks['preStop']['exec']['command']
    pre_stop = re.search(r"PRE_STOP = '([^']+)'", spawner_config).group(1)
    assert command[0] == pre_stop
    assert pre_stop.endswith('/docker/hub/pre_stop.sh')
    assert (HUB / 'pre_stop.sh').stat().st_mode & 0o111
    grace = values['singleuser']['extraPodConfig']
    assert grace['terminationGracePeriodSeconds'] > int(command[1]) + 10
    start = hooks['postStart']['exec']['command']
    assert 'cp -rn /home/jovyan/notebooks' in ' '.join(start)


def test_memory_limits_cover_the_measured_training(values, spawner_config):
    """A student's server while training, measured by
    benchmarks/bench_hub.py, stays well inside the limits of both
    configurations."""
    if not MEASURED.exists():
        pytest.skip('no measurement yet (benchmarks/bench_hub.py writes it)')
    measured = json.loads(MEASURED.read_text())
    peak = max(
        row['peak_bytes'] for row in measured['load'] if row['students'] == 1
    )
    rest = measured['memory']['at_rest']['usage_bytes']
    memory = values['singleuser']['memory']
    assert quantity(memory['limit']) >= 2 * peak
    assert quantity(memory['guarantee']) >= peak
    assert quantity(memory['guarantee']) >= 2 * rest
    assert quantity(default_of(spawner_config, 'S2S_HUB_MEM_LIMIT')) >= (
        quantity(memory['limit'])
    )
    assert values['singleuser']['cpu']['limit'] == float(
        default_of(spawner_config, 'S2S_HUB_CPU_LIMIT')
    )


# --- the proxy's pin ------------------------------------------------------


def test_the_proxy_is_pinned_exactly_in_package_json_and_lock():
    package = json.loads((HUB / 'package.json').read_text())
    lock = json.loads((HUB / 'package-lock.json').read_text())
    version = package['dependencies']['configurable-http-proxy']
    assert re.fullmatch(r'\d+\.\d+\.\d+', version), version
    entry = lock['packages']['node_modules/configurable-http-proxy']
    assert entry['version'] == version
    assert lock['packages']['']['dependencies'] == package['dependencies']
    # Node.js 20 runs it (scripts/ci_hub.sh checks the machine's).
    assert entry['engines']['node'].replace(' ', '') == '>=20'
    for name, pkg in lock['packages'].items():
        if name:
            assert 'resolved' not in pkg, name  # no registry host in git
            assert pkg['integrity'].startswith('sha512-'), name


# --- jupyterhub_config.py ------------------------------------------------


def test_every_setting_of_the_hub_config_is_documented(spawner_config):
    doc = spawner_config.split('"""')[1]
    read = set(
        re.findall(r"_(?:env|names)\(\s*'(S2S_HUB_\w+)'", spawner_config)
    )
    documented = set(re.findall(r'^\s+(S2S_HUB_\w+)', doc, re.M))
    assert read == documented


# --- pre_stop.sh ---------------------------------------------------------

#: A stand-in for the image's PID 1 (tini running the entrypoint), so that
#: the script's guard lets it act inside the namespace.
ENTRYPOINT = '/usr/bin/tini -- /opt/seq2seq-lasagne/docker/entrypoint.sh'


def in_own_pid_namespace(script, tmp_path):
    """Run ``script`` with bash as PID 1 of a new PID namespace (its own
    /proc): it sees, and can signal, only the processes it starts."""
    if subprocess.run(['id', '-u'], capture_output=True, text=True).stdout != (
        '0\n'
    ):
        pytest.skip('needs root for a PID namespace (unshare); CI is root')
    (tmp_path / 'run.sh').write_text(script)
    return subprocess.run(
        [
            'unshare',
            '--pid',
            '--fork',
            '--mount-proc',
            'bash',
            '-c',
            'exec -a "%s" bash %s' % (ENTRYPOINT, tmp_path / 'run.sh'),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_pre_stop_refuses_outside_the_image():
    res = subprocess.run(
        [
            'unshare',
            '--pid',
            '--fork',
            '--mount-proc',
            'bash',
            str(HUB / 'pre_stop.sh'),
            '5',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode != 0 and 'unshare' in res.stderr:
        pytest.skip('no PID namespace here: %s' % res.stderr.strip())
    assert res.returncode == 2
    assert res.stderr.startswith('pre_stop.sh: error: not in a container')
    assert res.stderr.count('\n') == 1


def test_pre_stop_stops_a_run_and_waits_for_it(tmp_path):
    """A stand-in run that needs 2 s after SIGTERM to write its outputs:
    the script signals it once and returns when it is done; a process that
    is not a run is left alone."""
    script = textwrap.dedent(
        """\
        python3 -c '
        import signal, sys, time
        def stop(*_):
            time.sleep(2)
            open("outputs-written", "w").close()
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        open("started", "w").close()
        time.sleep(60)
        ' seq2seq-lasagne train --out x &
        sleep 60 &
        other=$!
        while [ ! -e started ]; do sleep 0.1; done
        bash %s 20
        echo "rc=$?"
        kill -0 "$other" && echo "other alive"
        """
        % (HUB / 'pre_stop.sh')
    )
    res = in_own_pid_namespace(script, tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith('pre_stop.sh: SIGTERM to ')
    assert 'seq2seq-lasagne train --out x' in lines[0]
    assert lines[1:] == ['rc=0', 'other alive']
    assert (tmp_path / 'outputs-written').exists()


def test_pre_stop_gives_up_after_its_time(tmp_path):
    script = textwrap.dedent(
        """\
        python3 -c '
        import signal, time
        signal.signal(signal.SIGTERM, lambda *_: None)
        open("started", "w").close()
        time.sleep(60)
        ' seq2seq-lasagne train --out x &
        while [ ! -e started ]; do sleep 0.1; done
        bash %s 1
        echo "rc=$?"
        """
        % (HUB / 'pre_stop.sh')
    )
    res = in_own_pid_namespace(script, tmp_path)
    assert res.stdout.splitlines()[-1] == 'rc=1'
    assert 'still going after 1 s' in res.stderr


def test_pre_stop_bad_argument_is_one_line(tmp_path):
    res = in_own_pid_namespace(
        'bash %s soon; echo "rc=$?"' % (HUB / 'pre_stop.sh'), tmp_path
    )
    assert res.stdout == 'rc=2\n'
    assert res.stderr == (
        "pre_stop.sh: error: SECONDS must be a whole number, not 'soon'\n"
    )
