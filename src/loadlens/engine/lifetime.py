"""A worker process never outlives its coordinator, and never makes noise when it goes.

Two guards, because either alone leaves a gap. The kernel is asked to kill the worker when the
coordinator dies (Linux `prctl(PR_SET_PDEATHSIG)`): that works even while the worker's event
loop is too busy to notice anything, and after a SIGKILL of the coordinator, which leaves no
chance to tell the workers. Everywhere (and on systems without `prctl`), the worker also
watches its control channel: end-of-file there means the coordinator is gone, and the worker
exits at once and quietly — nobody is left to receive its frames, and a traceback per
second, from every worker, is what a closed pipe used to produce.

The stop signals (SIGINT, SIGTERM, SIGHUP) are ignored by workers: they often reach the whole
process group (Ctrl-C, a closed terminal, `timeout`), and the coordinator decides how a run
stops, so that in-flight requests finish and are reported.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from typing import NoReturn

from loadlens.engine.stop_signals import ignore_stop_signals

_PR_SET_NAME = 15  # from <linux/prctl.h>; the name is cut to 15 bytes
_PR_SET_PDEATHSIG = 1
# What the control channel raises once the coordinator is gone (BlockingIOError, a full pipe
# of a live coordinator, is deliberately not among them).
CHANNEL_CLOSED = (EOFError, BrokenPipeError, ConnectionResetError)


def bind_to_coordinator(coordinator_pid: int, name: str = "") -> None:
    """Ignore the stop signals and have the kernel kill this process when the coordinator
    (`coordinator_pid`, its parent) dies; if it is already gone, exit now. On Linux, `name`
    becomes the process's name in `ps` and `top` (a forked worker's command line is the
    coordinator's)."""
    ignore_stop_signals()
    # The kernel watches the parent *thread* that started the worker: the coordinator starts
    # its workers from the thread that runs it, which outlives them.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no libc to ask: the channel guards
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if name:
                libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
    # The parent may have died before the request was made: then nobody would signal us.
    if os.getppid() != coordinator_pid:
        coordinator_gone()


def coordinator_gone() -> NoReturn:
    """Exit at once, without a word: the coordinator that would read anything is gone, and the
    kernel closes the worker's connections (nothing else is worth finishing)."""
    os._exit(0)
