"""Dashboard layer: ``zerosim serve``, a local web page to move the policy levers and run the model.

Sits above the API, beside ``cli/``; nothing below imports it. Dash is an optional dependency
(``pip install 'zerosim[dashboard]'``), imported only when the app is created, so this package
and :mod:`zerosim.dashboard.levers` import without it.

Public names::

    create_app()                       -> the Dash app (its Flask server is ``app.server``)
    serve(host="127.0.0.1", port=8050)    serve it until interrupted; loopback hosts only
    Levers, PRESET, validate_levers, build_overrides
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from zerosim.dashboard.levers import PRESET, Levers, build_overrides, validate_levers
from zerosim.errors import InputError, MissingDependencyError

if TYPE_CHECKING:
    from dash import Dash

__all__ = ["PRESET", "Levers", "build_overrides", "check_loopback", "create_app", "serve", "validate_levers"]

_MISSING_DASH = "the dashboard needs Dash; install it with: pip install 'zerosim[dashboard]'"


def check_loopback(host: str) -> None:
    """Raise a one-line ZerosimError unless ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise InputError(
            f"--host: the dashboard binds to this machine only, got '{host}'; use 127.0.0.1, ::1 or localhost"
        )


def create_app(port: int | None = None) -> Dash:
    """The dashboard as a Dash app; it answers only requests whose ``Host:`` is a loopback name (with
    ``port``, when given). Raises ZerosimError if Dash is not installed."""
    try:
        from zerosim.dashboard.app import create_app as _create_app
    except ImportError as error:
        raise MissingDependencyError(f"{_MISSING_DASH} ({error.name} is missing)") from None
    return _create_app(port=port)


def serve(host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the dashboard on ``host:port`` until interrupted.

    Raises
    ------
    ZerosimError
        If ``host`` is not a loopback address, or Dash is not installed.
    """
    check_loopback(host)
    try:
        from zerosim.dashboard.app import serve as _serve
    except ImportError as error:
        raise MissingDependencyError(f"{_MISSING_DASH} ({error.name} is missing)") from None
    _serve(host=host, port=port)
