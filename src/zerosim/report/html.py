"""Report layer: ``write_report`` -- one self-contained HTML page from finished run directories.

Layer ``report`` -- imports ``io`` (the run-directory contract and ``io.compare``), ``viz`` (the figures,
drawn as SVG and inlined), ``ledger.config`` (the sources of the ledger's rates), ``errors``, pandas,
Matplotlib and PyYAML; never ``cli``, ``api``, ``engine`` or a live simulation.

It reads run directories only. ``summary.json`` is required (headline numbers, ``ledger`` totals, version,
scenario hash); every other file is optional, and a missing or unreadable one leaves its section with a
note instead of a figure. The page needs no network: the stylesheet is inlined, figures are inline SVG
drawn by the ``viz`` functions, a forecast fan chart PNG becomes a data URI, and there is no script.

Usage::

    write_report([Path("results/dz")], Path("results/dz/report.html"))                    # one run
    write_report([Path("results/none"), Path("results/dz")], Path("report.html"), 0)      # compared
"""

from __future__ import annotations

import base64
import html
import itertools
import math
import re
import shlex
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from zerosim import __version__
from zerosim.disease.config import variant_label
from zerosim.errors import InputError, OutputDirError, OutputError, ScenarioError
from zerosim.io.compare import (
    LEDGER_PARAMETERS,
    LEDGER_UNITS,
    SUMMARY_MEASURES,
    Comparison,
    compare_runs,
    declared_measures,
    format_table,
    headline,
    readable,
)
from zerosim.io.results import RUN_FILES, SUMMARY_TOTALS, load_summary, write_atomic
from zerosim.io.safe_yaml import load_yaml
from zerosim.ledger.totals import LEDGER_GROUPS, LEDGER_TOTALS
from zerosim.report._style import CSS
from zerosim.viz import figures as run_figures
from zerosim.viz import ledger_figures

#: Optional tables of a run directory read for the report (``<name>.parquet``).
OPTIONAL_TABLES = ("timeseries", "by_district", "events", "pressure", "confinement_days")
#: Forecast fan chart files included when a run directory holds one (first found wins).
FAN_CHART_FILES = ("forecast_fan_chart.svg", "forecast_fan_chart.png")
#: Documents holding every default number and its source (paths in the repository).
SOURCE_DOCS = (
    ("docs/parameters.md", "population, transmission and run parameters"),
    ("docs/disease-parameters.md", "natural history of each variant"),
    ("docs/policies.md", "the containment rules and presets"),
    ("docs/ledger.md", "each ledger quantity, its rates, and the assumptions"),
)
#: What the resistance-pressure index is not (docs/ledger.md, section 1).
PRESSURE_CAVEAT = (
    "The resistance-pressure index is not a prediction of protest, unrest or any collective action. "
    "It only measures how many people carry long confinement and material hardship at the same time."
)
#: Matplotlib settings while drawing SVG: glyphs as paths (no font needed to view), stable clip-path ids.
_SVG_RC = {"svg.fonttype": "path", "svg.hashsalt": "zerosim-report"}

_SUMMARY_LABELS = {total.key: total.label for total in SUMMARY_TOTALS}

#: Ledger totals: key -> (group, plain label, shown indented under the row above), from the ledger's
#: declaration (zerosim.ledger.totals). Keys not listed go to "Other" with their name spelled out.
_LEDGER_LABELS: dict[str, tuple[str, str, bool]] = {total.key: (total.group, total.label, total.part)
                                                     for total in LEDGER_TOTALS}
_LEDGER_GROUPS = LEDGER_GROUPS
#: Units of the parameters echoed in the ledger object (not in compare's units of totals).
_EXTRA_UNITS = {total.key: total.unit for total in LEDGER_TOTALS if total.parameter}
#: Behaviour fields the ledger reads even when the behaviour model is off (api.build passes it to the ledger).
_BEHAVIOUR_FIELDS_ALWAYS_USED = frozenset({"behaviour.pressure_confined_days"})


# -- reading ------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """One run directory as read for the report; a table is None when its file is missing or unreadable."""

    path: Path
    summary: dict
    scenario: dict
    tables: dict[str, pd.DataFrame | None]
    notes: list[str] = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def ledger(self) -> dict:
        ledger = self.summary.get("ledger")
        return ledger if isinstance(ledger, dict) else {}

    @property
    def has_policy(self) -> bool:
        return str(self.summary.get("policy", "none")) != "none"


def _load_run(path: Path) -> _Run:
    """Read a run directory; only a missing directory or summary.json is an error."""
    path = Path(path)
    summary = load_summary(path)
    notes: list[str] = []
    scenario: dict = {}
    scenario_path = path / "scenario.yaml"
    if scenario_path.is_file():
        try:
            loaded = load_yaml(scenario_path.read_text(encoding="utf-8"), str(scenario_path))
            scenario = loaded if isinstance(loaded, dict) else {}
        except (OSError, UnicodeDecodeError, ScenarioError) as error:
            notes.append(f"scenario.yaml is unreadable ({error.__class__.__name__})")
    else:
        notes.append("scenario.yaml is missing (the scenario is described from summary.json only)")
    tables: dict[str, pd.DataFrame | None] = {}
    for name in OPTIONAL_TABLES:
        file = path / f"{name}.parquet"
        tables[name] = None
        if not file.is_file():
            if name in ("timeseries", "by_district"):
                notes.append(f"{file.name} is missing (its figures are left out)")
            continue
        try:
            tables[name] = pd.read_parquet(file)
        except (OSError, ValueError) as error:
            notes.append(f"{file.name} is unreadable ({error.__class__.__name__}; its figures are left out)")
    return _Run(path=path, summary=summary, scenario=scenario, tables=tables, notes=notes)


