"""Jupyter server settings of the GPU image, used by docker/start-jupyter.sh.

Token authentication stays on: the token comes from JUPYTER_TOKEN (the start
script sets or generates it), and the server refuses to start without one or
with one shorter than MIN_TOKEN characters.  The token is then removed from
the server's environment, so kernels and terminals (which inherit it) never
see it.  Whether remote clients are allowed follows the address
(docker/start-jupyter.sh passes both).  Not used by jupyterhub-singleuser,
where the hub does the authentication.
"""

import os

c = get_config()  # noqa: F821  (defined by Jupyter when it loads this file)

#: The shortest token accepted (as in docker/start-jupyter.sh).
MIN_TOKEN = 32

token = os.environ.pop('JUPYTER_TOKEN', '')
if not token:
    raise SystemExit(
        'seq2seq-lasagne: JUPYTER_TOKEN is empty; refusing to '
        'start JupyterLab without authentication'
    )
if len(token) < MIN_TOKEN:
    raise SystemExit(
        'seq2seq-lasagne: JUPYTER_TOKEN has %d characters; use at least %d'
        % (len(token), MIN_TOKEN)
    )
c.IdentityProvider.token = token
c.ServerApp.password_required = False
c.ServerApp.open_browser = False
c.ServerApp.port_retries = 0
c.ServerApp.terminado_settings = {'shell_command': ['/bin/bash']}
c.ServerApp.disable_check_xsrf = False
# No news feed or update check from the lab (offline clusters, privacy).
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'
