"""Dashboard layer: ``zerosim serve``, a local web page to move the policy levers and run the model.

Sits above the API, beside ``cli/``: imports ``zerosim`` (the public API), ``zerosim.dashboard.levers``
and Dash. Nothing below imports it.

Why Dash (Plotly): the page is a handful of inputs, a button, three curves and a table, and Dash
writes that as plain Python callbacks over a Flask server, with no front-end build step. Its
JavaScript ships inside the wheel, so the page works offline. Progress needs no extra machinery
(Dash's background callbacks want diskcache or Celery): a run goes to a Python thread (the Numba
kernels release the GIL) which records the day it reached through ``zerosim.run(on_day=...)``, and a
``dcc.Interval`` polls that record twice a second. Panel would also fit but pulls in Bokeh and a
Tornado server; Streamlit re-runs the whole script on every change, which suits a long-running
simulation poorly.

The server binds to a loopback address only: there is no authentication, and a run takes CPU
and memory, so the page is for the person at this machine. It also answers only requests whose
``Host:`` header names a loopback address (``127.0.0.1``, ``localhost``, ``[::1]``, with the port it
serves on when that is known): a web page elsewhere cannot reach it through a DNS name it rebinds to
127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from plotly.subplots import make_subplots

import zerosim
from zerosim.dashboard.levers import (
    DEFAULT_DAYS,
    DEFAULT_POPULATION,
    MAX_POPULATION,
    POLICY_LEVERS,
    Levers,
    preset_values,
    validate_levers,
)
from zerosim.errors import InputError, ZerosimError
from zerosim.policy.presets import preset_names

POLL_MILLISECONDS = 500
CURVES = (  # timeseries column, panel title
    ("new_infections", "new infections per day"),
    ("cases_detected", "cases detected per day"),
    ("sealed", "people in sealed zones"),
)
LEVER_IDS = ("scenario", "policy", "population_size", "duration_days") + POLICY_LEVERS


# -- runs in a background thread ---------------------------------------------------------------
@dataclass
class Job:
    """One run: its progress, then its results or its one-line error."""

    id: str
    label: str
    days: int
    phase: str = "queued"
    days_done: int = 0
    done: bool = False
    summary: dict | None = None
    curves: dict[str, list] = field(default_factory=dict)
    error: str | None = None


class Runner:
    """Runs one simulation at a time in a thread; keeps the latest job and the one finished before it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.previous: Job | None = None   # the last finished run before the current one
        self.latest: Job | None = None

    def busy(self) -> bool:
        with self._lock:
            return self.latest is not None and not self.latest.done

    def start(self, scenario: zerosim.Scenario, label: str) -> Job | None:
        """Start a run of ``scenario``; None if another run is still going."""
        with self._lock:
            if self.latest is not None and not self.latest.done:
                return None
            if self.latest is not None and self.latest.summary is not None:
                self.previous = self.latest
            job = Job(id=uuid.uuid4().hex, label=label, days=scenario.duration_days)
            self.jobs = {job.id: job} | ({self.previous.id: self.previous} if self.previous else {})
            self.latest = job
        threading.Thread(target=self._run, args=(job, scenario), name=f"zerosim-run-{job.id[:8]}", daemon=True).start()
        return job

    def _run(self, job: Job, scenario: zerosim.Scenario) -> None:
        def on_phase(phase: str) -> None:
            job.phase = phase

        def on_day(day: int) -> None:
            job.days_done = day + 1

        try:
            results = zerosim.run(scenario, on_phase=on_phase, on_day=on_day)
        except ZerosimError as error:
            job.error = str(error)
        except Exception as error:  # a bug: say so on the page; re-raised, so the thread prints the traceback
            job.error = f"internal error ({error.__class__.__name__}: {error}); this is a bug, see the server log"
            raise
        else:
            frame = results.timeseries
            job.curves = {"day": frame["day"].tolist()} | {
                column: (frame[column].tolist() if column in frame else [0] * len(frame)) for column, _ in CURVES
            }
            job.summary = results.summary
            job.phase = "finished"
        finally:
            job.done = True


# -- what the page shows -----------------------------------------------------------------------
def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _label(key: str) -> str:
    """``income_lost_cny`` -> ``income lost (CNY)``."""
    text = key.removesuffix("_cny").replace("_", " ").replace("non covid", "non-COVID")
    return f"{text} (CNY)" if key.endswith("_cny") else text


def curves_figure(job: Job | None) -> go.Figure:
    """Three stacked panels sharing the day axis (an empty frame before the first run)."""
    figure = make_subplots(rows=len(CURVES), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=[title for _, title in CURVES])
    if job is not None and job.curves:
        for row, (column, title) in enumerate(CURVES, start=1):
            figure.add_trace(go.Scatter(x=job.curves["day"], y=job.curves[column], name=title, mode="lines",
                                        line={"width": 2}), row=row, col=1)
    figure.update_layout(height=560, showlegend=False, margin={"l": 60, "r": 20, "t": 40, "b": 40},
                         template="plotly_white")
    figure.update_xaxes(title_text="day", row=len(CURVES), col=1)
    return figure