# -- small formatting helpers ---------------------------------------------------------------------------
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any, unit: str = "") -> str:
    """A number for a table cell (HTML): ``31,865,444 (31.9 million)``, ``21.0%``, ``5.24``, ``n/a``."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not _is_number(value):
        return _esc(value)
    number = float(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if unit == "fraction":
        percent = 100 * number
        return f"{percent:.1f}%" if percent == 0 or abs(percent) >= 0.1 else f"{percent:.2g}%"
    if number.is_integer() or abs(number) >= 100:
        text = f"{number:,.0f}"
    elif abs(number) >= 10:
        text = f"{number:,.1f}"
    else:
        text = f"{number:.3g}"
    if abs(number) >= 1e6:
        text += f' <span class="muted">({_esc(readable(number))})</span>'
    return text


def _percent(share: float) -> str:
    return _number(share, "fraction")


def _unit(key: str) -> str:
    """Unit of a ledger total (as ``io.compare`` gives it), from its key or its suffix."""
    base = key.split(".", 1)[0]
    if key in _EXTRA_UNITS or base in _EXTRA_UNITS:
        return _EXTRA_UNITS.get(key) or _EXTRA_UNITS[base]
    if key in LEDGER_UNITS or base in LEDGER_UNITS:
        return LEDGER_UNITS.get(key) or LEDGER_UNITS[base]
    if key in SUMMARY_MEASURES:
        return SUMMARY_MEASURES[key]
    for suffix, unit in (("_person_days", "person-days"), ("_store_days", "store-days"), ("_cny", "CNY"),
                         ("_hours", "hours"), ("_days", "days"), ("_deaths", "deaths"), ("_fraction", "fraction")):
        if base.endswith(suffix):
            return unit
    return "count"


def _spelled(key: str) -> str:
    text = key.replace("_", " ").replace(".", ": ")
    return text[:1].upper() + text[1:]


def _measure_label(key: str, declared: dict[str, dict] | None = None) -> str:
    """Plain label of a comparison measure: summary, declared by a component (``declared``, from
    :func:`zerosim.io.compare.declared_measures`), ledger total or ``ledger_dict.part``."""
    if key in _SUMMARY_LABELS:
        return _SUMMARY_LABELS[key]
    if declared and key in declared:
        return declared[key]["label"][:1].upper() + declared[key]["label"][1:]
    base, _, part = key.partition(".")
    label = _LEDGER_LABELS.get(base, ("", _spelled(base), False))[1]
    return f"{label}: {part.replace('_', ' ')}" if part else label


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _short_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _start_date(run: _Run) -> date | None:
    start = _as_date(run.scenario.get("start_date"))
    timeseries = run.table("timeseries")
    if start is None and timeseries is not None and "date" in timeseries and len(timeseries):
        first = pd.Timestamp(timeseries["date"].iloc[0])
        start = None if pd.isna(first) else first.date()
    return start


def _day(run: _Run, day: Any) -> str:
    """``day 3 (4 Mar 2022)`` when the run has a start date, else ``day 3``."""
    start = _start_date(run)
    try:
        number = int(day)
    except (TypeError, ValueError):
        return _esc(day)
    if start is None:
        return f"day {number}"
    return f"day {number} ({_short_date(start + timedelta(days=number))})"


def _note(text: str, kind: str = "note") -> str:
    return f'<p class="{kind}">{text}</p>'


def _table(headers: Sequence[tuple[str, str]], rows: Sequence[str], caption: str = "") -> str:
    """An HTML table from header (text, css class) pairs and pre-rendered ``<tr>`` rows."""
    head = "".join(f'<th class="{css}" scope="col">{_esc(text)}</th>' for text, css in headers)
    caption_html = f"<caption>{caption}</caption>" if caption else ""
    return (f'<div class="table-wrap"><table>{caption_html}<thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _row(*cells: tuple[str, str], css: str = "") -> str:
    """A ``<tr>`` from (html, css class) cells."""
    attribute = f' class="{css}"' if css else ""
    return f"<tr{attribute}>" + "".join(f'<td class="{c}">{h}</td>' if c else f"<td>{h}</td>" for h, c in cells) + "</tr>"


def _flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``{"food": {"stock_days_mean": 10}}`` -> ``food.stock_days_mean``)."""
    flat: dict[str, Any] = {}
    if not isinstance(mapping, dict):
        return flat
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _has_columns(frame: pd.DataFrame | None, *columns: str) -> bool:
    return frame is not None and len(frame) > 0 and set(columns) <= set(frame.columns)


def _any_positive(frame: pd.DataFrame | None, *columns: str) -> bool:
    if frame is None:
        return False
    present = [c for c in columns if c in frame.columns]
    return any(float(pd.to_numeric(frame[c], errors="coerce").fillna(0).abs().sum()) > 0 for c in present)


# -- SVG figures ------------------------------------------------------------------------------------------
_XML_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.DOTALL)
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_SVG_STYLE = re.compile(r"<style[^>]*>.*?</style>\s*", re.DOTALL)
_SVG_ID = re.compile(r'(?<=\s)id="([^"]+)"')
_SVG_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')


def inline_svg(text: str, prefix: str, label: str) -> str:
    """An SVG document as an element to paste into HTML.

    Drops the XML prolog, DOCTYPE, metadata and the global ``<style>`` (the page's CSS carries it);
    prefixes every ``id`` and its references with ``prefix`` so several figures on one page cannot
    collide; drops the fixed width/height (the page scales figures by their viewBox); labels it.
    """
    text = _SVG_STYLE.sub("", _SVG_METADATA.sub("", _XML_PROLOG.sub("", text))).strip()
    ids = set(_SVG_ID.findall(text))
    text = _SVG_ID.sub(lambda match: f'id="{prefix}{match.group(1)}"', text)
    text = _SVG_REFERENCE.sub(
        lambda match: match.group(1) + (prefix if match.group(2) in ids else "") + match.group(2), text)
    start = text.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    end = text.index(">", start)
    root = re.sub(r'\s(?:width|height)="[^"]*"', "", text[start:end])
    root += f' role="img" aria-label="{_esc(label)}"'
    return root + text[end:]


