"""Stopping a training run cleanly on Ctrl-C, SIGTERM and SIGHUP.

``docker stop``, JupyterHub's culler, ``timeout`` and a closed terminal send
SIGTERM or SIGHUP; Ctrl-C sends SIGINT.  Inside :class:`StopSignals` each of
them only asks the training loop to stop at the next step boundary (after
the step, its validation and checkpoint), so the run then writes its
outputs for exactly the samples processed, with no update half applied.  A
second signal stops at once (``KeyboardInterrupt``), for a step that never
ends.
"""

import signal
import threading

__all__ = ['StopSignals', 'STOP_SIGNALS']

#: The signals that ask a run to stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignals:
    """A context manager turning stop signals into a request to stop.

    Call the object (``fit(..., stop=stop)``) to ask whether a stop was
    requested.  Outside the main thread, where Python cannot handle
    signals, it does nothing.

    Parameters
    ----------
    signums : sequence of int
        Default :data:`STOP_SIGNALS`.

    Attributes
    ----------
    signum : int or None
        The first signal received.
    """

    def __init__(self, signums=STOP_SIGNALS):
        self.signums = tuple(signums)
        self.signum = None
        self._previous = {}

    def __call__(self):
        return self.signum is not None

    @property
    def name(self):
        """The signal's name (``'SIGTERM'``), or None."""
        return (
            None if self.signum is None else signal.Signals(self.signum).name
        )

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.signums:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        while self._previous:
            signum, handler = self._previous.popitem()
            # None: a handler not set from Python; the default is closest
            signal.signal(
                signum, signal.SIG_DFL if handler is None else handler
            )
