"""Optimised graphs kept in the compile directory, for later processes.

Theano 1.0.5 caches compiled C modules between processes, but optimises
every graph anew in every process: for the lab's attention notebook about
40 s of optimisation before the first training step, on every kernel
start, with every module already compiled.  (Its own
``cache_optimizations`` flag is unfinished code that prints debug lines.)

Here ``FunctionMaker`` looks up the graph it is about to optimise in
``<compiledir>/seq2seq-lasagne-graphs/``; a hit hands Theano the stored
optimised graph, through the same path Theano takes for an unpickled
function (``FunctionMaker(..., fgraph=optimised)``); a miss optimises as
usual and stores the result.  The inner graphs of scans, compiled when a
scan is linked, go through the same lookup.

The key is the whole graph, compared by equality, never by a digest alone
(a digest only names the file):

* each node's op, compared with ``==``: Theano's own rule for merging two
  nodes into one and for sharing a compiled module, so two equal ops
  compute the same thing;
* where each node's inputs come from (a function input, by position;
  another node's output; a constant, by type and bytes), and each output's
  type;
* each function input's type and options (mutable, borrow, updated, ...),
  each output's ``borrow``;
* the mode (optimizer query, linker class and options), every Theano flag
  but the compile directory's place (and, on the CPU, the GPU backend's
  flags), and the versions of Python, NumPy, Theano and of this package's
  compatibility fixes.

A graph whose key cannot be formed or stored (an op that does not pickle, a
free variable) is optimised as usual, as is any graph when the store cannot
be read or written; a damaged file is a miss.  ``SEQ2SEQ_GRAPH_CACHE=0``
turns the cache off; a profiled or DebugMode function never uses it.
"""

import functools
import hashlib
import os
import pickle
import platform
import sys
import tempfile
import threading

__all__ = ['install', 'signature', 'FOLDER', 'ENV']

#: Folder under Theano's compiledir holding one file per optimised graph.
FOLDER = 'seq2seq-lasagne-graphs'
#: Environment variable that turns the cache off when set to ``0``.
ENV = 'SEQ2SEQ_GRAPH_CACHE'
#: Bumped whenever the key or the stored form changes.
FORMAT = 1

#: Flags that say where the cache is, not what a graph becomes: the image
#: compiles its graphs in one folder and a container reads them in another.
PLACE_FLAGS = ('base_compiledir', 'compiledir', 'compiledir_format')
#: Flags of the GPU backend, left out of the key when no GPU device is set:
#: the image's CPU fallback keeps its GPU settings (gpuarray.preallocate).
GPU_FLAG_PREFIXES = ('gpuarray.', 'dnn.', 'cuda.', 'lib.cnmem')
GPU_DEVICES = ('cuda', 'opencl', 'gpu')

#: Python's recursion limit while a graph is pickled.
PICKLE_RECURSION_LIMIT = 100000
#: The pickling thread's stack: room for that many Python frames of pickle.
PICKLE_STACK_BYTES = 512 * 1024 * 1024

#: Hits and misses of this process (read by tests and benchmarks).
stats = {'hits': 0, 'misses': 0, 'stored': 0, 'skipped': 0}


class Uncacheable(Exception):
    """The graph cannot be keyed (a free variable, an unknown optimizer)."""


def _flags():
    """Every Theano flag that can change an optimised graph, as text."""
    import theano
    from theano import configparser

    on_gpu = any(
        str(getattr(theano.config, name, '')).startswith(GPU_DEVICES)
        for name in ('device', 'init_gpu_device')
    )
    found = []
    for var in configparser._config_var_list:
        name = var.fullname
        if name in PLACE_FLAGS or (
            not on_gpu and name.startswith(GPU_FLAG_PREFIXES)
        ):
            continue
        found.append((name, str(var.__get__(True, None))))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=None)
def _compat_digest():
    """A digest of this package's compatibility fixes (read once)."""
    here = os.path.dirname(os.path.abspath(__file__))
    sources = hashlib.sha256()
    for name in sorted(os.listdir(here)):
        if name.endswith('.py'):
            with open(os.path.join(here, name), 'rb') as f:
                sources.update(f.read())
    return sources.hexdigest()


def _environment():
    """What, besides the graph, decides the optimised graph (the flags are
    read at each compilation: a program may change them in between)."""
    import numpy
    import theano

    return (
        FORMAT,
        platform.python_version(),
        numpy.__version__,
        theano.__version__,
        _compat_digest(),
        _flags(),
    )


def _plain(obj, depth=0):
    """A comparable, printable description of an optimizer or feature added
    to a mode (scan adds one), made of its class and simple attributes."""
    simple = (bool, int, float, str, type(None))
    if isinstance(obj, simple):
        return obj
    if depth > 2 or not hasattr(obj, '__dict__'):
        raise Uncacheable('mode part %r' % (obj,))
    return (type(obj).__module__, type(obj).__qualname__) + tuple(
        sorted((k, _plain(v, depth + 1)) for k, v in vars(obj).items())
    )