class _Page:
    """Collects the table of contents and numbers the figures while sections are built."""

    def __init__(self) -> None:
        self.toc: list[tuple[int, str, str]] = []
        self._figure_ids = itertools.count(1)
        self.figure_count = 0

    def id_prefix(self) -> str:
        """A fresh prefix for the ids of one inline SVG."""
        return f"f{next(self._figure_ids)}-"

    def heading(self, level: int, anchor: str, title: str, *, toc: bool = True) -> str:
        if toc:
            self.toc.append((level, anchor, title))
        return f'<h{level} id="{_esc(anchor)}">{_esc(title)}</h{level}>'

    def svg(self, draw: Callable[[Path], Any], label: str) -> str:
        """Run ``draw(path)`` (a ``viz`` function writing to ``path``) into a temporary .svg; return it inlined."""
        prefix = self.id_prefix()
        before = set(plt.get_fignums())
        try:
            with tempfile.TemporaryDirectory(prefix="zerosim-report-") as folder, matplotlib.rc_context(_SVG_RC):
                target = Path(folder) / "figure.svg"
                draw(target)
                text = target.read_text(encoding="utf-8")
        finally:
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
        return inline_svg(text, prefix, label)

    def figure(self, draw: Callable[[Path], Any], title: str, caption: str) -> str:
        """A numbered ``<figure>``; a note instead when the tables cannot make it. ``caption`` is HTML."""
        try:
            svg = self.svg(draw, title)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError, OSError) as error:
            return _note(f"The figure “{_esc(title)}” could not be drawn from this run's tables "
                         f"({_esc(error.__class__.__name__)}: {_esc(error)}).")
        return self._wrap(svg, title, caption)

    def _wrap(self, content: str, title: str, caption: str) -> str:
        self.figure_count += 1
        return (f"<figure>{content}<figcaption><b>Figure {self.figure_count}. {_esc(title)}.</b> {caption}"
                f"</figcaption></figure>")

    def raw_figure(self, content: str, title: str, caption: str) -> str:
        return self._wrap(content, title, caption)

    def toc_html(self) -> str:
        items: list[str] = []
        top = min((level for level, _, _ in self.toc), default=2)
        children: list[str] = []
        for level, anchor, title in self.toc:
            link = f'<a href="#{_esc(anchor)}">{_esc(title)}</a>'
            if level == top:
                if children and items:
                    items[-1] = items[-1].removesuffix("</li>") + f"<ol>{''.join(children)}</ol></li>"
                children = []
                items.append(f"<li>{link}</li>")
            elif level == top + 1:
                children.append(f"<li>{link}</li>")
        if children and items:
            items[-1] = items[-1].removesuffix("</li>") + f"<ol>{''.join(children)}</ol></li>"
        return f'<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>{"".join(items)}</ol></nav>'


# -- one run ------------------------------------------------------------------------------------------
def _run_name(run: _Run) -> str:
    return str(run.summary.get("scenario") or run.scenario.get("name") or run.path.name)


def _policy_words(run: _Run) -> str:
    policy = str(run.summary.get("policy") or run.scenario.get("policy") or "none")
    label = run.summary.get("policy_label")
    if policy == "none":
        return "no containment (preset <code>none</code>)"
    if label:
        return f"<b>{_esc(label)}</b> (preset <code>{_esc(policy)}</code>)"
    return f"the preset <code>{_esc(policy)}</code>"


def _seeding_words(seeding: Any) -> str:
    if not isinstance(seeding, list) or not seeding:
        return "n/a"
    parts = []
    for item in seeding:
        if isinstance(item, dict):
            where = f" in {_esc(item['district'])}" if item.get("district") else ""
            parts.append(f"{_number(item.get('count', 0))} infections{where} on day {_esc(item.get('day', 0))}")
    return "; ".join(parts) or "n/a"


def _scenario_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    summary, scenario = run.summary, run.scenario
    population = summary.get("population")
    days = summary.get("days")
    variant = str(summary.get("variant") or (scenario.get("disease") or {}).get("variant") or "unknown")
    variant_words = variant_label(variant)  # the preset's own label (disease/presets.yaml)
    start = _start_date(run)
    r0 = summary.get("r0")
    structure = [f"{_number(summary[key])} {words}" for key, words in (
        ("districts", "districts"), ("subdistricts", "subdistricts"), ("compounds", "residential compounds"),
        ("households", "households")) if _is_number(summary.get(key))]
    sentence = (
        f"A synthetic Shanghai-like city of <b>{_number(population)} people</b>"
        + (f" ({', '.join(structure)})" if structure else "")
        + f", followed for <b>{_number(days)} days</b>"
        + (f" from {_long_date(start)} (day 0)" if start else "")
        + f", with {_esc(variant_words)}"
        + (f" at R0 {_esc(f'{float(r0):g}')}" if _is_number(r0) else "")
        + f", under {_policy_words(run)}. Random seed {_esc(summary.get('seed', scenario.get('seed', 'n/a')))}."
    )
    behaviour = scenario.get("behaviour") if isinstance(scenario.get("behaviour"), dict) else {}
    facts = [
        ("Scenario", f"<code>{_esc(_run_name(run))}</code>"),
        ("Description", (_esc(scenario.get("description")) + ' <span class="muted small">(the scenario file\'s own '
                         "words; overrides given on the command line are not in them, the facts here are what "
                         "ran)</span>") if scenario.get("description") else "—"),
        ("Population", f"{_number(population)} people"),
        ("Days simulated", _number(days)),
        ("Start date (day 0)", _long_date(start) if start else "not set (days are numbered from 0)"),
        ("Variant", _esc(variant_words) + f" <span class=\"muted\">(<code>{_esc(variant)}</code>)</span>"),
        ("R0", _esc(f"{float(r0):g}") if _is_number(r0) else "n/a"),
        ("Policy", _policy_words(run)),
        ("Seed", _esc(summary.get("seed", scenario.get("seed", "n/a")))),
        ("Seeded infections", _seeding_words(scenario.get("seeding"))),
        ("Behaviour model", "on: compliance falls with fatigue and hunger" if behaviour.get("enabled")
         else "off: everyone complies with every order"),
    ]
    for section, words in (("containment", "Changes to the policy preset"), ("ledger", "Changes to ledger rates"),
                           ("behaviour", "Changes to the behaviour model")):
        overrides = _flatten(scenario.get(section))
        if overrides:
            listed = ", ".join(f"<code>{_esc(k)} = {_esc(v)}</code>" for k, v in overrides.items())
            facts.append((words, listed))
    rows = "".join(f"<dt>{_esc(name)}</dt><dd>{value}</dd>" for name, value in facts)
    notes = "".join(_note(f"This run directory is incomplete: {_esc(text)}.") for text in run.notes)
    return (page.heading(level, anchor, "The scenario") + f"<p>{sentence}</p>" + notes
            + f'<dl class="facts">{rows}</dl>')


