"""`zerosim report`: one self-contained HTML page from run directories (zerosim.report.write_report).

The runs are small real runs (20,000 people, 30 days) written once per module; the last tests open the
report in headless Chromium when it is installed: the page renders (a screenshot that is not blank), and
in the browser's own layout every figure has a size, every image decodes and every contents link lands
on a heading. (The page has no scripts -- assert_self_contained -- so there is no console to watch.)
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import zerosim
from zerosim.errors import OutputError
from zerosim.io.compare import compare_runs, headline
from zerosim.ledger.config import default_sources
from zerosim.report import write_report

SMALL = {"population.size": 20_000, "duration_days": 30}
RUN_HEADINGS = (
    "The scenario", "Headline numbers", "Epidemic curve", "Testing and lab backlog", "People by zone level",
    "Districts under lockdown (schematic grid, not a map)", "Infections by district",
    "The ledger: what containment cost", "Zone events", "Reproduce this run",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-runs")
    directories = {}
    for policy in ("none", "dynamic-zero-2022"):
        directories[policy] = root / policy
        zerosim.run("demo", overrides={**SMALL, "policy": policy}, out=directories[policy], figures=False)
    return directories


@pytest.fixture(scope="module")
def single(runs, tmp_path_factory) -> tuple[Path, str]:
    path = write_report([runs["dynamic-zero-2022"]], tmp_path_factory.mktemp("single") / "report.html")
    return path, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> tuple[Path, str]:
    path = write_report([runs["none"], runs["dynamic-zero-2022"]], tmp_path_factory.mktemp("compared") / "report.html")
    return path, path.read_text(encoding="utf-8")


class _Collector(HTMLParser):
    """Tags, attributes and heading texts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[tuple[str, str, str]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = []

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def assert_self_contained(text: str) -> None:
    page = _parse(text)
    for tag, name, value in page.attributes:
        if name in ("src", "href", "xlink:href"):
            assert not re.match(r"\s*(https?:)?//", value, re.IGNORECASE), f"<{tag} {name}={value[:80]!r}> needs the network"
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", text, re.IGNORECASE)
    ids = [value for _, name, value in page.attributes if name == "id"]
    assert len(ids) == len(set(ids)), "duplicate ids: inline SVGs must not collide"


def test_single_run_report_is_complete_and_self_contained(runs, single):
    path, text = single
    assert path.exists() and text.startswith("<!DOCTYPE html>")
    assert_self_contained(text)
    headings = _parse(text).headings
    for heading in (*RUN_HEADINGS, "Assumptions and sources", "Contents"):
        assert heading in headings, heading
    assert text.count("<svg") >= 10  # epidemic, testing, zones, grid, districts, five ledger figures
    assert "<figcaption>" in text and "not a map" in text
    assert "not a prediction of protest" in text
    summary = json.loads((runs["dynamic-zero-2022"] / "summary.json").read_text())
    # the scenario in plain words
    assert "dynamic zero-COVID (Shanghai, spring 2022)" in text and "Omicron BA.2" in text
    assert "20,000 people" in text and "1 March 2022" in text and f"R0 {summary['r0']:g}" in text
    # the whole ledger, with units, dict totals expanded
    units = {"confined_person_days": "person-days", "income_lost_cny": "CNY", "households_ran_out": "households",
             "stores_failed": "stores", "testing_queue_hours": "hours", "resistance_pressure_max": "fraction"}
    for key, value in summary["ledger"].items():
        if isinstance(value, dict):
            for part in value:
                assert f"<code>{key}.{part}</code>" in text, f"{key}.{part}"
        else:
            row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*<code>{re.escape(key)}</code>(?:(?!</tr>).)*</tr>", text, re.DOTALL)
            assert row, key
            if key in units:
                assert f">{units[key]}<" in row.group(0), (key, row.group(0))
    assert f"{round(summary['ledger']['income_lost_cny']):,}" in text  # readable numbers, thousands separated
    # zone events summarised with dates
    assert "Zone changes counted by event and scope" in text and "sealed" in text
    # assumptions: every ledger field whose source begins with ASSUMPTION
    for key, source in default_sources().items():
        if source.startswith("ASSUMPTION"):
            assert f"<code>{key}</code>" in text, key
    for doc in ("docs/parameters.md", "docs/policies.md", "docs/ledger.md"):
        assert doc in text
    # the exact command and version to reproduce it
    directory = runs["dynamic-zero-2022"].resolve()
    assert f"zerosim run {directory}/scenario.yaml --out {directory}-rerun" in text
    for key in ("zerosim_version", "scenario_hash"):
        assert f"<code>{summary[key]}</code>" in text
    if summary.get("git_revision"):
        assert summary["git_revision"] in text


def test_comparison_opens_with_the_trade_off(runs, compared):
    _, text = compared
    assert_self_contained(text)
    sentence = headline(compare_runs([runs["none"], runs["dynamic-zero-2022"]]))
    lede = re.search(r'<p class="lede"[^>]*>(.*?)</p>', text, re.DOTALL)
    assert lede and "averted" in lede.group(1)
    assert lede.group(1) == html.escape(sentence)
    assert lede.start() < text.index('<nav class="toc"') < text.index('id="comparison"')  # at the top
    headings = _parse(text).headings
    assert {"Comparison", "Run 1: none (baseline)", "Run 2: dynamic-zero-2022", "Assumptions and sources"} <= set(headings)
    assert headings.count("The ledger: what containment cost") == 2
    assert "Every measure the runs report" in text and "dynamic-zero-2022 − none" in text
    assert "Runs compared" in text
    # the none run's empty parts are notes, not crashes
    assert "No testing in this run" in text and "No zone events in this run" in text


def test_missing_optional_files_and_fan_chart(runs, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(runs["none"], partial)
    for name in ("timeseries.parquet", "events.parquet", "pressure.parquet", "confinement_days.parquet",
                 "by_district.parquet", "scenario.yaml"):
        (partial / name).unlink()
    (partial / "forecast_fan_chart.png").write_bytes(
        bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4e20000000049454e44ae426082"))
    text = write_report([partial], tmp_path / "out").read_text(encoding="utf-8")  # a directory: out/report.html
    assert "timeseries.parquet is missing" in text and "No epidemic curve" in text
    assert "Forecast" in _parse(text).headings and 'src="data:image/png;base64,' in text
    assert_self_contained(text)


def test_missing_run_directory_is_a_one_line_output_error(runs, tmp_path):
    missing = tmp_path / "no-such-run"
    with pytest.raises(OutputError) as caught:
        write_report([runs["none"], missing], tmp_path / "report.html")
    message = str(caught.value)
    assert str(missing) in message and "\n" not in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OutputError, match="no summary.json"):
        write_report([empty], tmp_path / "report.html")


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium for the browser check")
def test_report_renders_in_a_browser(compared, tmp_path):
    path, _ = compared
    screenshot = tmp_path / "report.png"
    command = [
        shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
        f"--screenshot={screenshot}", "--window-size=1280,4000", path.resolve().as_uri(),
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=90)
    log = result.stderr
    assert "Failed to load resource" not in log and "net::ERR_" not in log
    assert screenshot.exists(), log[-2000:]
    from matplotlib import image

    pixels = image.imread(screenshot)[..., :3]
    rgb = (pixels * 255).round().astype(np.uint32)
    colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
    assert colours.size > 50, "the screenshot is (nearly) blank"
    not_white = (pixels < 0.98).any(axis=2)
    assert not_white.mean() > 0.05 and not_white[:400].any() and not_white[-1000:].any()


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="needs chromium and chromedriver for the browser check")
def test_report_figures_images_and_links_work_in_a_browser(compared, tmp_path):
    """What the browser makes of the page: every figure laid out at a readable size, every embedded image
    decoded, every internal link pointing at an element that exists, nothing wider than the window."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    path, text = compared
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(path.resolve().as_uri())
        page = driver.execute_script("""
            const box = element => element.getBoundingClientRect();
            return {
              figures: [...document.querySelectorAll('svg[role="img"]')].map(
                svg => [svg.getAttribute('aria-label'), box(svg).width, box(svg).height]),
              images: [...document.images].map(img => [img.alt, img.complete && img.naturalWidth > 0]),
              links: [...document.querySelectorAll('a[href^="#"]')].map(
                a => [a.getAttribute('href'), document.getElementById(decodeURIComponent(a.hash.slice(1))) !== null]),
              scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
            };""")
    finally:
        driver.quit()
    assert len(page["figures"]) == text.count('role="img"') >= 5, page["figures"]
    small = [(label, round(width), round(height)) for label, width, height in page["figures"]
             if width < 200 or height < 100]
    assert not small, f"figures laid out too small to read: {small}"
    assert all(decoded for _, decoded in page["images"]), page["images"]
    assert len(page["links"]) >= 10
    dangling = [href for href, found in page["links"] if not found]
    assert not dangling, f"links to nothing: {dangling}"
    assert page["scrollWidth"] <= page["innerWidth"], "the page is wider than the window"
