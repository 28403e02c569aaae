"""User-facing errors: the CLI prints their message on one line and exits with status 2."""


class TfselectError(Exception):
    """Bad input from the user (a path, a spec, an option); never a bug."""


class DatasetError(TfselectError):
    """A dataset root, track or audio file that cannot be used; the message names the file."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what was kept and how to continue (the CLI prints it, exit 130)."""


class SpecError(TfselectError, ValueError):
    """An invalid transform spec; the message names the field, the value and the allowed range."""
