"""``python -m tfselect`` and the ``tfselect`` script.

Ctrl-C and SIGTERM are handled from the first line: the CLI's imports (typer, then numpy and
torch in the commands) take about a second, and an interruption during them would otherwise
print a traceback through whatever was being imported. Output that stdout cannot take (a
full device, a closed pipe) ends in one line or a pipeline's quiet exit too.
"""

import sys


def main() -> None:
    try:
        from tfselect import interrupts  # standard library only: a few milliseconds

        interrupts.install()  # SIGTERM too becomes KeyboardInterrupt
        for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints as \xff
            if hasattr(stream, "reconfigure"):
                stream.reconfigure(errors="backslashreplace")
        from tfselect.cli import app

        try:
            app()  # each command handles Ctrl-C itself; this catches what comes before or after
        except SystemExit as done:
            _exit(done.code)
        except OSError as exc:  # stdout full or closed while printing help or a usage error
            from tfselect.diskerrors import as_exit

            status, line = as_exit(exc)
            if status is None:
                raise
            if line:
                sys.stderr.write(f"tfselect: error: {line}\n")
            sys.exit(status)
    except KeyboardInterrupt:
        from tfselect import interrupts  # again: the first import may be the one cut short

        interrupts.say_interrupted()
        sys.exit(130)


def _exit(code) -> None:
    """Exit with ``code``, after flushing stdout: what it could not write (a full device, a
    closed pipe) is one line or the quiet exit of a pipeline, not 'Exception ignored'."""
    from tfselect.diskerrors import flush_stdout

    status = flush_stdout()
    sys.exit(status if status is not None and not code else code)


if __name__ == "__main__":
    main()