def _card(label: str, value: str, sub: str = "", css: str = "card") -> str:
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return f'<div class="{css}"><div class="value">{value}</div><div class="label">{_esc(label)}</div>{sub_html}</div>'


def _headline_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    summary, ledger = run.summary, run.ledger
    population = summary.get("population") or 0
    infections = summary.get("infections")
    attack = summary.get("attack_rate")
    detected = summary.get("cases_detected")
    sealed = summary.get("peak_sealed_population")

    def of_population(value: Any) -> str:
        return f"{_percent(value / population)} of residents" if _is_number(value) and population else ""

    cards = [
        _card("Infections", _esc(readable(infections)), "including the seeded ones"),
        _card("Attack rate", _percent(attack) if _is_number(attack) else "n/a", f"of {_number(population)} residents"),
        _card("COVID deaths", _esc(readable(summary.get("deaths")))),
        _card("Cases detected", _esc(readable(detected)),
              f"{_percent(detected / infections)} of infections" if _is_number(detected) and infections else ""),
        _card("Peak population sealed", _esc(readable(sealed)), of_population(sealed)),
        _card("Days whole city sealed", _esc(readable(summary.get("city_sealed_days")))),
    ]
    costs = []
    for key, label in (("confined_person_days", "Person-days confined"), ("income_lost_cny", "Income lost"),
                       ("food_shortfall_person_days", "Person-days without food"),
                       ("excess_non_covid_deaths", "Excess non-COVID deaths")):
        if _is_number(ledger.get(key)):
            value = readable(ledger[key], _unit(key))
            costs.append(_card(label, _esc(value), "from the ledger", css="card cost"))
    from zerosim.io.explain import explain_run

    why = explain_run(summary, run.table("timeseries"), run.table("events"))
    explained = ("<h4>Why these numbers</h4><ul>" + "".join(f"<li>{_esc(sentence)}</li>" for sentence in why)
                 + "</ul>") if why else ""
    return (page.heading(level, anchor, "Headline numbers") + f'<div class="cards">{"".join(cards)}</div>'
            + (f'<div class="cards">{"".join(costs)}</div>' if costs else "") + explained)


def _epidemic_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    timeseries = run.table("timeseries")
    heading = page.heading(level, anchor, "Epidemic curve")
    if not _has_columns(timeseries, "infectious", "new_infections", "new_deaths"):
        return heading + _note("No epidemic curve: this run directory has no usable <code>timeseries.parquet</code>.")
    summary = run.summary
    peak = summary.get("peak_infectious")
    text = (f"<p>Infections peaked on {_day(run, summary.get('peak_infectious_day', 0))}"
            + (f" with {_number(peak)} people infectious at once" if _is_number(peak) else "") + ".</p>")
    return heading + text + page.figure(
        lambda path: run_figures.epidemic_curve(timeseries, summary, path), "Epidemic curve",
        "New infections per day (red line) and people infectious (shaded); deaths per day below. "
        "These are all infections in the model, detected or not.")


def _testing_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    timeseries = run.table("timeseries")
    heading = page.heading(level, anchor, "Testing and lab backlog")
    columns = ("tests_swabbed", "tubes_processed", "lab_backlog", "cases_detected", "new_infections")
    if not _has_columns(timeseries, *columns):
        return heading + _note("No testing figure: the timeseries has no testing columns.")
    if not _any_positive(timeseries, "tests_swabbed", "tubes_processed", "cases_detected"):
        why = "policy <code>none</code> tests nobody" if not run.has_policy else "no test was taken"
        return heading + _note(f"No testing in this run ({why}).")
    summary = run.summary
    text = (f"<p>{_number(summary.get('tests_swabbed'))} swabs taken and {_number(summary.get('tubes_processed'))} "
            f"tubes processed; {_number(summary.get('cases_detected'))} cases detected, "
            f"{_number(summary.get('false_positives'))} false-positive tubes; the lab backlog peaked at "
            f"{_number(summary.get('max_lab_backlog'))} tubes.</p>")
    return heading + text + page.figure(
        lambda path: run_figures.testing_and_backlog(timeseries, summary, path), "Testing and lab backlog",
        "People swabbed and tubes processed per day, and tubes waiting in the lab (backlog); below, cases "
        "detected per day against true new infections.")


def _zones_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    timeseries = run.table("timeseries")
    heading = page.heading(level, anchor, "People by zone level")
    columns = ("sealed", "controlled", "precaution", "in_isolation", "in_quarantine")
    if not _has_columns(timeseries, *columns):
        return heading + _note("No zone figure: the timeseries has no zone columns.")
    if not _any_positive(timeseries, *columns):
        return heading + _note("Nobody lived in a sealed, controlled or precaution zone, and nobody was isolated "
                               "or quarantined in this run.")
    summary = run.summary
    return heading + page.figure(
        lambda path: run_figures.people_by_zone(timeseries, summary, path), "People by zone level",
        "Share of residents living in sealed (may not leave home), controlled (may not leave the compound) and "
        "precaution zones, stacked; the line adds people in isolation or quarantine.")


def _grid_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    by_district = run.table("by_district")
    title = "Districts under lockdown (schematic grid, not a map)"
    heading = page.heading(level, anchor, title)
    if not _has_columns(by_district, "day", "district", "sealed", "controlled"):
        return heading + _note("No lockdown grid: the district table has no zone columns "
                               + ("(policy <code>none</code> seals nothing)." if not run.has_policy else "."))
    if not _any_positive(by_district, "sealed", "controlled"):
        return heading + _note("No district had residents sealed or controlled in this run.")
    population = run.summary.get("population_by_district") or {}
    return heading + page.figure(
        lambda path: run_figures.district_zone_grid(by_district, population, path, start_date=_start_date(run)), title,
        "A schematic grid, <b>not a map</b>: one row per district (largest first), one column per day; the colour "
        "is the share of the district's residents sealed plus half of those controlled.")