def _query_key(query):
    from theano.gof.optdb import Query

    if not isinstance(query, Query):
        raise Uncacheable('optimizer %r' % (query,))
    return (
        tuple(query.include),
        tuple(query.require),
        tuple(query.exclude),
        tuple(sorted((k, _query_key(v)) for k, v in query.subquery.items())),
        query.position_cutoff,
        tuple(
            (_plain(opt), position)
            for opt, position in query.extra_optimizations
        ),
    )


def _mode_key(mode):
    linker = mode.provided_linker
    if isinstance(linker, str):
        linker_key = linker
    else:
        linker_key = (
            type(linker).__module__,
            type(linker).__qualname__,
        ) + tuple(
            sorted(
                (k, v)
                for k, v in vars(linker).items()
                if isinstance(v, (bool, int, float, str, type(None)))
            )
        )
    return (
        type(mode).__qualname__,
        _query_key(getattr(mode, '_optimizer', None)),
        linker_key,
    )


def _constant_key(var):
    import numpy as np
    from theano.tensor import TensorConstant

    if isinstance(var, TensorConstant):
        data = np.asarray(var.data)
        return ('c', var.type, data.dtype.str, data.shape, data.tobytes())
    return ('c', var.type, var.signature())


def _walk(inputs, ends, describe):
    """Nodes between ``inputs`` and ``ends`` as a positional structure.

    Returns ``(nodes, outputs)``: per node ``(op, input refs, output
    types)``; ``describe(op)`` adds a string per op to the returned
    ``text``, which names the file (equality decides a hit)."""
    from theano.gof.graph import Constant, io_toposort

    where = {var: ('i', k) for k, var in enumerate(inputs)}
    nodes, text = [], []

    def ref(var):
        if var in where:
            return where[var]
        if isinstance(var, Constant):
            return _constant_key(var)
        raise Uncacheable('free variable %s' % (var,))

    for node in io_toposort(inputs, ends):
        refs = tuple(ref(var) for var in node.inputs)
        for k, out in enumerate(node.outputs):
            where[out] = ('n', len(nodes), k)
        types = tuple(out.type for out in node.outputs)
        nodes.append((node.op, refs, types))
        text.append('%s %s %s' % (describe(node.op), _short(refs), types))
    outputs = tuple(ref(var) for var in ends)
    text.append(str(outputs)[:10000])
    return tuple(nodes), outputs, text


def _short(refs):
    """Input refs for the file name: a constant by its type and a digest of
    the rest (graphs that differ in a constant only, such as the number of
    decoding steps, get files of their own)."""
    return tuple(
        r
        if r[0] != 'c'
        else ('c', str(r[1]), hashlib.sha256(repr(r[2:]).encode()).hexdigest())
        for r in refs
    )


def _describe(op):
    """A string for an op; for an op with an inner graph (scan), that
    graph's structure too, so that two scans get two files."""
    inner = getattr(op, 'outputs', None)
    inner_inputs = getattr(op, 'inputs', None)
    name = '%s.%s %s' % (type(op).__module__, type(op).__qualname__, op)
    if isinstance(inner, list) and isinstance(inner_inputs, list):
        try:
            _, _, text = _walk(inner_inputs, inner, _describe)
        except Uncacheable:
            return name
        name += ' [%s]' % '; '.join(text)
    return name


def signature(inputs, outputs, mode, accept_inplace, output_keys):
    """The key of a graph about to be optimised, and its file name.

    Parameters
    ----------
    inputs : list of theano.compile.In
    outputs : list of theano.compile.Out
    mode : theano.compile.Mode

    Returns
    -------
    (tuple, str)
        The key (compared with ``==``) and a hex digest naming its file.
    """
    variables = [spec.variable for spec in inputs]
    updates = [spec.update for spec in inputs if spec.update is not None]
    ends = [out.variable for out in outputs] + updates
    nodes, ends_key, text = _walk(variables, ends, _describe)
    specs = tuple(
        (
            type(spec).__qualname__,
            spec.variable.type,
            bool(spec.mutable),
            bool(spec.borrow),
            bool(spec.implicit),
            bool(spec.strict),
            spec.allow_downcast,
            spec.update is not None,
            spec.value is None,
        )
        for spec in inputs
    )
    outs = tuple((type(o).__qualname__, bool(o.borrow)) for o in outputs)
    key = (
        _environment(),
        _mode_key(mode),
        bool(accept_inplace),
        None if output_keys is None else tuple(output_keys),
        specs,
        outs,
        nodes,
        ends_key,
    )
    digest = hashlib.sha256()
    for part in (repr(key[:2]), repr(specs), repr(outs), *text):
        digest.update(part.encode('utf-8', 'replace'))
        digest.update(b'\0')
    return key, digest.hexdigest()[:32]


