"""``python -m tfselect`` and the ``tfselect`` script.

Ctrl-C and SIGTERM are handled from the first line: the CLI's imports (typer, then numpy and
torch in the commands) take about a second, and an interruption during them would otherwise
print a traceback through whatever was being imported.
"""

import sys


def main() -> None:
    try:
        from tfselect import interrupts  # standard library only: a few milliseconds

        interrupts.install()  # SIGTERM too becomes KeyboardInterrupt
        from tfselect.cli import app

        app()  # each command handles Ctrl-C itself; this catches what comes before or after
    except KeyboardInterrupt:
        from tfselect import interrupts  # again: the first import may be the one cut short

        interrupts.say_interrupted()
        sys.exit(130)


if __name__ == "__main__":
    main()