def headline(job: Job) -> str:
    summary = job.summary or {}
    return (
        f"{job.label}: infections {_number(summary.get('infections', 0))} · "
        f"deaths {_number(summary.get('deaths', 0))} · "
        f"cases detected {_number(summary.get('cases_detected', 0))} · "
        f"peak sealed {_number(summary.get('peak_sealed_population', 0))} · "
        f"{summary.get('runtime_seconds', 0):.1f} s"
    )


def ledger_table(job: Job, previous: Job | None) -> html.Table:
    """Every scalar ledger total of ``job``, beside the previous run's (sub-totals by sector are left out)."""
    current = (job.summary or {}).get("ledger", {})
    before = (previous.summary or {}).get("ledger", {}) if previous is not None else {}
    header = [html.Th("ledger total"), html.Th(f"this run ({job.label})")]
    if previous is not None:
        header.append(html.Th(f"previous run ({previous.label})"))
    rows = []
    for key in ("infections", "deaths"):
        cells = [html.Td(key), html.Td(_number(job.summary.get(key)), className="number")]
        if previous is not None:
            cells.append(html.Td(_number(previous.summary.get(key)), className="number"))
        rows.append(html.Tr(cells, className="epidemic"))
    for key, value in current.items():
        if isinstance(value, dict):
            continue
        cells = [html.Td(_label(key)), html.Td(_number(value), className="number", id=f"ledger-{key}")]
        if previous is not None:
            cells.append(html.Td(_number(before.get(key, "")), className="number"))
        rows.append(html.Tr(cells))
    return html.Table([html.Thead(html.Tr(header)), html.Tbody(rows)], className="ledger")


