"""IO layer: checkpoints of a running simulation, as NumPy arrays plus JSON -- never pickle.

Layer ``io`` -- imports the engine and the state classes below it; never ``cli`` or ``viz``.

Format (version :data:`CHECKPOINT_VERSION`), two files in the run directory:

``checkpoint.json``
    The index, written last (its atomic replacement is the commit point of a checkpoint)::

        {"format": "zerosim-checkpoint", "version": 5, "zerosim_version": "...",
         "scenario_hash": "<16 hex>", "scenario": {...resolved scenario...},
         "arrays_file": "checkpoint-<token>.npz", "token": "<token>",
         "next_day": 20, "every": 10, "timing": {"build_seconds": ..., "simulation_seconds": ...},
         "rng": [{"component": "testing", "state": {...numpy bit-generator state...}}, ...],
         "state": {"arrays": [...], "unit_arrays": [...], "stores": <tree>, "new_infected_count": 0},
         "recorder": {"days_recorded": 20, "scalars": [...], "by_district": [...], "by_age_band": [...], "ledger": [...]}}

``checkpoint-<token>.npz``
    Every array, keyed ``a<k>``, read with ``allow_pickle=False`` (object arrays are refused).
    Key ``token`` holds the token again, so an index and an array file of different checkpoints
    never pass for one.

A ``<tree>`` is JSON in which arrays are ``{"__array__": "a<k>"}``, tuples ``{"__tuple__": [...]}``,
dicts ``{"__dict__": [[key, value], ...]}``, NumPy scalars ``{"__scalar__": dtype, "value": v}``
and the few store classes of the model ``{"__object__": "ActiveAgents", "fields": {...}}``: only the
classes in :data:`STORE_CLASSES` can be named, and they are filled field by field (no code named by
the file runs). Resuming rebuilds the city from the scenario (the build is deterministic) and then
overwrites every mutable array, store, recorder buffer and random stream with the saved ones.

Any checkpoint that is malformed, of another version or for another scenario is refused with a
one-line :class:`~zerosim.errors.CheckpointError` (exit 2). An old ``checkpoint.pkl`` is never read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zerosim import __version__
from zerosim.disease.components import ActiveAgents
from zerosim.engine.simulation import Recorder, Simulation
from zerosim.errors import CheckpointError, ScenarioError
from zerosim.io.results import JSON_READ_ERRORS, read_json_bounded
from zerosim.io.scenario import Scenario, validate_mapping
from zerosim.ledger.components import LedgerStore
from zerosim.policy.testing import LabQueue, TubeBatch
from zerosim.policy.zoning import ZoneEventLog

CHECKPOINT_INDEX = "checkpoint.json"
CHECKPOINT_FORMAT = "zerosim-checkpoint"
CHECKPOINT_VERSION = 5  # 5: the recorder's ledger buffers; 4: arrays + JSON (3 and before: a pickle, no longer read)
LEGACY_PICKLE = "checkpoint.pkl"
#: The only classes a checkpoint may name (the stores components keep in ``state.stores``).
STORE_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (ActiveAgents, ZoneEventLog, LabQueue, TubeBatch,
                                                                LedgerStore)}
_SCALAR_KINDS = "biuf"


def checkpoint_files(run_dir: Path) -> list[Path]:
    """Every checkpoint file in ``run_dir`` (index, array files, temporaries of a killed write)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return [path for path in run_dir.iterdir()
            if path.name == CHECKPOINT_INDEX or (path.name.startswith("checkpoint-") and ".npz" in path.name)
            or (path.name.startswith(".checkpoint") and path.name.endswith(".tmp"))]