def _folder():
    import theano

    return os.path.join(theano.config.compiledir, FOLDER)


def _load(path, key):
    try:
        with open(path, 'rb') as f:
            stored_key, fgraph = pickle.load(f)
    except Exception:  # a missing, damaged or foreign file: a miss
        return None
    try:
        same = stored_key == key
    except Exception:
        return None
    return fgraph if same is True else None


def _pickled(obj):
    """``pickle.dumps(obj)``, or None when it cannot be pickled.

    Pickle recurses a few frames per graph level: a training graph is
    deeper than Python's default limit, and an unrolled decoder's is deep
    enough to overflow the main thread's C stack before any limit is
    reached.  So it runs in a thread of its own with a large stack, and a
    limit that stack can hold."""
    result = []

    def work():
        try:
            result.append(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # an op that does not pickle, too deep
            pass

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    try:
        threading.stack_size(PICKLE_STACK_BYTES)
        sys.setrecursionlimit(max(old_limit, PICKLE_RECURSION_LIMIT))
        thread = threading.Thread(target=work, name='graph-cache-pickle')
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    return result[0] if result else None


def _store(path, key, fgraph):
    data = _pickled((key, fgraph))
    if data is None:
        stats['skipped'] += 1
        return
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-')
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:  # a full or read-only disk: the function still works
        return
    stats['stored'] += 1


def _ordered_eval(shipped):
    """``Variable.eval`` with its function's inputs in the graph's order.

    Theano's ``eval`` orders the function's inputs by ``id()``, a memory
    address: the same ``.eval({x: X, mask: M})`` compiles a function
    ``f(x, mask)`` in one process and ``f(mask, x)`` in another, two
    graphs for the cache, and a later process often finds the other one
    (the lab's shape-check cell has two such calls).  Here they are ordered
    as they first appear in the graph (``theano.gof.graph.inputs``), the
    same in every process; the value returned is the same."""
    from theano import function
    from theano.gof.graph import inputs as graph_inputs

    def eval(self, inputs_to_values=None):
        values = inputs_to_values or {}
        if not hasattr(self, '_fn_cache'):
            self._fn_cache = {}
        place = {var: k for k, var in enumerate(graph_inputs([self]))}
        # Inputs the graph does not use come last, as given; Theano then
        # refuses them, as it does with its own order.
        given = list(values)

        def rank(var):
            return place.get(var, len(place)), given.index(var)

        ordered = tuple(sorted(given, key=rank))
        if ordered not in self._fn_cache:
            self._fn_cache[ordered] = function(ordered, self)
        return self._fn_cache[ordered](*[values[var] for var in ordered])

    eval.__wrapped__ = shipped
    eval.__doc__ = shipped.__doc__
    return eval


def install():
    """Route ``FunctionMaker`` through the cache; returns what changed."""
    if os.environ.get(ENV, '1') == '0':
        return []
    from theano.compile import function_module

    maker = function_module.FunctionMaker
    shipped = maker.__init__
    if getattr(shipped, '_seq2seq_graph_cache', False):
        return []

    def __init__(
        self,
        inputs,
        outputs,
        mode=None,
        accept_inplace=False,
        function_builder=function_module.Function,
        profile=None,
        on_unused_input=None,
        fgraph=None,
        output_keys=None,
        name=None,
    ):
        def build(graph):
            shipped(
                self,
                inputs,
                outputs,
                mode,
                accept_inplace,
                function_builder,
                profile,
                on_unused_input,
                graph,
                output_keys,
                name,
            )

        from theano import config
        from theano.compile.mode import get_mode

        if (
            fgraph is not None
            or os.environ.get(ENV, '1') == '0'
            or type(self) is not maker
            or profile
            or config.profile
            or config.cache_optimizations
        ):
            return build(fgraph)
        try:
            mode_ = get_mode(mode)
            specs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            specs = [maker.wrap_in(i) for i in specs]
            outs = [
                maker.wrap_out(o)
                for o in (outs if outputs is not None else [])
            ]
            key, digest = signature(
                specs, outs, mode_, accept_inplace, output_keys
            )
        except Uncacheable:
            stats['skipped'] += 1
            return build(None)
        path = os.path.join(_folder(), digest + '.pkl')
        stored = _load(path, key)
        if stored is not None:
            stats['hits'] += 1
            return build(stored)
        stats['misses'] += 1
        build(None)
        _store(path, key, self.fgraph)

    __init__._seq2seq_graph_cache = True
    __init__.__wrapped__ = shipped
    __init__.__doc__ = shipped.__doc__
    maker.__init__ = __init__
    from theano.gof.graph import Variable

    Variable.eval = _ordered_eval(Variable.eval)
    return [
        'optimised graphs kept in the compile directory (%s/) and reused '
        'by later processes: Theano optimises each graph once, not in every '
        'process (%s=0 turns this off); Variable.eval orders its inputs as '
        'the graph does, not by id()' % (FOLDER, ENV)
    ]
