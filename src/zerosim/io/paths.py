"""IO layer: paths given on the command line, checked before any work (empty, NUL, too long).

Layer ``io`` -- imports only ``zerosim.errors``.
"""

from __future__ import annotations

import os
from pathlib import Path

from zerosim.errors import ZerosimError

#: Longest file or folder name most file systems allow (bytes), and longest path (Linux PATH_MAX - 1).
NAME_MAX_BYTES = 255
PATH_MAX_BYTES = 4095


def check_path(path: str | Path, option: str, error: type[ZerosimError]) -> Path:
    """``path`` as a Path, or a one-line ``error`` naming ``option`` if no file system could hold it.

    An empty path is refused (``Path("")`` would silently mean the current directory).
    """
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    if text == "":
        raise error(f"{option}: the path is empty; give a file or directory path")
    if "\x00" in text:
        raise error(f"{option}: the path contains a NUL character; give a plain path")
    for part in Path(text).parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX_BYTES:
            raise error(f"{option}: the name '{part[:32]}...' is {size} bytes long, more than the {NAME_MAX_BYTES} a "
                        "file system allows; give a shorter name")
    size = len(os.fsencode(text))
    if size > PATH_MAX_BYTES:
        raise error(f"{option}: the path is {size} bytes long, more than {PATH_MAX_BYTES}; give a shorter path")
    return Path(text)
