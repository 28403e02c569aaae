"""Ctrl-C and SIGTERM for the command line: the few helpers that must work before anything
heavy is imported (``tfselect.__main__`` installs them first; ``tfselect.cli`` uses them).

Only the standard library here: typer, numpy and torch take about a second to import, and a
Ctrl-C during that second must end in one line, not a traceback through an import.
"""

from __future__ import annotations

import signal
import sys
import threading


def _on_main_thread() -> bool:
    # signal.signal() works only there (Python runs every handler in the main thread).
    return threading.current_thread() is threading.main_thread()


def _importing(frame) -> bool:
    """Whether ``frame`` (where a signal landed) is inside an import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def ctrl_c(signum=signal.SIGINT, frame=None) -> None:
    """SIGINT handler: KeyboardInterrupt, as Python's own, but never in the middle of an import.

    An import cut halfway leaves broken modules behind, and the command may still use them
    on its way out (seen: after an interrupted scipy import, numpy's lazy attributes recursed
    forever). So during an import it asks again every 20 ms (SIGALRM) until the import ends.
    """
    if _importing(frame) and hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, ctrl_c)
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        return
    raise KeyboardInterrupt


def install() -> None:
    """Ctrl-C (unless ignored: a job a script started with `&`) and SIGTERM as :func:`ctrl_c`."""
    if _on_main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, ctrl_c)
    sigterm_as_ctrl_c()


def sigterm_as_ctrl_c():
    """Hand SIGTERM to the SIGINT handler in force at that moment, so every Ctrl-C path
    (a search's CtrlC, KeyboardInterrupt anywhere else) handles it too.

    Returns the previous SIGTERM handler (None off the main thread: nothing installed).
    """
    if not _on_main_thread():
        return None

    def forward(signum, frame):
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:  # also when SIGINT is ignored, as in a job a script started with `&`
            ctrl_c(signum, frame)

    return signal.signal(signal.SIGTERM, forward)


def ignore_signals() -> None:
    """Once the command is stopping, a second Ctrl-C (or SIGTERM) must not print a traceback."""
    if _on_main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        if hasattr(signal, "SIGALRM") and signal.getsignal(signal.SIGALRM) is ctrl_c:
            signal.setitimer(signal.ITIMER_REAL, 0)  # nor a Ctrl-C that waited for an import


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
