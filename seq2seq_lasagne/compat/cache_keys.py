"""Theano's compile cache across processes.

``COp.c_code_cache_version``
    Ops whose C code lives in files (``COp``: ``DimShuffle`` on the CPU,
    many of the gpuarray ops) put ``hash(tuple(self.func_codes))`` in their
    cache version: Python's hash of the C sources, which Python salts anew
    in every process (``PYTHONHASHSEED``).  Their cache keys then never
    match a key of an earlier process, and every process compiles their
    modules again with g++: ``DimShuffle``'s for each lab process on the
    CPU (seconds before a student's first training step, even with the
    image's warm cache), more on a GPU.  The version becomes a digest of
    the same sources (SHA-256), equal in every process; the C code and
    everything else in the key are Theano's.  The original stays available
    as ``COp.c_code_cache_version.__wrapped__``.
"""

import hashlib
import inspect

__all__ = ['stable_cop_versions']

#: What the shipped method hashes, found in its source before it is
#: replaced (another Theano, or an already stable one, is left alone).
_SALTED = 'hash(tuple(self.func_codes))'


def _digest(codes):
    """A 63-bit integer digest of a sequence of C sources."""
    h = hashlib.sha256()
    for code in codes:
        h.update(code.encode('utf-8'))
        h.update(b'\0')
    return int.from_bytes(h.digest()[:8], 'big') >> 1


def stable_cop_versions():
    """Key ``COp`` modules by a digest of their code (after the import)."""
    from theano.gof import op

    shipped = op.COp.c_code_cache_version
    try:
        source = inspect.getsource(shipped)
    except (OSError, TypeError):
        return []
    if _SALTED not in source:
        return []

    def c_code_cache_version(self):
        version = (_digest(self.func_codes),)
        if hasattr(self, 'params_type'):
            version += (self.params_type.c_code_cache_version(),)
        return version

    c_code_cache_version.__wrapped__ = shipped
    c_code_cache_version.__doc__ = shipped.__doc__
    op.COp.c_code_cache_version = c_code_cache_version
    return [
        'COp modules (DimShuffle, gpuarray ops) keyed by a digest of '
        'their C code, not by the per-process salted hash(): no more '
        'recompiled in every process'
    ]
