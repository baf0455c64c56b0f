"""One writer per run directory.

:class:`RunLock` holds ``fcntl.flock`` on ``RUN/.lock`` for as long as a run
writes the directory, and writes into the file who holds it (pid, host,
start time), so that a second run on the same directory stops at once with
one line saying who has it.  The kernel releases the lock when its process
ends, however it ends: a lock left by a killed run never blocks the next.
"""

import datetime
import fcntl
import json
import os
import socket

from .atomic import WriteError

__all__ = ['RunLock', 'RunDirLocked', 'LOCK_NAME']

#: The lock file inside a run directory.
LOCK_NAME = '.lock'


class RunDirLocked(RuntimeError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """An exclusive lock on a run directory (a context manager).

    Parameters
    ----------
    run_dir : str
        An existing directory.

    Raises
    ------
    RunDirLocked
        On entering, if another process holds the lock.
    seq2seq_lasagne.atomic.WriteError
        On entering, if the lock file cannot be created (a read-only or
        full file system, no permission).
    """

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, LOCK_NAME)
        self._fd = None

    def acquire(self):
        """Take the lock (see the class for what it raises)."""
        # The lock is held on a read-only descriptor: a file open for
        # writing for the whole run would keep its file system from being
        # remounted read-only.
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC)
        except OSError as exc:
            raise WriteError(self.path, exc)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise RunDirLocked(
                '%s is in use by %s; wait for that run to end or use '
                'another --out' % (os.path.dirname(self.path), holder)
            )
        except OSError as exc:
            os.close(fd)
            raise WriteError(self.path, exc)
        self._fd = fd
        info = {
            'pid': os.getpid(),
            'host': socket.gethostname(),
            'started': datetime.datetime.now().isoformat(timespec='seconds'),
        }
        try:
            # only the holder writes the file: no one else can be writing
            with open(self.path, 'w') as f:
                json.dump(info, f)
        except OSError as exc:
            self.release()
            raise WriteError(self.path, exc)
        return self

    @staticmethod
    def _holder(fd):
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            return 'pid %d on %s since %s' % (
                info['pid'],
                info['host'],
                info['started'],
            )
        except (OSError, ValueError, KeyError, TypeError):
            # the holder has not written its name yet
            return 'another process'

    def release(self):
        """Let the lock go (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