def _districts_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    by_district = run.table("by_district")
    heading = page.heading(level, anchor, "Infections by district")
    if not _has_columns(by_district, "day", "district", "new_infections"):
        return heading + _note("No district figure: this run directory has no usable <code>by_district.parquet</code>.")
    population = run.summary.get("population_by_district") or {}
    figure = page.figure(
        lambda path: run_figures.infections_by_district(by_district, population, path, start_date=_start_date(run)),
        "Infections by district",
        "Left: new infections per 100,000 residents by district (rows) and day (columns), a schematic grid, "
        "not a map. Right: each district's attack rate.")
    sums = by_district.groupby("district", sort=False)[[c for c in ("new_infections", "new_deaths")
                                                        if c in by_district.columns]].sum()
    rows = []
    for district, values in sums.iterrows():
        residents = population.get(str(district))
        infections = values.get("new_infections", 0)
        rate = _percent(infections / residents) if residents else "n/a"
        rows.append(_row((_esc(district), ""), (_number(residents), "num"), (_number(int(infections)), "num"),
                         (rate, "num"), (_number(int(values.get("new_deaths", 0))), "num")))
    table = _table([("District", ""), ("Residents", "num"), ("Infections", "num"), ("Attack rate", "num"),
                    ("COVID deaths", "num")], rows, "Totals over the run, by district of residence")
    return heading + figure + table


def _ledger_rows(ledger: dict) -> str:
    """Every total of ``summary.json → ledger`` as table rows, grouped, dict totals expanded."""
    grouped: dict[str, list[str]] = {group: [] for group in _LEDGER_GROUPS}
    compared: list[str] = []
    for key, value in ledger.items():
        group, label, sub = _LEDGER_LABELS.get(key, ("Other", _spelled(key), False))
        if key == "per_averted" and isinstance(value, dict):
            compared += _per_averted_rows(value)
            continue
        if isinstance(value, dict):
            grouped[group].append(_row((_esc(label), ""), (f"<code>{_esc(key)}</code>", "key"), ("", "num"),
                                       (_esc(_unit(key)), "unit")))
            for part, number in _flatten(value).items():
                grouped[group].append(_row((_esc(part.replace("_", " ")), ""),
                                           (f"<code>{_esc(key)}.{_esc(part)}</code>", "key"),
                                           (_number(number, _unit(key)), "num"), (_esc(_unit(key)), "unit"), css="sub"))
            continue
        if isinstance(value, list):
            shown = "; ".join(str(item) for item in value) or "—"
            grouped[group].append(_row((_esc(label), ""), (f"<code>{_esc(key)}</code>", "key"), (_esc(shown), ""),
                                       ("", "")))
            continue
        unit = _unit(key)
        if key in LEDGER_PARAMETERS and key not in _EXTRA_UNITS:
            unit += " (parameter)"
        grouped[group].append(_row((_esc(label), ""), (f"<code>{_esc(key)}</code>", "key"),
                                   (_number(value, unit), "num"), (_esc(unit), "unit"), css="sub" if sub else ""))
    rows = []
    for group in _LEDGER_GROUPS:
        if grouped[group]:
            rows.append(f'<tr class="group"><th colspan="4" scope="rowgroup">{_esc(group)}</th></tr>')
            rows += grouped[group]
    if compared:
        rows.append('<tr class="group"><th colspan="4" scope="rowgroup">Compared with a baseline run</th></tr>')
        rows += compared
    return "".join(rows)


def _per_averted_rows(per_averted: dict) -> list[str]:
    rows = []
    if per_averted.get("baseline") is not None:
        rows.append(_row(("Baseline run", ""), ("<code>per_averted.baseline</code>", "key"),
                         (f"<code>{_esc(per_averted['baseline'])}</code>", ""), ("", "")))
    for warning in per_averted.get("warnings") or []:
        rows.append(_row(("Warning", ""), ("<code>per_averted.warnings</code>", "key"), (_esc(warning), ""), ("", "")))
    for cost, values in per_averted.items():
        if not isinstance(values, dict):
            continue
        unit = str(values.get("unit") or _unit(cost))
        label = _LEDGER_LABELS.get(cost, ("", _spelled(cost), False))[1]
        for part, words, part_unit in (
            ("extra_cost", f"{label}: more than the baseline", unit),
            ("per_infection_averted", f"{label}: per infection averted", f"{unit} per infection averted"),
            ("per_death_averted", f"{label}: per death averted", f"{unit} per death averted"),
        ):
            rows.append(_row((_esc(words), ""), (f"<code>per_averted.{_esc(cost)}.{part}</code>", "key"),
                             (_number(values.get(part)), "num"), (_esc(part_unit), "")))
    return rows


