"""Can this process use an NVIDIA GPU through libgpuarray?  One line answer.

Run by docker/entrypoint.sh (and scripts/gpu_check.sh) before anything
imports Theano.  Prints one tab-separated line::

    ok|no <TAB> reason <TAB> directory to prepend to LD_LIBRARY_PATH (or "")

and exits 0 when a GPU is usable, 1 when not.  It checks what libgpuarray
0.7.6 needs, by the names it dlopen()s: the driver ``libcuda.so`` (cuInit,
at least one device), ``libnvrtc.so`` and ``libcublas.so``.  When only the
driver's ``libcuda.so.1`` is loadable (the NVIDIA container toolkit mounts
that name), a ``libcuda.so`` link to it is made in a per-user directory under
$TMPDIR, which the caller prepends to LD_LIBRARY_PATH.
"""

import ctypes
import os
import sys
import tempfile


def _load(name):
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _loaded_path(fragment):
    """Path of an already loaded library whose file name contains fragment."""
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                path = line.split(None, 5)[-1].strip()
                if path.startswith('/') and fragment in os.path.basename(path):
                    return path
    except OSError:
        pass
    return None


def _link_dir(target):
    directory = os.path.join(
        tempfile.gettempdir(), 'seq2seq-lasagne-%d' % os.getuid(), 'lib'
    )
    os.makedirs(directory, exist_ok=True)
    link = os.path.join(directory, 'libcuda.so')
    if os.path.islink(link) or os.path.exists(link):
        os.remove(link)
    os.symlink(target, link)
    return directory


def probe():
    """``(usable, reason, extra_ld_dir)``."""
    extra = ''
    cuda = _load('libcuda.so')
    if cuda is None:
        cuda = _load('libcuda.so.1')
        if cuda is None:
            return False, 'libcuda.so not loadable', ''
        path = _loaded_path('libcuda.so')
        if path is None:
            return False, 'libcuda.so not loadable (only libcuda.so.1)', ''
        extra = _link_dir(path)
    rc = cuda.cuInit(0)
    if rc != 0:
        return False, 'cuInit failed with CUDA error %d' % rc, extra
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
        return False, 'no CUDA device visible', extra
    version = ctypes.c_int(0)
    cuda.cuDriverGetVersion(ctypes.byref(version))
    name = ctypes.create_string_buffer(256)
    device = ctypes.c_int(0)
    if cuda.cuDeviceGet(ctypes.byref(device), 0) == 0:
        cuda.cuDeviceGetName(name, 256, device)
    for lib in ('libnvrtc.so', 'libcublas.so'):
        if _load(lib) is None:
            return (
                False,
                (
                    'driver found but %s not loadable (CUDA run-time '
                    'libraries missing)' % lib
                ),
                extra,
            )
    return (
        True,
        '%d device(s), %s, driver CUDA %d.%d'
        % (
            count.value,
            name.value.decode(errors='replace') or '?',
            version.value // 1000,
            version.value % 1000 // 10,
        ),
        extra,
    )


def main():
    usable, reason, extra = probe()
    print('%s\t%s\t%s' % ('ok' if usable else 'no', reason, extra))
    return 0 if usable else 1


if __name__ == '__main__':
    sys.exit(main())
