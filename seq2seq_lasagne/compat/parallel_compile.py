"""Theano's C modules for a graph compiled several at a time.

Why: Theano 1.0.5 links a graph node by node, and a node whose C module
is not in the compile cache is compiled there and then, one g++ at a time
while the others wait (``ModuleCache.module_from_key`` holds Theano's
compile lock around each).  A cold start is nearly all such compilation,
about two hundred modules for the attention model
(``benchmarks/cold_start.py``), on a machine whose other cores stay idle.

What changes: ``VM_Linker.make_all`` (the linker of every function the lab
compiles, scan's inner functions included) is wrapped to remember the nodes
of the graph it links, and ``GCC_compiler.compile_str`` to act on the first
module of that graph the cache lacks.  Then, and only then (a warm cache
costs nothing), the graph's other nodes are looked up as Theano will look
them up, with the same ``CLinker`` key, source and g++ arguments, and those
the cache lacks are handed to a pool of g++ runs (as many as the cores this
process may use) that write each module into a folder of its own, under
``<compiledir>/seq2seq-lasagne-ahead/``.  When Theano's own pass comes to
such a node, it calls ``compile_str`` with the same module name, source and
arguments; the wrapper then waits for that module if it is still being
compiled, moves it where Theano asked for it and loads it, as
``compile_str`` would have.  A module not started yet is taken back from
the pool and compiled by Theano's call itself.

What does not change: every module is Theano's, compiled by Theano's own
``compile_str`` (and ``compat.precompiled``'s header), from the same
source and with the same arguments, under the same cache key, so values
and cache contents are those of the one-at-a-time order.  A module is
used only when all of its inputs match the call's; anything else (a
failed g++, a different command, a full disk) leaves the call to Theano,
which then compiles and reports as it always did.  A process with one
core, or ``SEQ2SEQ_PARALLEL_COMPILE=0``, keeps Theano's order.
"""

import hashlib
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import compile_call

ENV = 'SEQ2SEQ_PARALLEL_COMPILE'
FOLDER = 'seq2seq-lasagne-ahead'
#: Folders left by a process that was killed are removed after this long.
STALE_S = 3600
#: A file always in FOLDER.  Theano's cache refresh deletes any empty
#: folder of the compile directory; two processes sharing one that both
#: found this folder empty raced, and the loser's refresh failed inside
#: Theano (an optimization's traceback in the log).
MARKER = 'README'
_MARKER_TEXT = (
    'Modules compiled ahead by seq2seq_lasagne.compat.parallel_compile.\n'
)

#: Per process: modules handed to the pool, and how each Theano call that
#: compiles ended (tests and benchmarks read them).
stats = {'queued': 0, 'used': 0, 'taken_back': 0, 'failed': 0, 'graphs': 0}

_local = threading.local()
_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


