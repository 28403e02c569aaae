"""Trials left RUNNING by a worker that died, for storages without a heartbeat.

SQLite and PostgreSQL storages get Optuna's heartbeat (``storage.py``): a later worker fails
a trial whose worker has been silent for the grace period. Optuna's JournalStorage has no
heartbeat, so a worker killed with ``kill -9`` (or a power cut) would leave its trial RUNNING
forever. So every trial records the host name and process id of its worker (user attrs
``host`` and ``pid``), and a worker starting on a host fails the RUNNING trials of that host
whose process no longer exists. Processes of other hosts cannot be checked from here: their
trials are left to a worker on their own host (or to the heartbeat, where there is one).

Hosts are told apart by name: workers in separate process namespaces that share a host name
(containers on the host network) must not share a journal file.
"""

from __future__ import annotations

import os
import socket

from tfselect.errors import TfselectError
from tfselect.search.storage import open_storage

# Imported inside the functions that need them, so that importing this module stays light:
# optuna.

HOST = "host"
PID = "pid"
ATTRS = (HOST, PID)


def tag(trial) -> None:
    """Record this process as the worker of ``trial`` (an Optuna trial)."""
    trial.set_user_attr(HOST, socket.gethostname())
    trial.set_user_attr(PID, os.getpid())


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to another user
        return True
    return True


def fail_stale(study) -> list[int]:
    """Mark FAIL the RUNNING trials of ``study`` whose worker on this host is gone.

    Returns the numbers of the trials failed now. A trial another worker finished or failed
    meanwhile is skipped (the storage refuses to change a finished trial).
    """
    from optuna.trial import TrialState

    host, me = socket.gethostname(), os.getpid()
    storage = study._storage  # Optuna's study exposes no public per-trial state setter
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get(PID)
        if t.user_attrs.get(HOST) != host or not isinstance(pid, int) or pid == me:
            continue
        if process_exists(pid):
            continue
        try:
            storage.set_trial_user_attr(t._trial_id, "fail_reason",
                                        f"worker {host}:{pid} ended without finishing it")
            if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                failed.append(t.number)
        except Exception:  # finished meanwhile by another worker (UpdateFinishedTrialError...)
            continue
    return failed


def fail_stale_in(storage_url: str, study_name: str) -> list[int]:
    """:func:`fail_stale` on study ``study_name`` of ``storage_url`` (``search --fail-stale``).

    Raises:
        TfselectError: the storage cannot be opened or holds no such study.
    """
    import optuna

    store = open_storage(storage_url, create=False)
    try:
        study = optuna.load_study(study_name=study_name, storage=store)
    except KeyError:
        raise TfselectError(f"no study {study_name!r} in the storage") from None
    return fail_stale(study)