def _ledger_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    ledger, summary = run.ledger, run.summary
    heading = page.heading(level, anchor, "The ledger: what containment cost")
    if not ledger:
        return heading + _note("This run's summary.json has no <code>ledger</code> object (written by an older "
                               "zerosim); re-run the scenario to count its costs.")
    intro = ("<p>Everything the ledger counted over the run (<code>summary.json → ledger</code>), with units. "
             "Money is in current CNY. Definitions, rates and their sources are in <code>docs/ledger.md</code>; "
             "daily values by district are in <code>ledger.parquet</code>.</p>")
    table = _table([("Quantity", ""), ("Key", ""), ("Total", "num"), ("Unit", "")], [_ledger_rows(ledger)],
                   "The whole ledger of this run")
    timeseries = run.table("timeseries")
    timeseries = timeseries if timeseries is not None else pd.DataFrame()
    confinement = run.table("confinement_days")
    pressure = run.table("pressure")
    sub = level + 1
    parts = [heading, intro, table]

    parts.append(page.heading(sub, f"{anchor}-confinement", "Confinement", toc=False))
    if confinement is not None and "longest_confinement_days" in confinement \
            and (confinement["longest_confinement_days"] > 0).any():
        parts.append(page.figure(
            lambda path: ledger_figures.confinement_distribution(confinement, summary, path),
            "How long people were confined",
            "Each confined person's longest unbroken confinement (home, compound or facility), with the median "
            "and the shares confined longer than 14, 28 and 60 days."))
    else:
        parts.append(_note("Nobody was confined in this run." if confinement is not None
                           else "No confinement figure: <code>confinement_days.parquet</code> is missing."))

    parts.append(page.heading(sub, f"{anchor}-food", "Food", toc=False))
    if _any_positive(timeseries, "ledger_food_shortfall_person_days", "ledger_households_ran_out_new"):
        parts.append(page.figure(
            lambda path: ledger_figures.food_shortfall(timeseries, summary, path), "Food shortfall",
            "People in confined households whose food ran out before a delivery came, per day; below, households "
            "that ran out (cumulative), elderly people living alone highlighted."))
    else:
        parts.append(_note("No household ran out of food in this run."))

    parts.append(page.heading(sub, f"{anchor}-income", "Income", toc=False))
    sectors = ledger.get("income_lost_cny_by_sector") or {}
    if any(_is_number(v) and v > 0 for v in sectors.values()) or (_is_number(ledger.get("income_lost_cny"))
                                                                  and ledger["income_lost_cny"] > 0):
        parts.append(page.figure(
            lambda path: ledger_figures.income_lost(summary, path), "Income lost",
            "Wages lost by workers kept from work (confined, without a green code, or their workplace closed; "
            "illness is not counted), by sector and by worker type."))
    else:
        parts.append(_note("No income was lost in this run."))

    parts.append(page.heading(sub, f"{anchor}-stores", "Small stores and restaurants", toc=False))
    if _any_positive(timeseries, "ledger_stores_closed", "ledger_stores_failed", "ledger_store_demand_lost"):
        parts.append(page.figure(
            lambda path: ledger_figures.stores(timeseries, summary, path), "Small stores and restaurants",
            "Stores closed each day and stores failed for good (cumulative); below, demand after reopening as a "
            "share of normal."))
    else:
        parts.append(_note("No small store or restaurant closed in this run."))

    parts.append(page.heading(sub, f"{anchor}-pressure", "Resistance pressure (not a prediction of protest)",
                              toc=False))
    parts.append(_note(_esc(PRESSURE_CAVEAT), "caveat"))
    if pressure is not None and "resistance_pressure" in pressure and len(pressure) \
            and float(pd.to_numeric(pressure["resistance_pressure"], errors="coerce").fillna(0).max()) > 0:
        parts.append(page.figure(
            lambda path: ledger_figures.resistance_pressure_map(pressure, path, start_date=_start_date(run)),
            "Resistance-pressure index by subdistrict and day",
            "Share of each subdistrict's residents confined long without a break whose household has no food or "
            "who cannot work; a schematic subdistrict × day grid, not a map. "
            "<b>Not a prediction of protest.</b>"))
    else:
        parts.append(_note("No subdistrict came under pressure in this run." if pressure is not None
                           else "No pressure figure: <code>pressure.parquet</code> is missing."))
    return "".join(parts)


def _events_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    events = run.table("events")
    heading = page.heading(level, anchor, "Zone events")
    if events is None:
        return heading + _note("No <code>events.parquet</code> in this run directory.")
    if events.empty or not {"day", "scope", "event"} <= set(events.columns):
        why = "policy <code>none</code> has no zoning" if not run.has_policy else "no zone changed"
        return heading + _note(f"No zone events in this run ({why}).")
    frame = events.assign(event=events["event"].astype(str), scope=events["scope"].astype(str))
    has_reason = "reason" in frame.columns
    rows = []
    grouped = frame.groupby(["event", "scope"], sort=False)
    order = sorted(grouped.groups, key=lambda key: (int(grouped.get_group(key)["day"].min()), key))
    for key in order:
        group = grouped.get_group(key)
        reasons = ""
        if has_reason:
            counts = group["reason"].astype(str).value_counts()
            reasons = "; ".join(f"{_esc(reason)} ({count})" if len(counts) > 1 else _esc(reason)
                                for reason, count in counts.head(3).items())
        rows.append(_row((_esc(key[0]), ""), (_esc(key[1]), ""), (_number(len(group)), "num"),
                         (_day(run, group["day"].min()), "when"), (_day(run, group["day"].max()), "when"),
                         (reasons, "")))
    summary_table = _table([("Event", ""), ("Scope", ""), ("Count", "num"), ("First", ""), ("Last", ""),
                            ("Reasons", "")], rows, "Zone changes counted by event and scope")
    text = (f"<p>{_number(len(frame))} zone changes, from {_day(run, frame['day'].min())} to "
            f"{_day(run, frame['day'].max())}. Every change, with its zone and reason, is in "
            f"<code>events.parquet</code>.</p>")
    wide = frame[frame["scope"].isin(["city", "district"])].sort_values("day", kind="stable")
    detail = ""
    if len(wide):
        shown = wide.head(60)
        detail_rows = [
            _row((_day(run, item.day), "when"), (_esc(item.scope), ""),
                 (_esc(getattr(item, "zone_name", "") or ""), ""), (_esc(item.event), ""),
                 (_esc(getattr(item, "reason", "") or ""), ""))
            for item in shown.itertuples(index=False)
        ]
        caption = "Whole-city and district events" + (f" (first 60 of {len(wide)})" if len(wide) > 60 else "")
        detail = _table([("Day", ""), ("Scope", ""), ("Zone", ""), ("Event", ""), ("Reason", "")], detail_rows,
                        caption)
    return heading + text + summary_table + detail


def _forecast_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    for name in FAN_CHART_FILES:
        path = run.path / name
        if not path.is_file():
            continue
        try:
            if path.suffix == ".svg":
                content = inline_svg(path.read_text(encoding="utf-8"), page.id_prefix(),
                                     "Forecast fan chart")
            else:
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                content = f'<img src="data:image/png;base64,{data}" alt="Forecast fan chart">'
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return page.heading(level, anchor, "Forecast") + _note(
                f"<code>{_esc(name)}</code> is unreadable ({_esc(error.__class__.__name__)}).")
        return page.heading(level, anchor, "Forecast") + page.raw_figure(
            content, "Forecast fan chart", f"From <code>{_esc(name)}</code> in the run directory.")
    return ""


def _reproduce_command(run: _Run) -> str:
    directory = run.path.resolve()
    command = ["zerosim", "run", str(directory / "scenario.yaml"), "--out", str(directory.with_name(directory.name
                                                                                                  + "-rerun"))]
    per_averted = run.ledger.get("per_averted")
    if isinstance(per_averted, dict) and per_averted.get("baseline"):
        command += ["--baseline", str(per_averted["baseline"])]
    return " ".join(shlex.quote(part) for part in command)


