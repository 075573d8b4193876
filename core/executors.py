"""Where parallel work runs: here, in local worker processes, or on a dask.distributed cluster.

The stimulus build (:func:`reveal.stimuli.build.build_stimulus_set`) and the map analyses
(:mod:`reveal.analysis.maps.pipeline`) take any :class:`concurrent.futures.Executor`;
:func:`open_executor` makes the one that ``--workers N`` / ``--scheduler ADDRESS`` ask for,
and :func:`scheduler_address` applies dask's own convention, the environment variable
``DASK_SCHEDULER_ADDRESS``, when no address is given. ``distributed`` (the ``cluster`` extra)
is imported only when a scheduler is used.

Examples
--------
>>> with open_executor() as executor:
...     print(executor)
None
>>> scheduler_address("tcp://head:8786", environ={"DASK_SCHEDULER_ADDRESS": "tcp://other:8786"})
'tcp://head:8786'
>>> scheduler_address(None, environ={"DASK_SCHEDULER_ADDRESS": "tcp://other:8786"})
'tcp://other:8786'
"""
from __future__ import annotations

import contextlib
import logging
import os

from .errors import InputError
from .extras import require_extra

__all__ = ["SCHEDULER_ENV", "CONNECT_TIMEOUT", "scheduler_address", "open_executor"]

log = logging.getLogger(__name__)

#: dask's environment variable for the scheduler address (its ``scheduler-address`` setting).
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"

#: How long to try to reach a scheduler before giving up (a dask time string).
CONNECT_TIMEOUT = "10s"


def scheduler_address(scheduler=None, workers=1, environ=None):
    """The scheduler address to use: ``scheduler``, else ``$DASK_SCHEDULER_ADDRESS``.

    The environment variable is not used when local worker processes (``workers`` > 1) were
    asked for: an explicit option beats the environment.

    Parameters
    ----------
    scheduler : str, optional
        The address given (``--scheduler``).
    workers : int
        Local worker processes asked for (``--workers``).
    environ : mapping, optional
        The environment (default :data:`os.environ`).

    Returns
    -------
    str or None

    Raises
    ------
    InputError
        Both ``scheduler`` and ``workers`` > 1.
    """
    if scheduler:
        if workers > 1:
            raise _scheduler_and_workers(workers)
        return scheduler
    if workers > 1:
        return None
    return (os.environ if environ is None else environ).get(SCHEDULER_ENV) or None


def _scheduler_and_workers(workers):
    return InputError(f"--scheduler runs the work on the cluster's workers, --workers {workers} on local "
                      f"processes: give one or the other")


@contextlib.contextmanager
def open_executor(workers=1, scheduler=None):
    """An executor for per-item work, as a context manager.

    Parameters
    ----------
    workers : int
        Local worker processes; 1 runs in this process (yields None).
    scheduler : str, optional
        dask.distributed scheduler address (e.g. ``tcp://host:8786``): run on that cluster
        (its workers must see the same files, by the same paths). The client is closed on
        leaving, on an error or Ctrl-C too, which cancels the tasks not yet run.

    Yields
    ------
    concurrent.futures.Executor or None

    Raises
    ------
    InputError
        Both a scheduler and ``workers`` > 1; a malformed address, or no scheduler reached
        there within :data:`CONNECT_TIMEOUT`.
    reveal.core.extras.MissingExtraError
        A scheduler without the ``cluster`` extra installed.
    """
    if scheduler:
        if workers > 1:
            raise _scheduler_and_workers(workers)
        require_extra("cluster", "a dask scheduler")
        from distributed import Client

        try:
            # not the default client: this one serves the executor only, and goes with it
            client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as err:  # nothing listening, unknown host, a firewall...
            raise InputError(f"no dask scheduler answered at {scheduler} within {CONNECT_TIMEOUT} ({err}); "
                             f"is it running, and is the address right (tcp://host:port)?") from None
        except ValueError as err:  # an unknown scheme, no port...
            message = f"{scheduler!r} is not a dask scheduler address ({err}); give tcp://host:port"
            raise InputError(message) from None
        try:
            if not client.scheduler_info(n_workers=1).get("workers"):
                log.warning("the dask scheduler at %s has no workers yet: the work waits until one joins",
                            scheduler)
            # pure=False: the tasks write files, so dask must neither merge nor cache them
            yield client.get_executor(pure=False)
        finally:
            client.close()
    elif workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers)
        try:
            yield pool
        finally:
            # on an error or Ctrl-C the tasks not started yet are dropped, not waited for
            pool.shutdown(cancel_futures=True)
    else:
        yield None
