"""A class on one machine, on loopback ports: JupyterHub spawning the student
image for each student, and students using it over HTTP as a browser does.

- :class:`PodmanService`: podman's Docker-compatible API on a unix socket
  (``podman system service``, through scripts/podman.sh: runc, no default
  ulimits), for DockerSpawner.
- :class:`ClassHub`: JupyterHub with configurable-http-proxy, started from
  the committed docker/hub/jupyterhub_config.py plus a few settings of its
  own (loopback ports, a roster of students with passwords, names prefixed
  so that nothing else on the machine is touched).
- :class:`Student`: logs in with the hub's login form, starts and stops
  their server, reads and writes files with the contents API, runs a
  notebook through the kernel's websocket and saves it, types into a
  terminal.

Used by tests/test_hub.py and benchmarks/bench_hub.py; needs the ``hubtest``
extra (``pip install -c constraints.txt -e ".[test,hubtest]"``) and
configurable-http-proxy (scripts/ci_hub.sh installs both).
"""

import datetime
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]
PODMAN = ROOT / 'scripts' / 'podman.sh'
HUB_CONFIG = ROOT / 'docker' / 'hub' / 'jupyterhub_config.py'
#: Where scripts/ci_hub.sh installs configurable-http-proxy.
PROXY_CACHE = (
    Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache')
    / 'seq2seq-lasagne-hub'
    / 'proxy'
)
HOME = '/home/jovyan'


class HubError(RuntimeError):
    """The hub, the proxy or podman's service did not do what was asked."""