def _reproduce_section(page: _Page, run: _Run, level: int, anchor: str) -> str:
    summary = run.summary
    revision = summary.get("git_revision")
    facts = [
        ("zerosim version", f"<code>{_esc(summary.get('zerosim_version', 'unknown'))}</code>"),
        ("git revision", f"<code>{_esc(revision)}</code>" if revision
         else "unknown (not run from a git checkout)"),
        ("scenario hash", f"<code>{_esc(summary.get('scenario_hash', 'unknown'))}</code>"),
        ("seed", f"<code>{_esc(summary.get('seed', 'n/a'))}</code>"),
        ("run directory", f"<code>{_esc(run.path.resolve())}</code>"),
    ]
    if _is_number(summary.get("runtime_seconds")):
        facts.append(("runtime", f"{float(summary['runtime_seconds']):.1f} s"))
    rows = "".join(f"<dt>{_esc(name)}</dt><dd>{value}</dd>" for name, value in facts)
    return (page.heading(level, anchor, "Reproduce this run")
            + "<p>The run directory holds the fully resolved scenario; running it again with the same zerosim "
              "version and revision gives the same results (one seed drives every random stream; the scenario "
              "hash identifies the resolved scenario):</p>"
            + f"<pre><code>{_esc(_reproduce_command(run))}</code></pre>"
            + f'<dl class="facts">{rows}</dl>'
            + (f'<p class="small muted">To use the same code: <code>git checkout {_esc(revision)}</code> '
               f"(the revision does not record uncommitted changes).</p>" if revision else ""))


_RUN_SECTIONS: tuple[tuple[str, Callable[[_Page, _Run, int, str], str]], ...] = (
    ("scenario", _scenario_section),
    ("headline", _headline_section),
    ("epidemic", _epidemic_section),
    ("testing", _testing_section),
    ("zones", _zones_section),
    ("lockdown-grid", _grid_section),
    ("districts", _districts_section),
    ("ledger", _ledger_section),
    ("events", _events_section),
    ("forecast", _forecast_section),
    ("reproduce", _reproduce_section),
)


def _run_sections(page: _Page, run: _Run, level: int, prefix: str) -> str:
    return "".join(build(page, run, level, f"{prefix}{name}") for name, build in _RUN_SECTIONS)


# -- several runs ---------------------------------------------------------------------------------------
def _comparison_section(page: _Page, comparison: Comparison, runs: Sequence[_Run], anchor: str) -> str:
    parts = [page.heading(2, anchor, "Comparison")]
    base = comparison.names[comparison.baseline]
    parts.append(f"<p>Each run compared with the baseline, <b>{_esc(base)}</b>: totals side by side, then each "
                 f"run minus the baseline (<i>diff</i> columns; pp = percentage points).</p>")
    for warning in comparison.warnings:
        parts.append(_note(f"Note: {_esc(warning)}."))
    text = format_table(comparison)
    name_of = dict(zip(comparison.runs, comparison.names))
    base_run = comparison.baseline_run
    differences = {column: run for run, column in comparison.differences.items()}

    def header(column: str) -> str:
        if column in differences:
            return f"{name_of[differences[column]]} − {base}"
        return f"{name_of.get(column, column)} (baseline)" if column == base_run else name_of.get(column, column)

    headers = [("Measure", ""), ("Unit", "")] + [(header(str(column)), "num") for column in text.columns[1:]]
    rows = []
    declared = declared_measures(comparison.summaries)
    for measure, values in text.iterrows():
        cells = [(f'{_esc(_measure_label(str(measure), declared))}<span class="keyname">{_esc(measure)}</span>', ""),
                 (_esc(values["unit"]), "unit")]
        for column in text.columns[1:]:
            cells.append((_esc(values[column]), "num diff" if column in differences else "num"))
        rows.append(_row(*cells))
    parts.append(_table(headers, rows, "Every measure the runs report"))
    per = comparison.per_averted
    if len(per):
        per_rows = []
        for record in per.to_dict("records"):
            unit = str(record["unit"])
            per_rows.append(_row(
                (_esc(name_of.get(record["run"], record["run"])), "nowrap"), (_esc(_measure_label(str(record["cost"]))), ""),
                (_esc(readable(record["extra_cost"], unit)), "num"),
                (_esc(readable(record["per_infection_averted"], unit)), "num"),
                (_esc(readable(record["per_death_averted"], unit)), "num")))
        parts.append(_table([("Run", ""), ("Cost", ""), ("More than the baseline", "num"),
                             ("Per infection averted", "num"), ("Per death averted", "num")], per_rows,
                            "The main costs per infection and per death averted (n/a: none averted; "
                            "negative: averted harm and cost less)"))
    parts.append(page.figure(lambda path: ledger_figures.comparison_figure(comparison, path), "Runs compared",
                             "Infections, deaths and the main ledger lines of each run; the baseline is grey."))
    command = ["zerosim", "compare", *[str(run.path.resolve()) for run in runs], "--baseline",
               str(comparison.baseline)]
    parts.append("<p>The same comparison on the command line:</p>"
                 f"<pre><code>{_esc(' '.join(shlex.quote(part) for part in command))}</code></pre>")
    return "".join(parts)


# -- assumptions ---------------------------------------------------------------------------------------------
def _overridden_fields(runs: Sequence[_Run]) -> dict[str, list[str]]:
    """Ledger/behaviour field -> names of the runs whose scenario overrides it."""
    found: dict[str, list[str]] = {}
    for number, run in enumerate(runs, start=1):
        for section in ("ledger", "behaviour"):
            for key in _flatten(run.scenario.get(section)):
                label = f"run {number}" if len(runs) > 1 else "this run"
                found.setdefault(f"{section}.{key}", []).append(label)
    return found


