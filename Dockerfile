# syntax=docker/dockerfile:1
# GPU image of seq2seq-lasagne: Theano 1.0.5's gpuarray backend (Debian's
# pygpu/libgpuarray 0.7.6), Lasagne 0.1, JupyterLab with the lab notebooks.
#   docker build -t seq2seq-lasagne-gpu .                      (students)
#   docker build --target instructor -t seq2seq-lasagne-instructor .
#   docker run --gpus all -p 8888:8888 -e JUPYTER_TOKEN=... seq2seq-lasagne-gpu
# Without a GPU it says so in one line and runs on the CPU.  Also a valid
# Binder (repo2docker) and JupyterHub single-user image.  Targets: student
# (the default, last stage), instructor (+ solutions), opencl (Theano's GPU
# backend through PoCL, on the CPU).  See docs/CONTAINER.md.
# The build steps live in docker/install.sh (tested natively by
# tests/test_image_scripts.py); the pins come from pyproject.toml.
# scripts/build_image.sh builds it with podman from a debootstrapped base.

# Debian 12.11, the release the build steps were run on natively.  Any
# Debian 12 image will do (scripts/build_image.sh passes its own).
ARG BASE_IMAGE=debian:12.11-slim
# repo2docker (Binder) passes these; uid 1000 is what Binder expects.  Each
# stage that uses them declares them again (build ARGs are per stage).
ARG NB_USER=jovyan
ARG NB_UID=1000

# --- stack: Debian packages, the venv with the pinned stack, the user -------
FROM ${BASE_IMAGE} AS stack
ARG NB_USER
ARG NB_UID
# A CA bundle for pip (a path mounted into the build); pip reads PIP_CERT
# from its environment.  Empty: pip's own bundle.
ARG PIP_CERT=

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

# Theano: the GPU backend (docker/entrypoint.sh switches device to cpu when no
# GPU is usable), float32, 512 MB preallocated, no cuDNN (not installed), the
# compile cache in the user's home; blas.ldflags (SciPy's OpenBLAS), a
# portable -march and a compile-dir name without the kernel's release come
# from the theanorc that install.sh writes.
ENV PATH=/opt/venv/bin:${PATH} \
    LD_LIBRARY_PATH=/opt/venv/lib/cuda-links \
    THEANORC=/opt/venv/etc/theanorc:${HOME}/.theanorc \
    THEANO_FLAGS=device=cuda,floatX=float32,gpuarray.preallocate=512,dnn.enabled=False,base_compiledir=${HOME}/.theano \
    SEQ2SEQ_NOTEBOOKS=${HOME}/notebooks

# --- source: the build context, split into what students and instructors get
FROM stack AS source
COPY . /opt/s2s-src/student/
# The solutions (notebooks/solutions/, the nbgrader course in teaching/) go
# to a tree of their own: only the instructor stage copies it.
WORKDIR /opt/s2s-src/student
RUN mkdir -p /opt/s2s-src/solutions/notebooks \
    && if [ -d notebooks/solutions ]; then mv notebooks/solutions /opt/s2s-src/solutions/notebooks/; fi \
    && if [ -d teaching ]; then mv teaching /opt/s2s-src/solutions/; fi

# --- warm: the lab's Theano graphs compiled once, at build time (docker/warm.sh)
# Only the package and the lab notebooks go in, so that an edit elsewhere
# (README, tests) keeps this stage's layers cached.
FROM stack AS warm
ARG NB_USER
ARG NB_UID
ARG PIP_CERT=
COPY pyproject.toml /opt/s2s-warm/
COPY seq2seq_lasagne /opt/s2s-warm/seq2seq_lasagne
RUN S2S_PROJECT=/opt/s2s-warm /opt/seq2seq-lasagne/docker/install.sh project
COPY notebooks/0*.ipynb /opt/s2s-warm/notebooks/
COPY docker/warm.sh /opt/seq2seq-lasagne/docker/
USER ${NB_USER}
# Compiled into a build cache mount (kept by the builder between builds,
# part of no image), then copied into the image: a rebuild after an edit of
# the package compiles only the graphs that changed, not all of them.  The
# precompiled headers (compat.precompiled, tens of MB) stay in the mount:
# the lab needs no compilation in the container, and one that does builds
# its header again in seconds.
RUN --mount=type=cache,id=s2s-theano-cpu,target=/var/cache/s2s-theano,uid=${NB_UID},gid=${NB_UID} \
    THEANO_FLAGS=device=cpu,floatX=float32,base_compiledir=/var/cache/s2s-theano \
    S2S_WARM_NOTEBOOKS=/opt/s2s-warm/notebooks \
    /opt/seq2seq-lasagne/docker/warm.sh \
    && mkdir -p "${HOME}/.theano" \
    && cp -a /var/cache/s2s-theano/. "${HOME}/.theano/" \
    && rm -rf "${HOME}"/.theano/*/seq2seq-lasagne-pch \
        "${HOME}"/.theano/*/seq2seq-lasagne-ahead

