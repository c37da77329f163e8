"""Worker processes die with the run that started them, even a `kill -9` of it.

Workers are forked by multiprocessing's forkserver, which the run started;
each holds the forkserver's "alive" pipe open, so neither notices the run's
death by itself, and a parser in an endless loop never reads its pipe again.
The kernel's parent-death signal closes the chain without any cooperation
from a busy process: the forkserver gets SIGKILL when the run dies, each
worker when the forkserver dies, and the resource tracker then sees its
last writer gone and exits. The signal is tied to the thread that forked,
so the forkserver arms it only when the main thread started it (see
`workers._context`); a worker therefore also watches its pipe to the
coordinator, whose far end closes when the coordinator's process dies,
however it started the forkserver (a TUI backtest runs in a thread).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the signal was armed
        os._exit(1)


def die_with_coordinator(fd: int) -> None:
    """SIGKILL this process once the other end of socket `fd` is closed (a watcher thread).

    Only polls: the main thread keeps reading the socket as before. A parser
    looping in pure Python still lets this thread run; one stuck in C code
    holding the GIL is covered by `die_with_parent` where that is armed.
    """
    hangup = getattr(select, "POLLRDHUP", 0) | select.POLLHUP
    if not hasattr(select, "poll"):
        return

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, hangup)
        while True:
            try:
                events = poller.poll()
            except OSError:
                return
            for _, ev in events:
                if ev & select.POLLNVAL:
                    return  # this process closed it: it is on its way out anyway
                if ev & (hangup | select.POLLERR):
                    os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="casparian-lifeline", daemon=True).start()
