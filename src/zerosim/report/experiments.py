"""Report layer: the HTML page of an attribution folder (``zerosim attribute``) or a frontier folder
(``zerosim frontier``), made by ``zerosim report DIR`` like a run's page.

Layer ``report`` -- reads the folders' files only (``attribution.json`` and ``attribution.parquet``;
``frontier.json``, ``frontier.parquet`` and ``trials.parquet``) and draws their figures with the ``viz``
functions as inline SVG; never ``experiments``, ``api`` or a live simulation.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from zerosim.errors import OutputError, RunDirError
from zerosim.io.results import JSON_READ_ERRORS, read_json_bounded, write_atomic
from zerosim.numbers import words
from zerosim.viz.attribution_figures import attribution_waterfall, frontier_plot

#: The file that marks each kind of folder, and its ``kind``.
MARKERS = {"attribution.json": "attribution", "frontier.json": "frontier"}
_DOC = "docs/attribution.md"


def experiment_kind(folder: Path) -> str | None:
    """"attribution", "frontier" or None (a run folder, or anything else)."""
    for name, kind in MARKERS.items():
        if (Path(folder) / name).is_file() and not (Path(folder) / "summary.json").is_file():
            return kind
    return None


def _read(folder: Path, name: str) -> dict:
    try:
        document = read_json_bounded(folder / name)
    except JSON_READ_ERRORS as error:
        raise RunDirError(f"report: '{folder / name}' is unreadable ({error.__class__.__name__}); re-run the "
                          "command that wrote it") from None
    if not isinstance(document, dict):
        raise RunDirError(f"report: '{folder / name}' is not a JSON object; re-run the command that wrote it")
    return document


def _table_file(folder: Path, name: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(folder / name)
    except (OSError, ValueError) as error:
        raise RunDirError(f"report: '{folder / name}' is missing or unreadable ({error.__class__.__name__}); "
                          "re-run the command that wrote it") from None


def _value(value, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = words(value)
    return f"CNY {text}" if unit == "CNY" else text


def _share(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{100 * value:.0f} %"


def attribution_body(folder: Path) -> tuple[str, str]:
    """(title, HTML body) of an attribution folder's page."""
    from zerosim.report.html import _esc, _note, _Page, _row, _table

    meta = _read(folder, "attribution.json")
    table = _table_file(folder, "attribution.parquet")
    page = _Page()
    labels = meta.get("part_labels", {})
    title = f"{meta.get('scenario', folder.name)}: what each containment part bought and what it cost"
    parts = [f'<p class="lede">{"<br>".join(_esc(s[:1].upper() + s[1:]) + "." for s in meta.get("sentences", []))}</p>']
    facts = (f"{_esc(words(meta.get('population')))} people, {_esc(meta.get('days'))} days, policy "
             f"<code>{_esc(meta.get('policy'))}</code>; parts: {_esc(', '.join(meta.get('parts', [])))}; "
             f"{_esc(meta.get('method'))} Shapley values over {_esc(meta.get('arms'))} arms, "
             f"{len(meta.get('seeds', []))} seed(s) shared by every arm.")
    parts.append(page.heading(2, "attribution", "Attribution") + f"<p>{facts}</p>")
    totals = meta.get("totals", {})
    if len(table):
        parts.append(page.figure(lambda path: attribution_waterfall(table, totals, labels, path),
                                 "What each part bought and cost",
                                 "Each bar is a part's Shapley value with its 95 % interval over seeds; the last bar "
                                 "is all parts together (every part on minus every part off)."))
        rows = []
        for measure in dict.fromkeys(table["measure"]):
            info = totals.get(measure, {})
            unit = info.get("unit", "")
            for _, row in table[table["measure"] == measure].iterrows():
                rows.append(_row((_esc(info.get("label", measure)), ""), (_esc(labels.get(row["part"], row["part"])), ""),
                                 (_esc(_value(row["value"], unit)), "num"),
                                 (_esc(f"{_value(row['low'], unit)} – {_value(row['high'], unit)}"), "num"),
                                 (_esc(_share(row["share"])), "num")))
            rows.append(_row((_esc(info.get("label", measure)), ""), ("<b>all parts</b>", ""),
                             (f"<b>{_esc(_value(info.get('value'), unit))}</b>", "num"),
                             (_esc(f"{_value(info.get('low'), unit)} – {_value(info.get('high'), unit)}"), "num"),
                             ("100 %" if info.get("value") else "n/a", "num")))
        parts.append(_table([("Measure", ""), ("Part", ""), ("Value", "num"), ("95 % interval", "num"),
                             ("Share", "num")], rows,
                            "Averted measures count what a part prevented; the others what it cost."))
    else:
        parts.append(_note("No seed ran every arm: nothing could be attributed (see failures.json)."))
    off = meta.get("switch_off", {})
    method_rows = [_row((_esc(labels.get(part, part)), ""),
                        (_esc("; ".join(f"{key} = {value}" for key, value in overrides.items())), ""))
                   for part, overrides in off.items()]
    parts.append(page.heading(2, "method", "Method")
                 + "<p>Every subset of the parts is switched off (an <i>arm</i>), each arm runs the same seeds "
                   "(common random numbers), and the difference between all parts on and all off is split among the "
                   "parts by their Shapley values, which add up to it exactly. A part that changes nothing gets "
                   "zero; parts that play the same role get the same value. Switching a part off sets, in the "
                   "scenario's containment and in every timeline step's:</p>"
                 + _table([("Part", ""), ("Overrides", "")], method_rows)
                 + f"<p class=\"muted small\">Interval: {_esc(meta.get('interval', ''))}. Method and limits: "
                   f"<code>{_DOC}</code>.</p>")
    if meta.get("failures"):
        parts.append(_note(f"{len(meta['failures'])} arm run(s) failed; their seeds were left out."))
    return title, page.toc_html() + "".join(parts)


