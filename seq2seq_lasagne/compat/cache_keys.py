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

``CLinker.cmodule_key_``
    A module's key counts as *unversioned* when any part of its version is
    empty, and Theano puts each op's ``__props__`` into that version: an op
    without parameters (``__props__ = ()``: ``AdvancedSubtensor1``,
    ``Alloc``, ``Dot22``, ``BatchedDot``, ``Softmax``, ``SoftmaxGrad``,
    ``ScalarFromTensor``, ...) makes its module unversioned, although the
    op's C code has a version of its own.  Theano compiles an unversioned
    module anew in every process, in a temporary directory it deletes at
    exit: 13 modules, about 15 s of g++, before the attention notebook's
    first training step, in every kernel, with a warm cache.  Where
    Theano's key is unversioned only because of empty ``__props__``, the
    key gets a version in which an empty ``__props__`` counts as a version
    of its own; an op or type whose C code is truly unversioned keeps the
    module unversioned, and the signature part of the key is Theano's.
    The original stays available as ``CLinker.cmodule_key_.__wrapped__``.
"""

import hashlib
import inspect

__all__ = ['stable_cop_versions', 'versioned_propless_modules']

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


#: Stands in for an empty ``__props__`` in a module's version.
_NO_PROPS = ('__props__', ())


def _module_version(linker, fgraph):
    """The module version Theano builds, with an empty ``__props__`` counted
    as versioned; ``()`` when some op or type is truly unversioned."""
    version = []
    for node in linker.schedule(fgraph):
        if hasattr(node.op, 'c_code_cache_version_apply'):
            version.append(node.op.c_code_cache_version_apply(node))
        if hasattr(node.op, '__props__'):
            version.append(tuple(node.op.__props__) or _NO_PROPS)
        version.extend(var.type.c_code_cache_version() for var in node.inputs)
        version.extend(var.type.c_code_cache_version() for var in node.outputs)
    return tuple(version) if all(version) else ()


def versioned_propless_modules():
    """Let modules of parameterless ops be cached across processes."""
    from theano.gof import cc

    shipped = cc.CLinker.cmodule_key_
    if getattr(shipped, '__wrapped__', None) is not None:
        return []

    def cmodule_key_(self, fgraph, no_recycling, *args, **kwargs):
        key = shipped(self, fgraph, no_recycling, *args, **kwargs)
        if key is None or key[0]:
            return key
        version = _module_version(self, fgraph)
        return (version, key[1]) if version else key

    cmodule_key_.__wrapped__ = shipped
    cmodule_key_.__doc__ = shipped.__doc__
    cc.CLinker.cmodule_key_ = cmodule_key_
    return [
        'C modules of ops without parameters (AdvancedSubtensor1, Alloc, '
        "Dot22, Softmax, ...) versioned by their C code's own version, so "
        'cached across processes, not compiled anew in every one'
    ]
