# syntax=docker/dockerfile:1
# GPU image of seq2seq-lasagne: Theano 1.0.5's gpuarray backend (Debian's
# pygpu/libgpuarray 0.7.6), Lasagne 0.1, JupyterLab with the lab notebooks.
#   docker build -t seq2seq-lasagne-gpu .
#   docker run --gpus all -p 8888:8888 -e JUPYTER_TOKEN=... seq2seq-lasagne-gpu
# Without a GPU it says so in one line and runs on the CPU.  Also a valid
# Binder (repo2docker) and JupyterHub single-user image.  See docs/CONTAINER.md.
# The build steps live in docker/install.sh (tested natively by
# tests/test_image_scripts.py); the pins come from pyproject.toml.

# Debian 12.11, the release the build steps were run on natively.
FROM debian:12.11-slim

# repo2docker (Binder) passes these; uid 1000 is what Binder expects.
ARG NB_USER=jovyan
ARG NB_UID=1000

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV LANG=C.UTF-8 \
    S2S_VENV=/opt/venv \
    S2S_PIP_OPTS=--no-cache-dir \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

# 1. Debian packages: python3-pygpu + libgpuarray3 0.7.6 (built against
#    Debian's numpy 1.24.2), python3-venv, python3-dev, g++ (docker/apt-packages.txt).
COPY docker/install.sh docker/apt-packages.txt docker/requirements.py /opt/seq2seq-lasagne/docker/
RUN /opt/seq2seq-lasagne/docker/install.sh apt

# 2. The venv (from /usr/bin/python3, --system-site-packages) with the pinned
#    pip packages of pyproject.toml (extras lab, hub, cuda: JupyterLab,
#    jupyterhub-singleuser, NVIDIA's NVRTC and cuBLAS wheels), numpy kept
#    Debian's; then the unversioned CUDA library names libgpuarray loads.
COPY pyproject.toml /opt/seq2seq-lasagne/
RUN S2S_PROJECT=/opt/seq2seq-lasagne S2S_EXTRAS="lab hub cuda" \
    /opt/seq2seq-lasagne/docker/install.sh deps links

# 3. The notebook user.
ENV USER=${NB_USER} \
    NB_UID=${NB_UID} \
    HOME=/home/${NB_USER}
RUN useradd --create-home --uid "${NB_UID}" --shell /bin/bash "${NB_USER}"

# 4. The repository in $HOME (as Binder wants), the package into the venv.
COPY --chown=${NB_UID}:${NB_UID} . ${HOME}
COPY docker/ /opt/seq2seq-lasagne/docker/
RUN S2S_PROJECT=${HOME} /opt/seq2seq-lasagne/docker/install.sh project

# Theano: the GPU backend (docker/entrypoint.sh switches device to cpu when no
# GPU is usable), float32, 512 MB preallocated, no cuDNN (not installed), the
# compile cache in the user's home; blas.ldflags (SciPy's OpenBLAS) comes
# from the theanorc that install.sh wrote.
ENV PATH=/opt/venv/bin:${PATH} \
    LD_LIBRARY_PATH=/opt/venv/lib/cuda-links \
    THEANORC=/opt/venv/etc/theanorc:${HOME}/.theanorc \
    THEANO_FLAGS=device=cuda,floatX=float32,gpuarray.preallocate=512,dnn.enabled=False,base_compiledir=${HOME}/.theano

# docker/start-jupyter.sh listens on every address only in a container.
ENV S2S_CONTAINER=1

USER ${NB_USER}
WORKDIR ${HOME}
EXPOSE 8888

# JupyterHub and Binder replace CMD with their own command; the ENTRYPOINT
# (device choice) stays in front of it.
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/seq2seq-lasagne/docker/entrypoint.sh"]
CMD ["/opt/seq2seq-lasagne/docker/start-jupyter.sh"]