# -- encoding ----------------------------------------------------------------------------------------
class _Encoder:
    """Turns a tree of containers, arrays and store objects into JSON plus a dict of arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._seen: dict[int, str] = {}

    def array(self, value: np.ndarray) -> str:
        key = self._seen.get(id(value))
        if key is None:
            if value.dtype.kind not in _SCALAR_KINDS:
                raise TypeError(f"checkpoint: cannot store an array of dtype {value.dtype} (numbers only)")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            self._seen[id(value)] = key
        return key

    def tree(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, np.ndarray):
            return {"__array__": self.array(value)}
        if isinstance(value, np.generic):
            if value.dtype.kind not in _SCALAR_KINDS:
                raise TypeError(f"checkpoint: cannot store a scalar of dtype {value.dtype}")
            return {"__scalar__": value.dtype.str, "value": value.item()}
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, list):
            return [self.tree(item) for item in value]
        if isinstance(value, tuple):
            return {"__tuple__": [self.tree(item) for item in value]}
        if isinstance(value, dict):
            return {"__dict__": [[self.tree(key), self.tree(item)] for key, item in value.items()]}
        name = type(value).__name__
        if STORE_CLASSES.get(name) is type(value):
            return {"__object__": name,
                    "fields": {f.name: self.tree(getattr(value, f.name)) for f in dataclasses.fields(value)}}
        raise TypeError(f"checkpoint: cannot store a {type(value).__qualname__}; add it to STORE_CLASSES")


class _Decoder:
    """The inverse of :class:`_Encoder`; anything unexpected raises ValueError."""

    def __init__(self, arrays: np.lib.npyio.NpzFile) -> None:
        self._arrays = arrays
        self._loaded: dict[str, np.ndarray] = {}

    def array(self, key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in self._arrays.files or key == "token":
            raise ValueError(f"no array {key!r}")
        if key not in self._loaded:
            array = self._arrays[key]  # allow_pickle=False: an object array raises ValueError here
            if array.dtype.kind not in _SCALAR_KINDS:
                raise ValueError(f"array {key} has dtype {array.dtype}")
            self._loaded[key] = np.ascontiguousarray(array)
        return self._loaded[key]

    def tree(self, value: Any, depth: int = 0) -> Any:
        if depth > 32:
            raise ValueError("nested too deeply")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.tree(item, depth + 1) for item in value]
        if not isinstance(value, dict) or len(value) not in (1, 2):
            raise ValueError(f"unexpected {type(value).__name__}")
        if set(value) == {"__array__"}:
            return self.array(value["__array__"])
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(self.tree(item, depth + 1) for item in value["__tuple__"])
        if set(value) == {"__dict__"} and isinstance(value["__dict__"], list):
            pairs = value["__dict__"]
            if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
                raise ValueError("a dict entry is not a [key, value] pair")
            return {self._key(pair[0], depth): self.tree(pair[1], depth + 1) for pair in pairs}
        if set(value) == {"__scalar__", "value"}:
            dtype = np.dtype(str(value["__scalar__"]))
            if dtype.kind not in _SCALAR_KINDS or not isinstance(value["value"], (bool, int, float)):
                raise ValueError(f"bad scalar {value!r}"[:80])
            return dtype.type(value["value"])
        if set(value) == {"__object__", "fields"} and isinstance(value["fields"], dict):
            cls = STORE_CLASSES.get(value["__object__"]) if isinstance(value["__object__"], str) else None
            if cls is None:
                raise ValueError(f"unknown store class {str(value['__object__'])[:40]!r}")
            names = {f.name for f in dataclasses.fields(cls)}
            if set(value["fields"]) != names:
                raise ValueError(f"{cls.__name__} has fields {sorted(names)}")
            instance = object.__new__(cls)
            for name, item in value["fields"].items():
                object.__setattr__(instance, name, self.tree(item, depth + 1))
            return instance
        raise ValueError(f"unexpected keys {sorted(value)[:3]}")

    def _key(self, key: Any, depth: int) -> Any:
        decoded = self.tree(key, depth + 1)
        if isinstance(decoded, (list, dict, np.ndarray)):
            raise ValueError("a dict key is not hashable")
        return decoded


# -- writing -----------------------------------------------------------------------------------------
def _write_atomic(directory: Path, name: str, write) -> None:
    """``write(handle)`` into a unique temporary file in ``directory``, then move it to ``name``."""
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".checkpoint-", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
        os.replace(handle.name, directory / name)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def save_checkpoint(out_dir: Path, scenario: Scenario, simulation: Simulation, timing: dict, next_day: int,
                    every: int) -> None:
    """Write a checkpoint of ``simulation`` (about to run ``next_day``) into ``out_dir``.

    The array file goes first under a fresh name, then the index replaces the previous one; only
    then are older array files removed, so a kill at any point leaves one complete checkpoint.
    """
    out_dir = Path(out_dir)
    encoder = _Encoder()
    state, recorder = simulation.state, simulation.recorder
    index = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "zerosim_version": __version__,
        "scenario_hash": scenario.digest(),
        "scenario": scenario.model_dump(mode="json"),
        "next_day": int(next_day),
        "every": int(every),
        "timing": {key: float(value) for key, value in timing.items()},
        "rng": [{"component": component.name, "state": rng.bit_generator.state} for component, rng in simulation.plan],
        "state": {
            "arrays": [[name, encoder.array(array)] for name, array in state.arrays.items()],
            "unit_arrays": [[name, encoder.array(array)] for name, array in state.unit_arrays.items()],
            "stores": encoder.tree(state.stores),
            "new_infected": encoder.array(state.events.new_infected),
            "new_infected_count": int(state.events.new_infected_count),
        },
        "recorder": {
            "days_recorded": int(recorder.days_recorded),
            **{part: [[name, encoder.array(array)] for name, array in getattr(recorder, part).items()]
               for part in ("scalars", "by_district", "by_age_band", "ledger")},
        },
    }
    token = secrets.token_hex(8)
    arrays_file = f"checkpoint-{token}.npz"
    index["token"], index["arrays_file"] = token, arrays_file
    _write_atomic(out_dir, arrays_file,
                  lambda handle: np.savez(handle, token=np.frombuffer(token.encode(), dtype=np.uint8), **encoder.arrays))
    _write_atomic(out_dir, CHECKPOINT_INDEX, lambda handle: handle.write(json.dumps(index).encode()))
    for path in checkpoint_files(out_dir):
        if path.name not in (CHECKPOINT_INDEX, arrays_file) and not path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)


def remove_checkpoint(run_dir: Path) -> None:
    """Delete the checkpoint files of ``run_dir`` (the run is complete)."""
    for path in checkpoint_files(run_dir):
        path.unlink(missing_ok=True)


# -- reading -----------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """A checkpoint read back: its scenario and what :meth:`restore` puts into a rebuilt simulation."""

    run_dir: Path
    scenario: Scenario
    index: dict
    next_day: int
    every: int
    timing: dict

    def _fail(self, problem: str) -> CheckpointError:
        return CheckpointError(f"--resume: the checkpoint in '{self.run_dir}' is malformed ({problem[:120]}); "
                               "start the run again")

    def restore(self, simulation: Simulation) -> None:
        """Overwrite the mutable data of ``simulation`` (built and set up from :attr:`scenario`)."""
        path = self.run_dir / str(self.index.get("arrays_file", ""))
        if not isinstance(self.index.get("arrays_file"), str) or Path(self.index["arrays_file"]).name != \
                self.index["arrays_file"] or not path.is_file():
            raise self._fail("its array file is missing")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                if "token" not in arrays.files or \
                        bytes(arrays["token"].astype(np.uint8)).decode() != str(self.index.get("token")):
                    raise ValueError("its array file belongs to another checkpoint")
                self._restore(simulation, _Decoder(arrays))
        except CheckpointError:
            raise
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                zipfile.BadZipFile, UnicodeDecodeError) as error:
            raise self._fail(str(error) or error.__class__.__name__) from None

    def _restore(self, simulation: Simulation, decoder: _Decoder) -> None:
        state, saved = simulation.state, self.index["state"]
        names = [name for name, _ in saved["arrays"]]
        if sorted(names) != sorted(state.arrays):
            raise ValueError("its per-agent arrays differ from this version's schema")
        for name, key in saved["arrays"]:
            array = decoder.array(key)
            target = state.arrays[name]
            if array.dtype != target.dtype or array.shape != target.shape:
                raise ValueError(f"array {name} has dtype {array.dtype} and shape {array.shape}")
            target[...] = array
        units = {}
        for name, key in saved["unit_arrays"]:
            array = decoder.array(key)
            if name not in state.unit_arrays or array.dtype != state.unit_arrays[name].dtype \
                    or array.ndim != state.unit_arrays[name].ndim:
                raise ValueError(f"unit array {name!r} does not fit this scenario")
            units[name] = array
        if set(units) != set(state.unit_arrays):
            raise ValueError("its unit arrays differ from this scenario's")
        state.unit_arrays.clear()
        state.unit_arrays.update(units)
        stores = decoder.tree(saved["stores"])
        if not isinstance(stores, dict) or set(stores) != set(state.stores):
            raise ValueError("its stores differ from this scenario's")
        for name, value in stores.items():
            before = state.stores[name]
            if before is not None and value is not None and type(before) is not type(value):
                raise ValueError(f"store {name!r} is a {type(value).__name__}")
        state.stores.clear()
        state.stores.update(stores)
        new_infected = decoder.array(saved["new_infected"])
        count = int(saved["new_infected_count"])
        if new_infected.dtype != state.events.new_infected.dtype or new_infected.shape != \
                state.events.new_infected.shape or not 0 <= count <= new_infected.size:
            raise ValueError("the day's new infections do not fit")
        state.events.new_infected[...] = new_infected
        state.events.new_infected_count = count

        recorder: Recorder = simulation.recorder
        saved_recorder = self.index["recorder"]
        for part, width in (("scalars", None), ("by_district", recorder.district_count), ("by_age_band", -1),
                            ("ledger", recorder.district_count)):
            buffers = {}
            for name, key in saved_recorder[part]:
                array = decoder.array(key)
                if not isinstance(name, str) or array.dtype != np.float64 or array.shape[0] != recorder.days or \
                        array.ndim != (1 if width is None else 2) or (width and width > 0 and array.shape[1] != width):
                    raise ValueError(f"recorder buffer {str(name)[:40]!r} does not fit")
                buffers[name] = array
            getattr(recorder, part).clear()
            getattr(recorder, part).update(buffers)
        recorder.days_recorded = int(saved_recorder["days_recorded"])
        if recorder.days_recorded != self.next_day:
            raise ValueError("its recorder does not end on the checkpoint's day")

        streams = self.index["rng"]
        if [entry["component"] for entry in streams] != [component.name for component, _ in simulation.plan]:
            raise ValueError("its random streams belong to other components")
        for entry, (_, rng) in zip(streams, simulation.plan):
            rng.bit_generator.state = entry["state"]


def read_checkpoint(run_dir: str | Path) -> Checkpoint:
    """The checkpoint index of ``run_dir``, checked (version, scenario, its hash, the run's scenario.yaml).

    Raises
    ------
    CheckpointError
        One line, exit 2: no checkpoint, an old pickle checkpoint, malformed, another version,
        another scenario.
    """
    from zerosim.io.safe_yaml import load_yaml

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"--resume: '{run_dir}' is not a directory; give the --out of a run started with "
                              "--checkpoint-every")
    path = run_dir / CHECKPOINT_INDEX
    if not path.is_file():
        if (run_dir / LEGACY_PICKLE).exists():
            raise CheckpointError(f"--resume: '{run_dir}' holds only {LEGACY_PICKLE}, a pickle of an older zerosim, "
                                  "which is never read (it could run code); start the run again")
        raise CheckpointError(f"--resume: '{run_dir}' has no {CHECKPOINT_INDEX}; resume a run started with "
                              "--checkpoint-every")

    def malformed(problem: str) -> CheckpointError:
        return CheckpointError(f"--resume: '{path}' is malformed ({problem[:120]}); start the run again")

    try:
        index = read_json_bounded(path)
    except JSON_READ_ERRORS as error:
        raise malformed(str(error) if str(error).startswith("larger than") else error.__class__.__name__) from None
    if not isinstance(index, dict) or index.get("format") != CHECKPOINT_FORMAT:
        raise malformed("not a zerosim checkpoint index")
    if index.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"--resume: '{path}' has format version {str(index.get('version'))[:20]}, this zerosim "
                              f"reads {CHECKPOINT_VERSION}; start the run again")
    try:
        scenario = validate_mapping(dict(index["scenario"]))
    except ScenarioError as error:
        raise malformed(f"its scenario is invalid: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise malformed(f"no valid scenario: {error.__class__.__name__}") from None
    if scenario.digest() != index.get("scenario_hash"):
        raise malformed("its scenario does not match its scenario_hash")
    try:
        text = (run_dir / "scenario.yaml").read_text(encoding="utf-8")
        run_scenario = validate_mapping(load_yaml(text, "scenario.yaml"))
    except (OSError, UnicodeDecodeError, ScenarioError, TypeError, ValueError):
        run_scenario = None
    if run_scenario is None or run_scenario.digest() != scenario.digest():
        raise CheckpointError(f"--resume: the checkpoint in '{run_dir}' is for another scenario than its scenario.yaml "
                              f"(hash {scenario.digest()}); start the run again")
    try:
        next_day, every = index["next_day"], index["every"]
        timing = {"build_seconds": float(index["timing"]["build_seconds"]),
                  "simulation_seconds": float(index["timing"]["simulation_seconds"])}
        if type(next_day) is not int or type(every) is not int or not 0 < next_day < scenario.duration_days \
                or every < 1 or not all(key in index for key in ("state", "recorder", "rng")):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise malformed("its day, interval or timing is missing or out of range") from None
    return Checkpoint(run_dir, scenario, index, next_day, every, timing)