def workers():
    """How many g++ runs the pool may start: the cores this process may
    use (Theano's thread mostly waits for them)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def call_key(
    module_name, src_code, include_dirs, lib_dirs, libs, preargs, hide_symbols
):
    """A digest of everything ``compile_str`` makes a module from."""
    parts = [module_name, src_code, repr(bool(hide_symbols))]
    for group in (include_dirs, lib_dirs, libs, preargs):
        parts.append('\1'.join(group or []))
    return hashlib.sha256('\0'.join(parts).encode()).hexdigest()


class _Job:
    """One module compiled by the pool, in its own folder."""

    def __init__(self, folder, module_name):
        self.folder = folder
        self.module_name = module_name
        self.future = None

    def discard(self):
        """Drop the job: now if it has not started, else once it ends."""
        if self.future.cancel():
            _remove(self.folder)
        else:
            self.future.add_done_callback(lambda _: _remove(self.folder))


def _mark(root):
    marker = os.path.join(root, MARKER)
    if not os.path.exists(marker):
        with open(marker, 'w') as f:
            f.write(_MARKER_TEXT)


def _remove(folder):
    shutil.rmtree(folder, ignore_errors=True)


def _get_pool(root):
    global _pool, _pool_pid
    with _pool_lock:
        # A forked child inherits the pool but none of its threads.
        if _pool is None or _pool_pid != os.getpid():
            _pool_pid = os.getpid()
            _pool = ThreadPoolExecutor(
                max_workers=workers(), thread_name_prefix='seq2seq-gxx'
            )
            _remove_stale(root)
        return _pool


def _remove_stale(root):
    try:
        names = os.listdir(root)
    except OSError:
        return
    now = time.time()
    for name in names:
        if name == MARKER:
            continue
        path = os.path.join(root, name)
        try:
            if now - os.path.getmtime(path) > STALE_S:
                _remove(path)
        except OSError:
            pass


class _Graph:
    """The nodes one ``make_all`` links, and the modules queued for them."""

    def __init__(self, linker):
        self.linker = linker
        self.looked_ahead = False
        self.jobs = {}


def _frames():
    if not hasattr(_local, 'frames'):
        _local.frames = []
    return _local.frames


def _module_call(node):
    """``(call_key, module_name, src_code, kwargs)`` of the module Theano
    would compile for ``node``, or None when the cache has it or the node
    has no module of its own."""
    from theano.gof import cc, cmodule, op
    from theano.gof.fg import FunctionGraph

    # Ops with their own make_thunk (scan, ...) compile in their own way.
    if type(node.op).make_thunk is not op.Op.make_thunk:
        return None
    try:
        node.op.prepare_node(node, None, None, 'c')
        linker = cc.CLinker().accept(
            FunctionGraph(node.inputs, node.outputs), no_recycling=[]
        )
        key = linker.cmodule_key()
        if key is None:
            return None
        cache = cc.get_module_cache()
        if key in cache.entry_from_key:
            return None
        src_code = linker.get_src_code()
        if cmodule.get_module_hash(src_code, key) in (
            cache.module_hash_to_key_data
        ):
            return None
        module_name = linker.get_dynamic_module().code_hash
        kwargs = dict(
            include_dirs=linker.header_dirs(),
            lib_dirs=linker.lib_dirs(),
            libs=linker.libraries(),
            preargs=linker.compile_args(),
            hide_symbols=True,
        )
    except Exception:  # no C code, or not as Theano would ask: Theano's
        return None
    return (
        call_key(module_name, src_code, **kwargs),
        module_name,
        src_code,
        kwargs,
    )


def _look_ahead(graph, shipped, compiledir):
    """Queue the modules of ``graph`` that the cache lacks."""
    graph.looked_ahead = True
    root = os.path.join(compiledir, FOLDER)
    try:
        os.makedirs(root, exist_ok=True)
        _mark(root)
    except OSError:
        return
    pool = _get_pool(root)
    # The order make_all links them in: the first needed, the first queued.
    for node in graph.linker.schedule(graph.linker.fgraph):
        call = _module_call(node)
        if call is None or call[0] in graph.jobs:
            continue
        key, module_name, src_code, kwargs = call
        try:
            folder = tempfile.mkdtemp(dir=root)
        except OSError:
            return
        job = _Job(folder, module_name)
        job.future = pool.submit(
            shipped, module_name, src_code, folder, py_module=False, **kwargs
        )
        graph.jobs[key] = job
        stats['queued'] += 1
    if graph.jobs:
        stats['graphs'] += 1


def _take(job, location):
    """Move the job's module to ``location``; its path, or None."""
    try:
        job.future.result()
        name = job.module_name + '.so'
        os.replace(
            os.path.join(job.folder, 'mod.cpp'),
            os.path.join(location, 'mod.cpp'),
        )
        os.replace(
            os.path.join(job.folder, name), os.path.join(location, name)
        )
        open(os.path.join(location, '__init__.py'), 'w').close()
        return os.path.join(location, name)
    except Exception:  # Theano's own call then compiles and reports
        return None
    finally:
        _remove(job.folder)


def _from_pool(call, shipped):
    """``compile_str``: the pool's module for this call when it has one,
    else Theano's own compilation (see the module's docstring)."""
    from theano import config
    from theano.gof import cmodule

    frames = _frames()
    if not (call.py_module and call.location and frames):
        return shipped(*call)
    graph = frames[-1]
    if not graph.looked_ahead:
        try:
            _look_ahead(graph, shipped, config.compiledir)
        except Exception:  # a pool that cannot start: Theano's way
            pass
    key = call_key(
        call.module_name,
        call.src_code,
        call.include_dirs,
        call.lib_dirs,
        call.libs,
        call.preargs,
        call.hide_symbols,
    )
    job = graph.jobs.pop(key, None)
    if job is not None:
        if job.future.cancel():
            stats['taken_back'] += 1
            _remove(job.folder)
        else:
            path = _take(job, call.location)
            if path is not None:
                stats['used'] += 1
                return cmodule.dlimport(path)
            stats['failed'] += 1
    return shipped(*call)


def install():
    """Wrap ``VM_Linker.make_all`` and ``GCC_compiler.compile_str``."""
    if os.environ.get(ENV, '1') == '0' or workers() < 2:
        return []
    from theano import config
    from theano.gof import vm

    if not config.cxx:
        return []
    if not compile_call.wrap('_seq2seq_ahead', _from_pool):
        return []
    make_all = vm.VM_Linker.make_all

    def linked(self, *args, **kwargs):
        frames = _frames()
        graph = _Graph(self)
        frames.append(graph)
        try:
            return make_all(self, *args, **kwargs)
        finally:
            frames.pop()
            for job in graph.jobs.values():
                job.discard()

    linked.__wrapped__ = make_all
    vm.VM_Linker.make_all = linked
    return [
        "Theano's missing C modules of a graph compiled %d at a time "
        '(SEQ2SEQ_PARALLEL_COMPILE=0 turns this off): the same modules, '
        'in the same cache' % workers()
    ]