def frontier_body(folder: Path) -> tuple[str, str]:
    """(title, HTML body) of a frontier folder's page."""
    from zerosim.report.html import _esc, _Page, _row, _table

    meta = _read(folder, "frontier.json")
    frontier = _table_file(folder, "frontier.parquet")
    trials = _table_file(folder, "trials.parquet")
    page = _Page()
    objectives = meta.get("objectives", [])
    keys = [o["key"] for o in objectives]
    labels = {o["key"]: f"{o['label']} ({o['unit']})" for o in objectives}
    title = f"{meta.get('scenario', folder.name)}: frontier of " + " against ".join(o["label"].lower() for o in objectives)
    actual = meta.get("actual", {})
    inside = meta.get("inside", {})
    parts = [f'<p class="lede">{"<br>".join(_esc(s[:1].upper() + s[1:]) + "." for s in meta.get("sentences", []))}</p>']
    parts.append(page.heading(2, "frontier", "Frontier"))
    if len(frontier) and len(keys) >= 2:
        parts.append(page.figure(lambda path: frontier_plot(trials, frontier, actual, keys, labels, path,
                                                            closest=inside.get("closest")),
                                 "The non-dominated set found",
                                 "Grey: every trial; line: the points no other trial beats on every objective; star: "
                                 "the scenario's actual policy; ring: the frontier point with the smallest radial factor."))
    levers = [lever["path"] for lever in meta.get("levers", [])]
    factor = "n/a" if not isinstance(inside.get("factor"), (int, float)) else f"{inside['factor']:.2f}"
    headers = [("Point", "")] + [(path, "num") for path in levers] + [(labels[key], "num") for key in keys]
    rows = [_row((_esc(point["id"]), ""), *[(_esc(point[path]), "num") for path in levers],
                 *[(_esc(_value(point[key])), "num") for key in keys]) for _, point in frontier.iterrows()]
    rows.append(_row(("<b>actual policy</b>", ""), *[(_esc(actual.get(path)), "num") for path in levers],
                     *[(_esc(_value(actual.get(key))), "num") for key in keys]))
    parts.append(_table(headers, rows, "Each point's scenario is in <code>points/&lt;point&gt;.yaml</code>."))
    lever_rows = [_row((_esc(lever["path"]), ""),
                       (_esc(f"{lever['low']} to {lever['high']} ({lever['kind']})" if lever["kind"] != "choice"
                             else ", ".join(map(str, lever["choices"]))), "")) for lever in meta.get("levers", [])]
    parts.append(page.heading(2, "method", "Method")
                 + f"<p>{_esc(meta.get('trials'))} trials of Optuna's NSGA-II sampler (seed "
                   f"{_esc(meta.get('sampler_seed'))}, {_esc(meta.get('batch'))} trials per generation, run as Dask "
                   f"tasks); every trial runs the same {len(meta.get('seeds', []))} seed(s) and its objectives are the "
                   "means over them; all objectives are minimised. The frontier is the set of trials that no other "
                   "trial beats on every objective: the best this search found, not the model's true frontier, and "
                   "not a recommendation.</p>"
                 + _table([("Lever", ""), ("Searched", "")], lever_rows)
                 + f"<p>How far inside: {_esc(inside.get('definition', ''))}. Here t = {_esc(factor)}"
                   f" (point {_esc(inside.get('closest'))}).</p>"
                 + f"<p class=\"muted small\">Method and limits: <code>{_DOC}</code>.</p>")
    return title, page.toc_html() + "".join(parts)


def write_experiment_report(folder: Path, target: Path) -> Path | None:
    """Write the page of an attribution or frontier folder to ``target``; None when ``folder`` is neither."""
    from zerosim.report.html import _document

    kind = experiment_kind(folder)
    if kind is None:
        return None
    title, body = (attribution_body if kind == "attribution" else frontier_body)(Path(folder))
    from zerosim import __version__

    header = (f'<header class="page"><h1>{html.escape(title)}</h1><p class="byline">zerosim report · {kind} · generated by '
              f"zerosim {__version__}</p></header>")
    footer = ("<footer>Made by <code>zerosim report</code> from the folder's files only; everything on this page "
              "(styles and figures) is inside this one file.</footer>")
    document = _document(f"zerosim report · {title}", header + body + footer)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, lambda path: path.write_text(document, encoding="utf-8"))
    except OSError as error:
        raise OutputError(f"--out: cannot write the report to '{target}' ({error.strerror or error.__class__.__name__}); "
                          "choose a writable path") from None
    return target