# -- the page ----------------------------------------------------------------------------------
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
.page { display: flex; gap: 24px; padding: 16px 24px; }
.controls { flex: 0 0 300px; }
.results { flex: 1 1 auto; min-width: 0; }
h1 { font-size: 20px; margin: 12px 24px 0; }
.subtitle { margin: 2px 24px 0; color: #666; font-size: 13px; }
label { display: block; font-size: 13px; margin-top: 10px; color: #444; }
label small { color: #888; }
input[type=number] { width: 100%; box-sizing: border-box; padding: 4px 6px; font-size: 14px; }
button#run { margin-top: 16px; width: 100%; padding: 8px; font-size: 15px; background: #b3261e; color: white;
             border: none; border-radius: 4px; cursor: pointer; }
button#run:disabled { background: #999; cursor: default; }
progress { width: 100%; height: 14px; }
.error { color: #b3261e; font-weight: 600; margin: 6px 0; white-space: pre-wrap; }
.notes { color: #8a6d00; font-size: 13px; }
.headline { font-size: 15px; font-weight: 600; margin: 6px 0; }
table.ledger { border-collapse: collapse; font-size: 13px; margin-top: 8px; }
table.ledger th, table.ledger td { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; }
table.ledger td.number { text-align: right; font-variant-numeric: tabular-nums; }
table.ledger tr.epidemic td { font-weight: 600; }
"""


def _number_input(lever: str, label: str, hint: str = "", step: float | str = 1) -> html.Label:
    # no min/max in the browser: every value goes to the pydantic models, which name the field and the fix
    return html.Label([label, html.Small(f" {hint}") if hint else None,
                       dcc.Input(id=lever, type="number", step=step, debounce=True)])


def _layout() -> html.Div:
    scenarios = zerosim.builtin_names()
    return html.Div([
        html.H1("zerosim — containment levers and their cost"),
        html.Div("Runs at reduced scale on this machine. A lever left at its preset value changes nothing; "
                 "changing the scenario or preset reloads the preset's values.", className="subtitle"),
        html.Div([
            html.Div([
                html.Label(["scenario", dcc.Dropdown(id="scenario", options=scenarios, clearable=False,
                                                     value="demo" if "demo" in scenarios else scenarios[0])]),
                html.Label(["policy preset", dcc.Dropdown(id="policy", options=preset_names(), value="none",
                                                          clearable=False)]),
                _number_input("population_size", "people", f"(at most {MAX_POPULATION:,})", step=1000),
                _number_input("duration_days", "days"),
                html.Label(["pooling size", html.Small(" (samples per tube, every campaign)"),
                            dcc.Dropdown(id="pool_size", options=[1, 5, 10, 20], clearable=False)]),
                _number_input("interval_days", "testing interval", "(days between citywide rounds)"),
                _number_input("sealed_release_days", "sealed zone release", "(days without a case)"),
                _number_input("controlled_release_days", "controlled zone release", "(further days)"),
                _number_input("city_sealed_after_cases", "seal the city at", "(community cases; blank = never)"),
                _number_input("rooms_per_100k", "quarantine rooms", "(per 100k; blank = unlimited)", step="any"),
                _number_input("deliveries_per_day_per_100k", "food deliveries",
                              "(households per day per 100k)", step="any"),
                html.Button("Run", id="run", n_clicks=0),
            ], className="controls"),
            html.Div([
                html.Progress(id="progress", value="0", max="1"),
                html.Div("Set the levers and press Run.", id="status"),
                html.Div(id="error", className="error", role="alert"),
                html.Div(id="notes", className="notes"),
                html.Div(id="headline", className="headline"),
                dcc.Graph(id="curves", figure=curves_figure(None), config={"displaylogo": False}),
                html.Div(id="ledger"),
            ], className="results"),
        ], className="page"),
        dcc.Interval(id="poll", interval=POLL_MILLISECONDS, disabled=True),
        dcc.Store(id="job"),
    ])


_LOOPBACK_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?")


def is_loopback_host(header: str | None, port: int | None = None) -> bool:
    """True if a request's ``Host:`` header names this machine (a loopback name, and ``port`` if given)."""
    match = _LOOPBACK_HOST.fullmatch((header or "").strip().lower())
    if match is None:
        return False
    return port is None or match.group(2) is None or int(match.group(2)) == port


def create_app(port: int | None = None) -> Dash:
    """The dashboard as a Dash app (``app.server`` is its Flask server).

    Requests whose ``Host:`` header is not a loopback name (with ``port``, when given) get 403.
    """
    app = Dash(__name__, title="zerosim dashboard", update_title=None, serve_locally=True)

    @app.server.before_request
    def _only_this_machine():
        from flask import abort, request

        if not is_loopback_host(request.headers.get("Host"), port):
            abort(403, description="zerosim serve answers only requests to 127.0.0.1, localhost or [::1]")

    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + STYLE + "</style>")
    app.layout = _layout()
    runner = Runner()
    app.runner = runner  # for tests and for a future "stop" button

    @app.callback(
        [Output(lever, "value") for lever in ("population_size", "duration_days") + POLICY_LEVERS]
        + [Output("error", "children", allow_duplicate=True)],
        Input("scenario", "value"),
        Input("policy", "value"),
        State("population_size", "value"),
        State("duration_days", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def load_preset(scenario, policy, population_size, duration_days):
        try:
            values = preset_values(scenario, policy)
        except ZerosimError as error:
            return [no_update] * (2 + len(POLICY_LEVERS)) + [str(error)]
        if population_size is None and duration_days is None:  # first load of the page
            base = zerosim.load_scenario(scenario)
            population_size = min(DEFAULT_POPULATION, base.population.size)
            duration_days = min(DEFAULT_DAYS, base.duration_days)
        return [population_size, duration_days] + [values[name] for name in POLICY_LEVERS] + [""]

    @app.callback(
        Output("job", "data"),
        Output("poll", "disabled"),
        Output("run", "disabled"),
        Output("progress", "value"),
        Output("progress", "max"),
        Output("status", "children"),
        Output("error", "children"),
        Output("notes", "children"),
        Output("headline", "children"),
        Output("curves", "figure"),
        Output("ledger", "children"),
        Input("run", "n_clicks"),
        Input("poll", "n_intervals"),
        State("job", "data"),
        *[State(lever, "value") for lever in LEVER_IDS],
        prevent_initial_call=True,
    )
    def run_or_poll(_clicks, _intervals, job_id, *values):
        keep = [no_update] * 11
        if ctx.triggered_id == "run":
            levers = Levers.from_mapping(dict(zip(LEVER_IDS, values)))
            scenario, _, notes, error = validate_levers(levers)
            if error is not None:
                return [no_update, no_update, no_update, no_update, no_update, "Not run: fix the value below.",
                        f"error: {error}", "", no_update, no_update, no_update]
            label = f"{levers.policy}, {scenario.population.size:,} people, {scenario.duration_days} days"
            job = runner.start(scenario, label)
            if job is None:
                keep[5] = "A run is still going; wait for it to finish."
                return keep
            return [job.id, False, True, "0", str(job.days), "Starting…", "", "; ".join(notes),
                    no_update, no_update, no_update]
        job = runner.jobs.get(job_id)
        if job is None:
            return [None, True, False] + keep[3:]
        if not job.done:
            status = f"{job.phase}: day {job.days_done} of {job.days}" if job.days_done else f"{job.phase}…"
            return [no_update, False, True, str(job.days_done), str(job.days), status] + [no_update] * 5
        if job.error is not None:
            return [no_update, True, False, "0", str(job.days), "Run failed.", f"error: {job.error}",
                    no_update, no_update, no_update, no_update]
        previous = runner.previous if runner.previous is not job else None
        return [no_update, True, False, str(job.days), str(job.days), f"Finished: {job.label}.", "", no_update,
                headline(job), curves_figure(job), ledger_table(job, previous)]

    return app


def _check_port_free(host: str, port: int) -> None:
    """One-line ZerosimError if ``host:port`` cannot be listened on (Werkzeug would print and exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise InputError(
                f"--port: cannot listen on {host}:{port} ({error.strerror or error}); pick a free port with --port"
            ) from None


def serve(host: str = "127.0.0.1", port: int = 8050, *, debug: bool = False) -> None:
    """Serve the dashboard on ``host:port`` until interrupted (loopback addresses only)."""
    from zerosim.dashboard import check_loopback

    check_loopback(host)
    _check_port_free(host, port)
    create_app(port=port).run(host=host, port=port, debug=debug)
