"""JupyterHub for a class on one machine: one container of the student image
per student (DockerSpawner), through Docker or podman's Docker API.

    jupyterhub -f docker/hub/jupyterhub_config.py

What it sets up (docs/HUB.md):

- each student's server is a container of the student image running
  ``jupyterhub-singleuser`` (the image's ENTRYPOINT, which picks the Theano
  device and seeds the compile cache, stays in front of it);
- the container shares the host's network and its server listens on a
  loopback port of its own: the proxy reaches it there, the container
  reaches the hub's API on loopback;
- each student's home, ``/home/jovyan``, is a named volume of their own
  (``s2s-home-<name>``), filled from the image on first use (the lab
  notebooks, the compile cache) and kept when the container is removed;
- memory and CPU limits per container;
- jupyterhub-idle-culler as a hub service: idle servers are stopped, their
  files stay in the volume.

The authenticator is the deployer's choice (JupyterHub's default is PAM);
the roster comes from S2S_HUB_STUDENTS.  tests/test_hub.py loads this file
from a configuration of its own that adds a test authenticator and loopback
ports.

Environment (all optional):

    S2S_HUB_IMAGE           the student image
                            (localhost/seq2seq-lasagne:student)
    S2S_HUB_STUDENTS        comma-separated user names allowed to log in
    S2S_HUB_ADMINS          comma-separated admin user names
    S2S_HUB_MEM_LIMIT       memory limit per student (2G)
    S2S_HUB_CPU_LIMIT       CPU limit per student, in cores (1.0)
    S2S_HUB_CULL_TIMEOUT    seconds without activity before a server is
                            stopped (3600)
    S2S_HUB_CULL_EVERY      seconds between the culler's checks (300)
    S2S_HUB_ACTIVITY_INTERVAL  seconds between activity updates from the
                            proxy and the servers (300, JupyterHub's default)
    S2S_HUB_VOLUME_PREFIX   prefix of the home volumes (s2s-home-)
    S2S_HUB_NAME_PREFIX     prefix of the container names (s2s-lab)
    S2S_HUB_STOP_TIMEOUT    seconds a stopping server's training runs have
                            to write their outputs, and then the server (30)
    DOCKER_HOST             the Docker API (podman: unix:///run/podman/podman.sock)
"""

import os
import sys

from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port

c = get_config()  # noqa: F821  (defined by JupyterHub when it loads this file)


def _env(name, default):
    return os.environ.get(name, '').strip() or default


def _names(name):
    return {n.strip() for n in _env(name, '').split(',') if n.strip()}


#: Seconds a stopping server's training runs have to write their outputs,
#: and then the server itself before it is killed.
STOP_SECONDS = int(_env('S2S_HUB_STOP_TIMEOUT', '30'))
#: In the student image (docker/ is copied to /opt/seq2seq-lasagne/docker/).
PRE_STOP = '/opt/seq2seq-lasagne/docker/hub/pre_stop.sh'


class LoopbackDockerSpawner(DockerSpawner):
    """A container on the host's network, its server on a loopback port.

    With host networking every container would otherwise listen on
    DockerSpawner's fixed port 8888; each start picks a free port instead
    and tells the hub where the server is.  Before a container is stopped,
    the package's training runs in it get SIGTERM and time to write their
    outputs (docker/hub/pre_stop.sh), as a Kubernetes preStop hook would.
    """

    async def start(self):
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self):
        return self.ip, self.port

    async def stop(self, now=False):
        if not now and self.container_id:
            await self._pre_stop()
        await super().stop(now=now)

    async def _pre_stop(self):
        try:
            created = await self.docker(
                'exec_create', self.container_id, [PRE_STOP, str(STOP_SECONDS)]
            )
            out = await self.docker('exec_start', created['Id'])
            code = (await self.docker('exec_inspect', created['Id']))[
                'ExitCode'
            ]
        except Exception as exc:  # a container that is gone already
            self.log.warning('pre-stop of %s: %s', self.object_name, exc)
            return
        text = out.decode('utf-8', 'replace').strip()
        if code:
            self.log.warning(
                'pre-stop of %s exited %s: %s', self.object_name, code, text
            )
        elif text:
            self.log.info('pre-stop of %s: %s', self.object_name, text)


c.JupyterHub.spawner_class = LoopbackDockerSpawner
c.DockerSpawner.image = _env(
    'S2S_HUB_IMAGE', 'localhost/seq2seq-lasagne:student'
)
# The image is built on this machine (scripts/build_image.sh): never pulled.
c.DockerSpawner.pull_policy = 'never'
c.DockerSpawner.network_name = 'host'
# No port publishing with host networking; get_ip_and_port above.
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.ip = '127.0.0.1'
c.DockerSpawner.name_template = _env('S2S_HUB_NAME_PREFIX', 's2s-lab') + (
    '-{username}'
)
# The hub replaces the image's CMD (JupyterLab with a token) by the
# single-user server; the image's ENTRYPOINT stays in front of it.
c.DockerSpawner.cmd = ['jupyterhub-singleuser']
c.DockerSpawner.notebook_dir = '/home/jovyan'
c.Spawner.default_url = '/lab'
# Containers go when their server stops; the home volume stays.
c.DockerSpawner.remove = True
c.DockerSpawner.volumes = {
    _env('S2S_HUB_VOLUME_PREFIX', 's2s-home-') + '{username}': '/home/jovyan',
}
c.DockerSpawner.mem_limit = _env('S2S_HUB_MEM_LIMIT', '2G')
c.DockerSpawner.cpu_limit = float(_env('S2S_HUB_CPU_LIMIT', '1.0'))
# docker stop sends SIGTERM to the server and, after this many seconds,
# SIGKILL to everything in the container.
c.DockerSpawner.extra_create_kwargs = {'stop_timeout': STOP_SECONDS}
# A cold Theano compile cache never delays the server itself, but a loaded
# machine does.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120

activity = int(_env('S2S_HUB_ACTIVITY_INTERVAL', '300'))
c.JupyterHub.last_activity_interval = activity
c.Spawner.environment = {'JUPYTERHUB_ACTIVITY_INTERVAL': str(activity)}

students = _names('S2S_HUB_STUDENTS')
admins = _names('S2S_HUB_ADMINS')
if students:
    c.Authenticator.allowed_users = students
if admins:
    c.Authenticator.admin_users = admins

c.JupyterHub.services = [
    {
        'name': 'idle-culler',
        'command': [
            sys.executable,
            '-m',
            'jupyterhub_idle_culler',
            '--timeout=%d' % int(_env('S2S_HUB_CULL_TIMEOUT', '3600')),
            '--cull-every=%d' % int(_env('S2S_HUB_CULL_EVERY', '300')),
        ],
    },
]
c.JupyterHub.load_roles = [
    {
        'name': 'idle-culler',
        'scopes': [
            'list:users',
            'read:users:activity',
            'read:servers',
            'delete:servers',
        ],
        'services': ['idle-culler'],
    },
]