# --- lab: the student's image (the "student" target below) -------------------
FROM stack AS lab
ARG NB_USER
ARG NB_UID
ARG PIP_CERT=
# The compile cache, outside $HOME (a volume on /home/jovyan would hide it),
# read-only to the user; docker/entrypoint.sh seeds $HOME/.theano from it.
COPY --from=warm --chown=0:0 /home/${NB_USER}/.theano /opt/seq2seq-lasagne/theano-cache
# 4. The repository without solutions in $HOME (as Binder wants), the
#    package into the venv.
COPY --from=source --chown=${NB_UID}:${NB_UID} /opt/s2s-src/student ${HOME}
COPY docker/ /opt/seq2seq-lasagne/docker/
RUN S2S_PROJECT=${HOME} /opt/seq2seq-lasagne/docker/install.sh project \
    && install -m 644 /opt/seq2seq-lasagne/docker/profile.sh /etc/profile.d/seq2seq-lasagne.sh

# docker/start-jupyter.sh listens on every address only in a container.
# Terminals (a login "$SHELL -l" under jupyterhub-singleuser) run bash, with
# the venv on PATH through /etc/profile.d (docker/profile.sh).
ENV S2S_CONTAINER=1 \
    SHELL=/bin/bash

USER ${NB_USER}
WORKDIR ${HOME}
EXPOSE 8888

# JupyterHub and Binder replace CMD with their own command; the ENTRYPOINT
# (device choice, compile cache) stays in front of it.
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/seq2seq-lasagne/docker/entrypoint.sh"]
CMD ["/opt/seq2seq-lasagne/docker/start-jupyter.sh"]

# --- instructor: the lab plus the solutions ---------------------------------
FROM lab AS instructor
ARG NB_UID
COPY --from=source --chown=${NB_UID}:${NB_UID} /opt/s2s-src/solutions ${HOME}

# --- opencl: Theano's GPU backend without a GPU (PoCL on the CPU) -----------
# A test bench for Theano's gpuarray code paths rather than a lab image: the
# warm stage (the package, the lab notebooks, the CPU compile cache) plus
# PoCL and CLBlast, with the OpenCL graphs of the CLI and the doctor compiled
# too.  It starts from warm, not lab, so that an edit outside the package
# does not rebuild it.
FROM warm AS opencl
ARG NB_USER
USER root
# PoCL (an OpenCL device on the CPU) and CLBlast (BLAS for libgpuarray's
# OpenCL back end: without it GpuDot22 fails with "Missing Blas library");
# docker/apt-packages-opencl.txt.
COPY docker/apt-packages-opencl.txt /opt/seq2seq-lasagne/docker/
RUN /opt/seq2seq-lasagne/docker/install.sh opencl
USER ${NB_USER}
WORKDIR ${HOME}
# Scan stays on the host: Theano 1.0.5's scan loop reads GpuArray.gpudata,
# which pygpu has for CUDA only ("TypeError: This is for CUDA arrays").
# GpuAllocEmpty becomes a zero-filled GpuAlloc (Theano's own optimization,
# off by default): Theano hands CLBlast's gemv an uninitialised output with
# beta=0, CLBlast still reads it (0 * NaN = NaN), and whatever NaN the
# reused memory holds reaches the attention scores (docs/CONTAINER.md).
ENV THEANO_FLAGS=device=opencl0:0,floatX=float32,gpuarray.preallocate=0,optimizer_excluding=local_gpua_scan_to_gpua,optimizer_including=local_gpua_alloc_empty_to_zeros,base_compiledir=${HOME}/.theano \
    SEQ2SEQ_NOTEBOOKS=/opt/s2s-warm/notebooks
RUN S2S_WARM="train doctor" /opt/seq2seq-lasagne/docker/warm.sh \
    && rm -rf "${HOME}"/.theano/*/seq2seq-lasagne-pch \
        "${HOME}"/.theano/*/seq2seq-lasagne-ahead
COPY docker/ /opt/seq2seq-lasagne/docker/
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/seq2seq-lasagne/docker/entrypoint.sh"]
CMD ["/opt/seq2seq-lasagne/docker/start-jupyter.sh"]

# --- student: the default target (last stage), the lab without solutions ----
FROM lab AS student
