"""Ctrl-C and SIGTERM for the command line: the few helpers that must work before anything
heavy is imported (``tfselect.__main__`` installs them first; ``tfselect.cli`` and the
search use them).

Only the standard library here: typer, numpy and torch take about a second to import, and a
Ctrl-C during that second must end in one line, not a traceback through an import.
"""

from __future__ import annotations

import signal
import sys

RETRY_S = 0.02  # how often a Ctrl-C that waits for an import asks again


def _on_main_thread() -> bool:
    # signal.signal() works only there (Python runs every handler in the main thread).
    import threading  # not above: install() runs before it is imported

    return threading.current_thread() is threading.main_thread()


def _forward(signum, frame) -> None:
    """Hand a signal to the SIGINT handler in force now (:func:`ctrl_c` if SIGINT is ignored,
    as in a job a script started with `&`): SIGTERM, and a Ctrl-C put off by an import."""
    handler = signal.getsignal(signal.SIGINT)
    (handler if callable(handler) else ctrl_c)(signal.SIGINT, frame)


def later_if_importing(frame) -> bool:
    """Whether ``frame`` (where a signal landed) is inside an import. If so, the signal is
    handed again (:func:`_forward`) every ``RETRY_S`` until the import has ended.

    A KeyboardInterrupt raised in an import can abort the process (torch's C++ module setup
    calls back into Python and ends in std::terminate), be lost (raised in a weakref callback
    or a ``__del__`` that the import runs), or leave a module half set up that breaks what
    follows (numpy's lazy attributes recursing forever after an interrupted scipy import).
    """
    if not hasattr(signal, "setitimer"):  # Windows: as Python does
        return False
    while frame is not None and not frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    if frame is None:
        return False
    signal.signal(signal.SIGALRM, _forward)
    signal.setitimer(signal.ITIMER_REAL, RETRY_S)
    return True


def ctrl_c(signum=signal.SIGINT, frame=None) -> None:
    """SIGINT handler: KeyboardInterrupt, as Python's own, but never during an import."""
    if not later_if_importing(frame):
        raise KeyboardInterrupt


def install() -> None:
    """Ctrl-C (unless ignored) and SIGTERM as :func:`ctrl_c`: the first thing the CLI does."""
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, ctrl_c)
        signal.signal(signal.SIGTERM, _forward)
    except ValueError:  # not in the main thread: Python runs handlers there only
        pass


def sigterm_as_ctrl_c():
    """Hand SIGTERM to the SIGINT handler in force at that moment, so every Ctrl-C path
    (a search's CtrlC, KeyboardInterrupt anywhere else) handles it too.

    Returns the previous SIGTERM handler (None off the main thread: nothing installed).
    """
    return signal.signal(signal.SIGTERM, _forward) if _on_main_thread() else None


def ignore_signals() -> None:
    """Once the command is stopping, a second Ctrl-C (or SIGTERM) must not print a traceback."""
    if _on_main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if hasattr(signal, "SIGALRM") and signal.getsignal(signal.SIGALRM) is _forward:
            signal.setitimer(signal.ITIMER_REAL, 0)  # nor one that waited for an import


_said = False  # whether this command printed its "tfselect: interrupted..." line


def reset() -> None:
    """A new command starts (tests run several in one process)."""
    global _said
    _said = False


def say_interrupted(message: str = "interrupted") -> None:
    """Stop listening to signals, then print ``tfselect: MESSAGE`` on stderr, once.

    Once: several layers see the same Ctrl-C (the command, the command group, the entry
    point), and the first one to handle it has the most to say.
    """
    global _said
    ignore_signals()
    # CPython marks a KeyboardInterrupt that leaves code run by exec() or eval() of a string
    # (dataclasses and namedtuple do that while a module is imported) as unhandled for the
    # whole process, even once caught, and at exit kills itself with SIGINT (status -2)
    # instead of exiting 130. Running any such code clears the mark.
    exec("")
    if not _said:
        _said = True
        print(f"tfselect: {message}", file=sys.stderr, flush=True)
