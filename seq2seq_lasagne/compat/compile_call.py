"""One call of Theano's ``GCC_compiler.compile_str``, for the fixes that
act on it.

Why: two fixes wrap the function that turns a C module's source into a
loaded module, :mod:`.precompiled` (other g++ options for the same module)
and :mod:`.parallel_compile` (a module the pool compiled already).  Both
must take Theano's nine arguments as Theano passes them, by position or by
name, and hand them on unchanged but for what they change; this module
does that once.

What changes: nothing by itself.  :func:`wrap` replaces
``GCC_compiler.compile_str`` with a function that bundles the call's
arguments into a :class:`CompileCall` and gives it to the fix, with the
function it replaced; the fix returns what ``compile_str`` returns.
"""

from collections import namedtuple

#: ``compile_str``'s arguments, in Theano 1.0.5's order.
CompileCall = namedtuple(
    'CompileCall',
    'module_name src_code location include_dirs lib_dirs libs preargs '
    'py_module hide_symbols',
)


def wrap(mark, act):
    """Wrap ``GCC_compiler.compile_str`` with ``act``, once.

    Parameters
    ----------
    mark : str
        An attribute set on the wrapper; a ``compile_str`` that has it
        is already wrapped by this fix and is left alone.
    act : callable
        ``act(call, shipped)``: ``call`` a :class:`CompileCall`,
        ``shipped`` the ``compile_str`` replaced, called as
        ``shipped(*call)`` to compile as before.

    Returns
    -------
    bool
        True when ``compile_str`` was wrapped now.
    """
    from theano.gof import cmodule

    compiler = cmodule.GCC_compiler
    shipped = compiler.compile_str
    if getattr(shipped, mark, False):
        return False

    def compile_str(
        module_name,
        src_code,
        location=None,
        include_dirs=None,
        lib_dirs=None,
        libs=None,
        preargs=None,
        py_module=True,
        hide_symbols=True,
    ):
        call = CompileCall(
            module_name,
            src_code,
            location,
            include_dirs,
            lib_dirs,
            libs,
            preargs,
            py_module,
            hide_symbols,
        )
        return act(call, shipped)

    setattr(compile_str, mark, True)
    compile_str.__wrapped__ = shipped
    compile_str.__doc__ = shipped.__doc__
    compiler.compile_str = staticmethod(compile_str)
    return True