def free_port():
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def proxy_command():
    """The configurable-http-proxy executable: $S2S_CHP, the copy that
    scripts/ci_hub.sh installs, or one on PATH; None if there is none."""
    for candidate in (
        os.environ.get('S2S_CHP'),
        str(PROXY_CACHE / 'node_modules' / '.bin' / 'configurable-http-proxy'),
        shutil.which('configurable-http-proxy'),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def podman(*args, check=True, timeout=300):
    """Run scripts/podman.sh with ``args``; returns the CompletedProcess."""
    res = subprocess.run(
        [str(PODMAN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and res.returncode != 0:
        raise HubError(
            'podman %s: exit %d: %s'
            % (' '.join(map(str, args[:4])), res.returncode, res.stderr[-500:])
        )
    return res


def _tail(path, n=40):
    try:
        return '\n'.join(Path(path).read_text().splitlines()[-n:])
    except OSError:
        return ''


def _wait(condition, timeout, what, interval=0.5, log=None):
    """Poll ``condition()`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = ('\n--- %s\n%s' % (log, _tail(log))) if log else ''
            raise HubError(
                'timed out after %d s: %s%s' % (timeout, what, tail)
            )
        time.sleep(interval)


def _stop_process(proc, timeout=60):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__('localhost', timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class PodmanService:
    """podman's Docker-compatible API on a unix socket, for DockerSpawner.

    Parameters
    ----------
    workdir : path
        Holds the socket and the service's log.
    """

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.socket = self.workdir / 'podman.sock'
        self.log = self.workdir / 'podman-service.log'
        self.proc = None

    @property
    def url(self):
        """The socket as DOCKER_HOST."""
        return 'unix://%s' % self.socket

    def _ping(self):
        if self.proc.poll() is not None:
            raise HubError(
                'podman system service exited %d:\n%s'
                % (self.proc.returncode, _tail(self.log))
            )
        conn = _UnixHTTPConnection(str(self.socket))
        try:
            conn.request('GET', '/_ping')
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start(self, timeout=60):
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, 'w') as log:
            self.proc = subprocess.Popen(
                [
                    str(PODMAN),
                    'system',
                    'service',
                    '--time=0',
                    self.url,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(self._ping, timeout, 'podman system service', log=self.log)
        return self

    def stop(self):
        _stop_process(self.proc, 30)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


#: The hub configuration written for a run: the committed one, then what
#: a test or a measurement needs on top of it.
_RUN_CONFIG = '''\
"""Written by scripts/class_hub.py: {config} plus loopback ports, a roster
of students with passwords and an observer service."""
import hmac

from jupyterhub.auth import Authenticator
from traitlets import Dict

c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821


class RosterAuthenticator(Authenticator):
    """Each student of the roster logs in with their own password."""

    passwords = Dict(config=True)

    async def authenticate(self, handler, data):
        name = data.get('username', '')
        expected = self.passwords.get(name)
        given = data.get('password', '')
        if expected and hmac.compare_digest(expected, given):
            return name
        return None


c.JupyterHub.authenticator_class = RosterAuthenticator
c.RosterAuthenticator.passwords = {passwords!r}
c.Authenticator.allowed_users = set({passwords!r})
c.JupyterHub.bind_url = 'http://127.0.0.1:{port}'
c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{hub_port}'
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{api_port}'
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = 'sqlite:///{workdir}/jupyterhub.sqlite'
c.JupyterHub.cookie_secret_file = '{workdir}/jupyterhub_cookie_secret'
c.JupyterHub.pid_file = '{workdir}/jupyterhub.pid'
c.ConfigurableHTTPProxy.pid_file = '{workdir}/proxy.pid'
c.Spawner.environment = dict(c.Spawner.environment, **{environment!r})
c.JupyterHub.services = list(c.JupyterHub.services) + [
    {{'name': 'class-observer', 'api_token': {token!r}}},
]
c.JupyterHub.load_roles = list(c.JupyterHub.load_roles) + [
    {{
        'name': 'class-observer',
        'scopes': ['list:users', 'read:users', 'read:servers'],
        'services': ['class-observer'],
    }},
]
'''


class ClassHub:
    """JupyterHub on loopback ports with DockerSpawner on podman.

    Parameters
    ----------
    image : str
        The student image's tag.
    workdir : path
        The hub's files (database, configuration, logs).
    students : dict
        ``{name: password}``.
    environment : dict
        Extra environment of every student's server (``SEQ2SEQ_QUICK``).
    settings : dict
        ``S2S_HUB_*`` settings of docker/hub/jupyterhub_config.py
        (``CULL_TIMEOUT``, ``MEM_LIMIT``, ...), without the prefix.
    extra_config : str
        Python lines appended to the hub's configuration.
    """

    def __init__(
        self,
        image,
        workdir,
        students,
        environment=None,
        settings=None,
        extra_config='',
    ):
        self.image = image
        self.workdir = Path(workdir)
        self.students = dict(students)
        self.environment = dict(environment or {})
        self.settings = dict(settings or {})
        self.extra_config = extra_config
        self.prefix = 's2s-hubtest-%s' % secrets.token_hex(3)
        self.port, self.hub_port, self.api_port = (
            free_port(),
            free_port(),
            free_port(),
        )
        self.url = 'http://127.0.0.1:%d' % self.port
        self.token = secrets.token_hex(24)
        self.log = self.workdir / 'jupyterhub.log'
        self.service = PodmanService(self.workdir)
        self.proc = None

    # --- names of what it makes -------------------------------------------

    def container(self, name):
        """The container of ``name``'s server."""
        return '%s-%s' % (self.prefix, name)

    def volume(self, name):
        """``name``'s home volume."""
        return '%s-home-%s' % (self.prefix, name)

    def volume_path(self, name):
        """Where ``name``'s home volume is on this machine."""
        res = podman(
            'volume',
            'inspect',
            '--format',
            '{{.Mountpoint}}',
            self.volume(name),
        )
        return Path(res.stdout.strip())

    # --- start and stop ---------------------------------------------------

    def start(self, timeout=180):
        proxy = proxy_command()
        if proxy is None:
            raise HubError(
                'configurable-http-proxy not found (scripts/ci_hub.sh '
                'installs it; or set S2S_CHP)'
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / 'jupyterhub_config.py'
        config.write_text(
            _RUN_CONFIG.format(
                config=str(HUB_CONFIG),
                passwords=self.students,
                port=self.port,
                hub_port=self.hub_port,
                api_port=self.api_port,
                proxy=proxy,
                workdir=self.workdir,
                environment=self.environment,
                token=self.token,
            )
            + self.extra_config
        )
        self.service.start()
        env = dict(os.environ)
        env.update(
            DOCKER_HOST=self.service.url,
            S2S_HUB_IMAGE=self.image,
            S2S_HUB_NAME_PREFIX=self.prefix,
            S2S_HUB_VOLUME_PREFIX=self.prefix + '-home-',
        )
        env.update(
            ('S2S_HUB_' + key, str(value))
            for key, value in self.settings.items()
        )
        hub = Path(sys.executable).with_name('jupyterhub')
        with open(self.log, 'w') as log:
            self.proc = subprocess.Popen(
                [str(hub), '-f', str(config)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(
            self._answers, timeout, 'JupyterHub through the proxy', 1, self.log
        )
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise HubError(
                'jupyterhub exited %d:\n%s'
                % (self.proc.returncode, _tail(self.log))
            )
        try:
            return requests.get(self.url + '/hub/api/', timeout=5).ok
        except requests.RequestException:
            return False

    def stop(self, keep_volumes=False):
        """Stop the hub (which stops every server), the service; remove the
        containers and, unless ``keep_volumes``, the home volumes."""
        _stop_process(self.proc, 180)
        self.proc = None
        try:
            mine = self.prefix + '-'
            out = podman('ps', '-a', '--format', '{{.Names}}', check=False)
            for item in out.stdout.split():
                if item.startswith(mine):
                    podman('rm', '--force', item, check=False)
            out = podman('volume', 'ls', '--format', '{{.Name}}', check=False)
            for item in out.stdout.split():
                if item.startswith(mine) and not keep_volumes:
                    podman('volume', 'rm', '--force', item, check=False)
        finally:
            self.service.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- the hub's API, as the observer service ----------------------------

    def api(self, method, path, **kw):
        r = requests.request(
            method,
            self.url + '/hub/api' + path,
            headers={'Authorization': 'token %s' % self.token},
            timeout=30,
            **kw,
        )
        r.raise_for_status()
        return r.json() if r.content else None

    def server(self, name):
        """``name``'s default server as the hub sees it, or None."""
        return self.api('GET', '/users/%s' % name)['servers'].get('')

    def wait_stopped(self, name, timeout):
        """Wait until the hub says ``name`` has no server; seconds waited."""
        start = time.monotonic()
        _wait(
            lambda: self.server(name) is None,
            timeout,
            "%s's server to stop" % name,
            2,
            self.log,
        )
        return time.monotonic() - start

    def running(self):
        """Names of this hub's containers that are running."""
        out = podman('ps', '--format', '{{.Names}}').stdout.split()
        return sorted(n for n in out if n.startswith(self.prefix + '-'))

    def inspect(self, name):
        """``podman inspect`` of ``name``'s container."""
        return json.loads(podman('inspect', self.container(name)).stdout)[0]


def container_memory(container):
    """Memory of a running container from its cgroup, in bytes.

    Returns
    -------
    dict
        ``rss`` (anonymous memory: the processes' own), ``usage`` (what the
        memory limit counts, page cache included) and ``peak`` (the highest
        ``usage`` so far); cgroup v1 or v2.
    """
    path = podman(
        'inspect', '--format', '{{.State.CgroupPath}}', container
    ).stdout.strip()
    v2 = Path('/sys/fs/cgroup') / path.lstrip('/')
    v1 = Path('/sys/fs/cgroup/memory') / path.lstrip('/')
    if (v1 / 'memory.usage_in_bytes').exists():
        stat = _memory_stat(v1 / 'memory.stat')
        return {
            'rss': stat['total_rss'],
            'usage': int((v1 / 'memory.usage_in_bytes').read_text()),
            'peak': int((v1 / 'memory.max_usage_in_bytes').read_text()),
        }
    if (v2 / 'memory.current').exists():
        stat = _memory_stat(v2 / 'memory.stat')
        peak = v2 / 'memory.peak'
        usage = int((v2 / 'memory.current').read_text())
        return {
            'rss': stat['anon'],
            'usage': usage,
            'peak': int(peak.read_text()) if peak.exists() else None,
        }
    raise HubError('no memory cgroup for %s at %s' % (container, path))


def _memory_stat(path):
    out = {}
    for line in path.read_text().splitlines():
        key, value = line.split()
        out[key] = int(value)
    return out


class CellError(RuntimeError):
    """A notebook cell raised; the notebook was saved up to that cell."""


class Student:
    """One student with a browser's cookies: login form, their server, its
    contents, kernels and terminals, all through the hub's proxy.

    Parameters
    ----------
    hub_url : str
        The proxy's URL.
    name, password : str
    """

    def __init__(self, hub_url, name, password):
        self.hub = hub_url
        self.name = name
        self.password = password
        self.session = requests.Session()
        self.base = '%s/user/%s/' % (hub_url, name)

    # --- cookies ------------------------------------------------------------

    def _cookie(self, name, path):
        for cookie in self.session.cookies:
            if cookie.name == name and cookie.path.rstrip('/') == path.rstrip(
                '/'
            ):
                return cookie.value
        return None

    def _hub_headers(self):
        return {'X-XSRFToken': self._cookie('_xsrf', '/hub/') or ''}

    def _server_headers(self):
        return {
            'X-XSRFToken': self._cookie('_xsrf', '/user/%s/' % self.name) or ''
        }

    # --- the hub ------------------------------------------------------------

    def login(self):
        """Log in with the hub's form; returns the response."""
        page = self.session.get(self.hub + '/hub/login', timeout=30)
        page.raise_for_status()
        m = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        xsrf = m.group(1) if m else self._cookie('_xsrf', '/hub/')
        r = self.session.post(
            self.hub + '/hub/login',
            data={
                'username': self.name,
                'password': self.password,
                '_xsrf': xsrf or '',
            },
            allow_redirects=False,
            timeout=30,
        )
        if r.status_code != 302:
            raise HubError(
                '%s: login answered %d' % (self.name, r.status_code)
            )
        return r

    def hub_api(self, method, path, **kw):
        """The hub's REST API with this student's cookie."""
        return self.session.request(
            method,
            self.hub + '/hub/api' + path,
            headers=self._hub_headers(),
            timeout=60,
            **kw,
        )

    def start(self, timeout=300):
        """Start the server as the home page's button does, then open the
        lab (the OAuth round trip sets the server's cookie); returns the
        seconds until the lab answered."""
        begin = time.monotonic()
        r = self.session.get(
            self.hub + '/hub/spawn/%s' % self.name, timeout=timeout
        )
        if r.status_code >= 400:
            raise HubError(
                '%s: spawn answered %d' % (self.name, r.status_code)
            )

        def lab():
            r = self.session.get(self.base + 'lab', timeout=60)
            return r.ok and r.url.rstrip('/').endswith(
                '/user/%s/lab' % self.name
            )

        _wait(lab, timeout, "%s's server" % self.name, 1)
        return time.monotonic() - begin

    def stop(self, timeout=120):
        """Stop the server as the home page's button does."""
        r = self.hub_api('DELETE', '/users/%s/server' % self.name)
        if r.status_code not in (202, 204):
            raise HubError('%s: stop answered %d' % (self.name, r.status_code))

        def stopped():
            model = self.hub_api('GET', '/user').json()
            return '' not in model.get('servers', {})

        _wait(stopped, timeout, "%s's server to stop" % self.name, 1)

    def token(self, note='class test'):
        """A new API token of this student's (the hub's token page)."""
        r = self.hub_api(
            'POST', '/users/%s/tokens' % self.name, json={'note': note}
        )
        r.raise_for_status()
        return r.json()['token']

    # --- the student's server ----------------------------------------------

    def get(self, path, **kw):
        """GET ``/user/<name>/<path>`` with this student's cookies."""
        return self.session.get(self.base + path, timeout=60, **kw)

    def api(self, method, path, **kw):
        r = self.session.request(
            method,
            self.base + 'api/' + path,
            headers=self._server_headers(),
            timeout=120,
            **kw,
        )
        r.raise_for_status()
        return r.json() if r.content else None

    def read(self, path):
        """A file's model from the contents API (``content`` included)."""
        return self.api('GET', 'contents/' + path)

    def save_notebook(self, path, nb):
        self.api(
            'PUT',
            'contents/' + path,
            json={'type': 'notebook', 'format': 'json', 'content': nb},
        )

    def _ws(self, path):
        url = self.base.replace('http://', 'ws://', 1) + path
        cookies = self.session.prepare_request(
            requests.Request('GET', self.base + path)
        ).headers.get('Cookie', '')
        return websocket.create_connection(
            url,
            header=['X-XSRFToken: %s' % self._server_headers()['X-XSRFToken']],
            cookie=cookies,
            timeout=60,
        )

    def run_notebook(self, path, cell_timeout=900, extra_cells=()):
        """Execute a notebook of the server in a kernel of the server, cell
        by cell over the kernel's websocket, and save it with its outputs.

        Parameters
        ----------
        path : str
            The notebook's path in the server.
        cell_timeout : float
            Seconds each cell may run.
        extra_cells : sequence of str
            Code cells appended before running (a student's own work).

        Returns
        -------
        dict
            The executed notebook (nbformat v4 JSON).
        """
        import nbformat

        nb = nbformat.from_dict(self.read(path)['content'])
        for source in extra_cells:
            nb.cells.append(nbformat.v4.new_code_cell(source))
        session = self.api(
            'POST',
            'sessions',
            json={
                'path': path,
                'type': 'notebook',
                'name': '',
                'kernel': {'name': 'python3'},
            },
        )
        kernel = Kernel(
            self._ws(
                'api/kernels/%s/channels?session_id=%s'
                % (session['kernel']['id'], uuid.uuid4().hex)
            ),
            self.name,
        )
        try:
            kernel.wait_ready(300)
            for cell in nb.cells:
                if cell.cell_type != 'code':
                    continue
                reply, outputs = kernel.execute(cell.source, cell_timeout)
                cell.outputs = outputs
                cell.execution_count = reply.get('execution_count')
                if reply.get('status') != 'ok':
                    self.save_notebook(path, nb)
                    raise CellError(
                        '%s: %s: %s'
                        % (path, reply.get('ename'), reply.get('evalue'))
                    )
        finally:
            kernel.close()
        self.save_notebook(path, nb)
        return nb

    def terminal(self, command, settle=3.0):
        """Open a terminal, type ``command`` and Enter, and leave (the
        terminal and what it runs stay); returns the terminal's name."""
        name = self.api('POST', 'terminals')['name']
        ws = self._ws('terminals/websocket/%s' % name)
        try:
            ws.send(json.dumps(['stdin', command + '\r']))
            end = time.monotonic() + settle
            ws.settimeout(settle)
            while time.monotonic() < end:
                try:
                    ws.recv()
                except websocket.WebSocketTimeoutException:
                    break
        finally:
            ws.close()
        return name


class Kernel:
    """A kernel's channels over jupyter_server's websocket (JSON frames)."""

    def __init__(self, ws, username):
        self.ws = ws
        self.session = uuid.uuid4().hex
        self.username = username

    def close(self):
        self.ws.close()

    def _send(self, channel, msg_type, content):
        msg_id = uuid.uuid4().hex
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ws.send(
            json.dumps(
                {
                    'header': {
                        'msg_id': msg_id,
                        'msg_type': msg_type,
                        'username': self.username,
                        'session': self.session,
                        'date': now.isoformat(),
                        'version': '5.3',
                    },
                    'parent_header': {},
                    'metadata': {},
                    'content': content,
                    'channel': channel,
                    'buffers': [],
                }
            )
        )
        return msg_id

    def _recv(self, deadline):
        self.ws.settimeout(max(1.0, deadline - time.monotonic()))
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            # jupyter_server's binary frame: offsets, then the JSON message
            # and its buffers (not needed here).
            (count,) = struct.unpack('!I', data[:4])
            offsets = struct.unpack('!%dI' % count, data[4 : 4 + 4 * count])
            end = offsets[1] if count > 1 else len(data)
            data = data[offsets[0] : end]
        return json.loads(data)

    def wait_ready(self, timeout):
        """Ask for kernel_info until the kernel answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg_id = self._send('shell', 'kernel_info_request', {})
            try:
                while True:
                    msg = self._recv(min(deadline, time.monotonic() + 5))
                    if (
                        msg['msg_type'] == 'kernel_info_reply'
                        and msg['parent_header'].get('msg_id') == msg_id
                    ):
                        return msg['content']
            except websocket.WebSocketTimeoutException:
                continue
        raise HubError('the kernel did not answer in %d s' % timeout)

    def execute(self, code, timeout):
        """Run ``code``; returns ``(execute_reply content, outputs)``, the
        outputs as nbformat output dicts (clear_output applied)."""
        from nbformat.v4 import output_from_msg

        msg_id = self._send(
            'shell',
            'execute_request',
            {
                'code': code,
                'silent': False,
                'store_history': True,
                'user_expressions': {},
                'allow_stdin': False,
                'stop_on_error': True,
            },
        )
        deadline = time.monotonic() + timeout
        outputs, reply, idle, clear_next = [], None, False, False
        while reply is None or not idle:
            if time.monotonic() > deadline:
                raise HubError('a cell ran over %d s' % timeout)
            try:
                msg = self._recv(deadline)
            except websocket.WebSocketTimeoutException:
                continue
            if msg['parent_header'].get('msg_id') != msg_id:
                continue
            kind = msg['msg_type']
            if msg.get('channel') == 'shell' and kind == 'execute_reply':
                reply = msg['content']
            elif kind == 'status':
                idle = msg['content']['execution_state'] == 'idle'
            elif kind == 'clear_output':
                if msg['content'].get('wait'):
                    clear_next = True
                else:
                    outputs = []
            elif kind in (
                'stream',
                'display_data',
                'execute_result',
                'error',
            ):
                if clear_next:
                    outputs, clear_next = [], False
                outputs.append(output_from_msg(msg))
        return reply, outputs


def run_all(tasks):
    """Run callables in threads at once; returns their results in order,
    raising the first exception any of them raised."""
    results = [None] * len(tasks)
    errors = [None] * len(tasks)
    barrier = threading.Barrier(len(tasks))

    def work(i, task):
        barrier.wait()
        try:
            results[i] = task()
        except BaseException as exc:  # re-raised below, in the caller
            errors[i] = exc

    threads = [
        threading.Thread(target=work, args=(i, t)) for i, t in enumerate(tasks)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results