def _assumptions_section(page: _Page, runs: Sequence[_Run], anchor: str) -> str:
    from zerosim.ledger.config import default_behaviour, default_sources

    docs = "".join(f"<li><code>{_esc(path)}</code>: {_esc(what)}</li>" for path, what in SOURCE_DOCS)
    parts = [
        page.heading(2, anchor, "Assumptions and sources"),
        ("<p>Every default number in zerosim has a source or is marked as an assumption. The tables, with "
         "values, ranges and citations, are in the repository:</p>"),
        f"<ul>{docs}</ul>",
    ]
    try:
        sources = default_sources()
    except (OSError, ValueError, KeyError) as error:
        return "".join(parts) + _note(f"The ledger's sources could not be read ({_esc(error.__class__.__name__)}).")
    overridden = _overridden_fields(runs)
    behaviour_on = any(bool((run.scenario.get("behaviour") or {}).get("enabled", default_behaviour().enabled))
                       for run in runs if isinstance(run.scenario.get("behaviour") or {}, dict))

    def rows_for(items: list[tuple[str, str]]) -> list[str]:
        rows = []
        for key, text in items:
            where = ", ".join(overridden.get(key, []))
            if where:
                used = f"changed in {where}"
            elif key.startswith("behaviour.") and key not in _BEHAVIOUR_FIELDS_ALWAYS_USED and not behaviour_on:
                used = "not used: behaviour model off"
            else:
                used = "default"
            rows.append(_row((f"<code>{_esc(key)}</code>", ""), (_esc(text), "source"), (_esc(used), "")))
        return rows

    stated = [(k, v) for k, v in sources.items() if str(v).lstrip().startswith("ASSUMPTION")]
    partly = [(k, v) for k, v in sources.items() if "ASSUMPTION" in str(v) and (k, v) not in stated]
    parts.append(f"<p>The ledger and behaviour rates (<code>src/zerosim/ledger/defaults.yaml</code>) have "
                 f"{len(sources)} sourced fields. <b>{len(stated)} are assumptions</b> (their source begins with "
                 f"ASSUMPTION); a further {len(partly)} are derived from data in part through an assumption. "
                 f"Results that depend on them should be read as conditional on them.</p>")
    headers = [("Field", ""), ("Assumption and its grounds", ""), ("Value used", "")]
    parts.append(_table(headers, rows_for(stated), "Assumptions (source begins with ASSUMPTION)"))
    if partly:
        parts.append(_table(headers, rows_for(partly), "Derived in part from an assumption"))
    return "".join(parts)


# -- the page ---------------------------------------------------------------------------------------------
def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta name=\"generator\" content=\"zerosim {_esc(__version__)}\">\n"
        f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def _target(out: Path) -> Path:
    """The HTML file to write: ``out`` itself, or ``out/report.html`` when ``out`` is (or looks like) a directory."""
    out = Path(out)
    if out.is_dir() or (not out.exists() and out.suffix == ""):
        return out / "report.html"
    return out


#: Suffixes of the data files a run, an ensemble or a comparison writes: a report never replaces one
#: unless forced (``zerosim report RUN --out RUN/summary.json`` would replace the run's summary with HTML).
PROTECTED_SUFFIXES = (".json", ".parquet", ".yaml", ".yml", ".png", ".npz", ".csv")


def write_report(run_dirs: Sequence[Path | str], out: Path | str, baseline: int = 0, force: bool = False) -> Path:
    """Write one self-contained HTML report of one run, or of several runs compared.

    Parameters
    ----------
    run_dirs : directories written by ``zerosim run``, at least one; with two or more the report opens with
        the trade-off sentence, the comparison table and figure, then a section per run
    out : the HTML file to write (overwritten if present); a directory, or a path without a suffix that does
        not exist yet, gets ``report.html`` inside it
    baseline : with several runs, the index of the run the others are compared with
    force : replace ``out`` even if it is one of a run's own files (summary.json, a table, a figure)

    Returns
    -------
    Path of the written HTML file.

    Raises
    ------
    OutputError
        A run directory or its summary.json is missing or unreadable, or ``out`` cannot be written.
    ZerosimError
        No run directory, or ``baseline`` is not a run index.
    """
    directories = [Path(directory) for directory in run_dirs]
    if not directories:
        raise InputError("report: no run directory given; give one or more directories written by zerosim run")
    target = _target(Path(out))
    if not force and target.exists() and (target.name in RUN_FILES and target.name != "report.html"
                                          or target.suffix.lower() in PROTECTED_SUFFIXES or target.is_dir()):
        raise OutputDirError(f"--out: '{target}' is a result file, not a report; give an .html path, or add --force "
                             "to replace it")
    if len(directories) == 1:  # an attribution or frontier folder (zerosim attribute / frontier) has a page of its own
        from zerosim.report.experiments import write_experiment_report

        written = write_experiment_report(directories[0], target)
        if written is not None:
            return written
    runs = [_load_run(directory) for directory in directories]
    comparison = compare_runs(directories, baseline=baseline) if len(runs) > 1 else None
    page = _Page()
    parts: list[str] = []
    if comparison is None:
        run = runs[0]
        title = f"{_run_name(run)}: {run.summary.get('policy_label') or run.summary.get('policy', 'none')}"
        lede = ""
        parts.append(_run_sections(page, run, 2, "run1-"))
    else:
        names = [f"{name} (baseline)" if i == comparison.baseline else name for i, name in enumerate(comparison.names)]
        title = f"{_run_name(runs[0])}: " + " vs ".join(names)
        lede = f'<p class="lede" id="trade-off">{_esc(headline(comparison))}</p>'
        parts.append(_comparison_section(page, comparison, runs, "comparison"))
        for i, (run, name) in enumerate(zip(runs, comparison.names)):
            suffix = " (baseline)" if i == comparison.baseline else ""
            anchor = f"run{i + 1}"
            parts.append(f'<section class="run" id="{anchor}-section">'
                         + page.heading(2, anchor, f"Run {i + 1}: {name}{suffix}")
                         + f'<p class="muted small">Run directory <code>{_esc(run.path)}</code></p>'
                         + _run_sections(page, run, 3, f"{anchor}-") + "</section>")
    parts.append(_assumptions_section(page, runs, "assumptions"))
    population = runs[0].summary.get("population")
    days = runs[0].summary.get("days")
    byline = (f"zerosim report · {_number(population)} people · {_number(days)} days · "
              f"{len(runs)} run{'s' if len(runs) > 1 else ''} · generated by zerosim {_esc(__version__)}")
    header = (f'<header class="page"><h1>{_esc(title)}</h1><p class="byline">{byline}</p></header>')
    footer = ("<footer>Made by <code>zerosim report</code> from the run directories' files only; everything on this "
              "page (styles and figures) is inside this one file.</footer>")
    body = header + lede + page.toc_html() + "".join(parts) + footer
    document = _document(f"zerosim report · {title}", body)

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, lambda path: path.write_text(document, encoding="utf-8"))
    except OSError as error:
        raise OutputError(f"--out: cannot write the report to '{target}' ({error.strerror or error.__class__.__name__}); "
                          f"choose a writable path") from None
    return target
