"""Writing a file so that no failure leaves half of it.

:func:`atomic_write` writes ``PATH.tmp``, flushes it to the disk, renames
it over ``PATH`` and flushes the directory: an interrupt, a full disk or a
lost permission leaves the old ``PATH`` as it was, and the temporary file is
removed.  Its failures are :class:`WriteError`, which names the file.
"""

import contextlib
import os

__all__ = ['WriteError', 'atomic_write']


class WriteError(OSError):
    """A file could not be written; ``str()`` is one line naming it."""

    def __init__(self, path, cause):
        reason = getattr(cause, 'strerror', None) or str(cause)
        super().__init__(getattr(cause, 'errno', None), reason)
        self.path = path

    def __str__(self):
        return 'cannot write %s: %s' % (self.path, self.strerror)


def _fsync_dir(path):
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode='wb'):
    """Open ``PATH.tmp`` for writing; on success it replaces ``path``.

    Parameters
    ----------
    path : str
    mode : {'wb', 'w'}

    Yields
    ------
    file
        The temporary file.

    Raises
    ------
    WriteError
        If writing, flushing or renaming fails (``path`` is then unchanged
        and the temporary file gone).
    """
    tmp = path + '.tmp'
    try:
        f = open(tmp, mode)
    except OSError as exc:
        raise WriteError(path, exc)
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(path, exc) from exc
        raise
