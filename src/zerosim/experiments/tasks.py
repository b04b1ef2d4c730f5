"""Experiments layer: running many small runs as ``dask.distributed`` tasks, for attribution and the frontier.

The same conventions as :mod:`zerosim.experiments.ensemble`: a LocalCluster of ``workers`` single-threaded
processes by default, or the existing cluster at ``scheduler``; every task receives plain data (the
scenario as a mapping, overrides, a seed) and returns small plain data; a failed task is retried once,
and one that still fails is reported, never dropped silently.

Layer ``experiments`` -- imports ``api``, ``io`` and the layers below; never ``cli``.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from zerosim.errors import InputError, MissingDependencyError, ZerosimError
from zerosim.experiments.ensemble import check_scheduler_address, check_workers


def check_cluster_options(scheduler: str | None, workers: int) -> str | None:
    """The scheduler address (checked) or None after checking ``workers``; one-line InputError otherwise."""
    if scheduler is not None:
        return check_scheduler_address(scheduler)
    check_workers(workers)
    return None


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A ``dask.distributed`` Client: on the cluster at ``scheduler``, else on a new LocalCluster of
    ``workers`` processes (closed when the block ends)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MissingDependencyError("dask.distributed is not installed; install it with "
                                     "pip install 'zerosim[dask]' (make install does)") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="20s")
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
    except (OSError, ValueError, TypeError) as error:
        if cluster is not None:
            cluster.close()
        raise InputError(f"--scheduler: cannot reach '{scheduler}' ({str(error)[:80]}); check the address") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_tasks(client, function: Callable, calls: Sequence[tuple], keys: Sequence[str], *, retries: int = 1,
              on_done: Callable[[int, int], None] | None = None) -> tuple[list[Any], list[dict]]:
    """``function(*call)`` for every call, as Dask tasks; returns (results in the order of ``calls``, with
    None for a failed one; failures ``[{"index", "error", "traceback"?}]``).

    Each task's key is its prefix from ``keys`` plus a hash of the call's content, so a cluster that still
    holds an earlier command's result under a key can only hand it back for the very same call.
    """
    from dask.distributed import as_completed

    indices: dict[str, list[int]] = {}   # task key -> the calls it answers (identical calls share one task)
    futures = []
    for index, (call, key) in enumerate(zip(calls, keys)):
        digest = hashlib.sha256(json.dumps(call, sort_keys=True, default=str).encode()).hexdigest()[:16]
        name = f"{key}-{digest}"
        if name not in indices:
            futures.append(client.submit(function, *call, retries=retries, pure=False, key=name))
        indices.setdefault(name, []).append(index)
    results: list[Any] = [None] * len(calls)
    failures: list[dict] = []
    done = 0
    for future in as_completed(futures):
        answered = indices[future.key]
        try:
            value = future.result()
            for index in answered:
                results[index] = value
        except ZerosimError as error:
            failures += [{"index": index, "error": f"{error.__class__.__name__}: {error}"} for index in answered]
        except Exception as error:  # noqa: BLE001 - a worker's crash is reported, not swallowed
            failures += [{"index": index, "error": f"{error.__class__.__name__}: {error}",
                          "traceback": "".join(traceback.format_exception(error))[-2000:]} for index in answered]
        done += len(answered)
        if on_done:
            on_done(done, len(calls))
    failures.sort(key=lambda failure: failure["index"])
    return results, failures


def run_totals(scenario_data: dict, overrides: dict, seed: int) -> dict[str, float]:
    """One task: validate ``scenario_data`` with ``overrides`` and ``seed``, run it, and return its scalar
    totals: the summary's numbers and the ledger's as ``ledger.<key>`` (small: no tables)."""
    from zerosim.api import run
    from zerosim.io.scenario import apply_overrides

    scenario = apply_overrides(scenario_data, {**overrides, "seed": seed})
    return scalar_totals(run(scenario).summary)


def scalar_totals(summary: dict) -> dict[str, float]:
    """The numeric scalars of a summary, with the ledger's as ``ledger.<key>``."""
    totals = {key: float(value) for key, value in summary.items()
              if np.isscalar(value) and isinstance(value, (int, float, np.number)) and not isinstance(value, bool)}
    totals.update({f"ledger.{key}": float(value) for key, value in summary.get("ledger", {}).items()
                   if np.isscalar(value) and isinstance(value, (int, float, np.number)) and not isinstance(value, bool)})
    return totals
