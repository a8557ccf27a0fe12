"""A timer that wakes the event loop at a monotonic instant to within tens of microseconds.

How it works. The event loop's own timers are whole milliseconds: uvloop (libuv) rounds a delay
to the millisecond and compares against a clock it reads in milliseconds, so `call_later(0.0002)`
runs 1–2 ms later. The open model's dispatcher needs better than that between responses: at
50,000 arrivals a second one millisecond holds 50 of them. On Linux a `timerfd` armed at an
absolute CLOCK_MONOTONIC instant (the clock `time.monotonic_ns` reads) becomes readable when that
instant passes, with no rounding and no timer slack; the loop watches it like a socket and the
process sleeps in the kernel until then, so precision costs no spinning. Elsewhere, or when the
timerfd cannot be made, the timer falls back to `loop.call_later`.

The two calls go through ctypes (about 2 µs to arm, once per wake-up): `os.timerfd_create`
came only in Python 3.13.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import sys
import time
from collections.abc import Callable
from typing import Final

_CLOCK_MONOTONIC: Final = 1
_TFD_NONBLOCK: Final = os.O_NONBLOCK
_TFD_CLOEXEC: Final = os.O_CLOEXEC
_TFD_TIMER_ABSTIME: Final = 1
_NS: Final = 1_000_000_000
_LOOP_TIMER_MIN: Final = 0.0006  # seconds: uvloop rounds this up to 1 ms, not down to 0


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _TimerFd:
    """One Linux timerfd, armed at absolute monotonic instants."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)  # the C library already loaded
        create = libc.timerfd_create
        create.argtypes = [ctypes.c_int, ctypes.c_int]
        create.restype = ctypes.c_int
        settime = libc.timerfd_settime
        settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.POINTER(_Itimerspec),
        ]
        settime.restype = ctypes.c_int
        fd = create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd = fd
        self._spec = _Itimerspec()
        self._value = self._spec.it_value  # a view into _spec: set in place at each arming
        self._spec_ref = ctypes.byref(self._spec)
        self._libc_settime = settime

    def arm(self, due_ns: int) -> None:
        """Become readable once the monotonic clock reaches `due_ns` (replacing any earlier
        arming; an instant already past fires at once)."""
        value = self._value
        value.tv_sec, value.tv_nsec = divmod(max(due_ns, 1), _NS)  # 0 would disarm it
        if self._libc_settime(self.fd, _TFD_TIMER_ABSTIME, self._spec_ref, None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def clear(self) -> None:
        """Consume the expiry, so the loop stops reporting the fd readable (arming it again
        does that too, without this system call)."""
        with contextlib.suppress(BlockingIOError):  # re-armed since it fired: nothing to read
            os.read(self.fd, 8)

    def close(self) -> None:
        os.close(self.fd)


class PreciseTimer:
    """Calls `callback` once the monotonic clock reaches the instant last given to `at`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[], None],
        *,
        precise: bool = True,
    ) -> None:
        """`precise=False` uses the loop's timers even where a timerfd could be made."""
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None  # the loop's timer, when no timerfd
        self._due_ns = 0
        self._armed = False  # the timerfd was armed since it last fired
        self._fd: _TimerFd | None = None
        if precise and sys.platform.startswith("linux"):
            try:
                self._fd = _TimerFd()
            except (OSError, AttributeError):  # no timerfd here: the loop's timers it is
                self._fd = None
        if self._fd is not None:
            loop.add_reader(self._fd.fd, self._fired)

    def at(self, due_ns: int) -> None:
        """Call back at `due_ns` (time.monotonic_ns), instead of any time set before."""
        if self._fd is not None:
            self._fd.arm(due_ns)
            self._armed = True
            return
        self._due_ns = due_ns
        if self._handle is not None:
            self._handle.cancel()
        self._sleep_until_due()

    def _sleep_until_due(self) -> None:
        # uvloop rounds a delay to the nearest millisecond, so a short one could call back
        # early: sleep at least _LOOP_TIMER_MIN (→ 1 ms) and check again on waking.
        delay = max((self._due_ns - time.monotonic_ns()) / 1e9, _LOOP_TIMER_MIN)
        self._handle = self._loop.call_later(delay, self._woke)

    def _woke(self) -> None:
        if time.monotonic_ns() < self._due_ns:
            self._sleep_until_due()
        else:
            self._handle = None
            self._callback()

    def _fired(self) -> None:
        # Arming a timerfd resets its expiry count, so when the callback sets the next
        # instant (nearly every time) the fd is no longer readable and the read that would
        # consume the expiry is saved: one system call less per wake-up.
        self._armed = False
        self._callback()
        if not self._armed and self._fd is not None:
            self._fd.clear()

    def close(self) -> None:
        """Stop watching: no callback after this."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._fd is not None:
            self._loop.remove_reader(self._fd.fd)
            self._fd.close()
            self._fd = None
