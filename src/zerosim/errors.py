"""The whole zerosim exception tree. Imports nothing from zerosim.

Exception tree::

    ZerosimError            -- catch this to handle any expected failure of zerosim (exit code 1)
      + InputError          -- an option or argument of a command is bad: a port, an address, a count (exit 2)
      + ScenarioError       -- a scenario file, override or parameter is bad or inconsistent (exit 2)
      + StateError          -- an invariant broke during a run: a bug, please report it (exit 3)
      + OutputError         -- results cannot be written or read: disk full, permissions, I/O (exit 4)
        + OutputDirError    -- the --out directory is unusable, holds results, or another run holds it (exit 2)
        + RunDirError       -- a directory given to read is not one complete run: missing, partial, mixed (exit 2)
        + CheckpointError   -- --resume: no checkpoint, or one malformed, of another version or scenario (exit 2)
      + MissingDependencyError -- an optional extra (e.g. pyabc for calibrate) is not installed (exit 2)

Every message is one line: the field, what was wrong, and how to fix it.

Exit codes (the README's table): 0 ok; 1 a run or task failed; 2 bad input (anything the user gave:
scenario, override, option, file or folder); 3 an invariant broke (a bug); 4 results could not be
written or read although the input was fine (disk full, permissions, an I/O error); 130 interrupted.
"""

from __future__ import annotations


class ZerosimError(Exception):
    """Base of every error zerosim raises on purpose. The CLI prints it as one line."""

    exit_code = 1


class InputError(ZerosimError):
    """A command's option or argument is bad (not a scenario field): a port, an address, a count of folders."""

    exit_code = 2


class ScenarioError(ZerosimError):
    """Bad or inconsistent configuration: malformed YAML, unknown field, impossible value, too big."""

    exit_code = 2


class StateError(ZerosimError):
    """An invariant of the simulation state broke during a run (a bug)."""

    exit_code = 3


class OutputError(ZerosimError):
    """A results directory or file cannot be read or written."""

    exit_code = 4


class OutputDirError(OutputError):
    """The requested output directory is unusable (unwritable, or holds results and no --force)."""

    exit_code = 2


class RunDirError(OutputError):
    """A directory given to read (a run, a baseline, a posterior) is missing, incomplete, or its files
    do not belong to one run (their scenario hashes disagree)."""

    exit_code = 2


class CheckpointError(OutputError):
    """``--resume`` cannot use the directory: no checkpoint, or one malformed, of another version or scenario."""

    exit_code = 2


class MissingDependencyError(ZerosimError):
    """A command needs an optional extra that is not installed; the message gives the pip command."""

    exit_code = 2
