"""The local dashboard (`zerosim serve`): levers -> validated overrides, loopback-only serving, and
one browser-driven session with headless Chromium (skipped if Chromium, chromedriver or selenium is missing)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

pytest.importorskip("dash")

import zerosim
from zerosim.dashboard import (
    PRESET,
    Levers,
    check_loopback,
    create_app,
    validate_levers,
)
from zerosim.dashboard.levers import MAX_POPULATION, preset_values

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TINY = {"population_size": 10_000, "duration_days": 20}


# -- levers -> overrides -> scenario -------------------------------------------------------------
def test_untouched_levers_run_the_preset_unchanged():
    scenario, overrides, notes, error = validate_levers(Levers(policy="dynamic-zero-2022", **TINY))
    assert error is None and notes == []
    assert overrides == {"policy": "dynamic-zero-2022", "population.size": 10_000, "duration_days": 20}
    assert scenario.resolved_containment() == zerosim.load_scenario("demo", {"policy": "dynamic-zero-2022"}).resolved_containment()


def test_preset_values_are_untouched_levers():
    values = preset_values("demo", "dynamic-zero-2022")
    assert values["pool_size"] == 10 and values["rooms_per_100k"] == 200
    _, overrides, _, error = validate_levers(Levers(policy="dynamic-zero-2022", **TINY, **values))
    assert error is None and set(overrides) == {"policy", "population.size", "duration_days"}


def test_good_levers_validate_and_reach_the_scenario():
    levers = Levers(policy="dynamic-zero-2022", **TINY, pool_size=20, interval_days=2, sealed_release_days=10,
                    controlled_release_days=3, city_sealed_after_cases=5, rooms_per_100k=50,
                    deliveries_per_day_per_100k=500.0)
    scenario, _, notes, error = validate_levers(levers)
    assert error is None and notes == []
    containment = scenario.resolved_containment()
    assert {campaign.pool_size for campaign in containment.testing.campaigns} == {20}
    routine = [c for c in containment.testing.campaigns if c.zone == "city" and c.rounds is None]
    assert routine and all(campaign.interval_days == 2 for campaign in routine)
    assert containment.zoning.sealed_release_days == 10 and containment.zoning.controlled_release_days == 3
    assert containment.zoning.city_sealed_after_cases == 5 and containment.tracing.rooms_per_100k == 50
    assert scenario.resolved_ledger().food.deliveries_per_day_per_100k == 500.0
    assert scenario.population.size == 10_000 and scenario.duration_days == 20


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"policy": "dynamic-zero-2022", "rooms_per_100k": -5}, "containment.tracing.rooms_per_100k"),
        ({"duration_days": 0}, "duration_days"),
        ({"policy": "dynamic-zero-2022", "pool_size": 7}, "pool_size"),
        ({"policy": "dynamic-zero-2022", "sealed_release_days": None}, "containment.zoning.sealed_release_days"),
        ({"deliveries_per_day_per_100k": -1.0}, "ledger.food.deliveries_per_day_per_100k"),
        ({"population_size": MAX_POPULATION + 1}, "population.size"),
        ({"policy": "no-such-preset"}, "policy"),
        ({"scenario": "/etc/passwd"}, "scenario"),
    ],
)
def test_impossible_values_give_the_one_line_message(changes, field):
    scenario, _, _, error = validate_levers(Levers(**{**TINY, **changes}))
    assert scenario is None and isinstance(error, str)
    assert field in error and "\n" not in error


def test_levers_without_effect_are_noted():
    _, _, notes, error = validate_levers(Levers(policy="none", **TINY, pool_size=5, rooms_per_100k=10))
    assert error is None and len(notes) == 2


def test_blank_means_unlimited_where_the_model_allows_it():
    scenario, _, _, error = validate_levers(Levers(policy="dynamic-zero-2022", **TINY, rooms_per_100k=None))
    assert error is None and scenario.resolved_containment().tracing.rooms_per_100k is None
    assert Levers().pool_size is PRESET


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host):
    check_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org", ""])
def test_other_hosts_are_refused_with_one_line(host):
    with pytest.raises(zerosim.ZerosimError, match="127.0.0.1") as caught:
        zerosim.dashboard.serve(host=host, port=1)
    assert "\n" not in str(caught.value)


def test_a_taken_port_gives_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(zerosim.ZerosimError, match="--port: cannot listen on 127.0.0.1"):
            zerosim.dashboard.serve(port=taken.getsockname()[1])


def test_create_app_has_the_controls():
    app = create_app()
    layout = str(app.layout)
    for control in ("scenario", "policy", "population_size", "pool_size", "interval_days", "rooms_per_100k",
                    "deliveries_per_day_per_100k", "run", "progress", "curves", "ledger"):
        assert f"id='{control}'" in layout or f'id="{control}"' in layout, control


# -- browser --------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_url():
    from werkzeug.serving import make_server

    app = create_app()
    server = make_server("127.0.0.1", _free_port(), app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not shutil.which("chromedriver"):
        pytest.skip("needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1600", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # explicit path: no driver download
    yield driver
    driver.quit()


def _set_number(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.ID, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(value, Keys.TAB)  # debounced inputs send their value when they lose focus


def _choose(driver, element_id: str, option: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.ID, element_id).click()  # opens the option list (a popover at the end of the page)
    xpath = f"//*[@role='option'][normalize-space(.)='{option}']"
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.XPATH, xpath))[0].click()


def _run_and_wait(driver, wait, previous_headline: str) -> str:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "run").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("Finished")
               and d.find_element(By.ID, "headline").text not in ("", previous_headline))
    return driver.find_element(By.ID, "headline").text


def test_browser_run_move_a_lever_run_again_and_see_an_error(server_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 45, poll_frequency=0.2)
    browser.get(server_url)
    wait.until(lambda d: d.find_element(By.ID, "population_size").get_attribute("value") != "")
    _set_number(browser, "population_size", "10000")
    _set_number(browser, "duration_days", "20")

    first = _run_and_wait(browser, wait, "")
    assert first.startswith("none, 10,000 people, 20 days")
    confined_none = browser.find_element(By.ID, "ledger-confined_person_days").text

    _choose(browser, "policy", "dynamic-zero-2022")
    wait.until(lambda d: d.find_element(By.ID, "rooms_per_100k").get_attribute("value") == "200")  # preset loaded
    second = _run_and_wait(browser, wait, first)
    assert second.startswith("dynamic-zero-2022, 10,000 people, 20 days")
    assert browser.find_element(By.ID, "ledger-confined_person_days").text != confined_none
    assert "previous run (none" in browser.find_element(By.ID, "ledger").text
    screenshot = os.environ.get("ZEROSIM_DASHBOARD_SCREENSHOT")  # a PNG path, to look at the page
    if screenshot:
        browser.save_screenshot(screenshot)

    _set_number(browser, "rooms_per_100k", "-5")
    browser.find_element(By.ID, "run").click()
    wait.until(lambda d: d.find_element(By.ID, "error").text != "")
    error = browser.find_element(By.ID, "error").text
    assert error.startswith("error: containment.tracing.rooms_per_100k: must be > 0")
    assert browser.find_element(By.ID, "headline").text == second  # the last good run stays on the page



# -- issue 15, case 5: the limits cannot be bypassed -----------------------------------------------
@pytest.mark.parametrize("size", ["600000", "100000000", 600_000, 600_000.0, " 6e5 ", "500001"])
def test_population_over_the_cap_is_refused_as_text_or_number(size):
    scenario, overrides, _, error = validate_levers(Levers(population_size=size, duration_days=20))
    assert scenario is None and overrides == {}
    assert error.startswith("population.size: the dashboard runs at most 500,000"), error


@pytest.mark.parametrize("value,field", [("abc", "population.size"), (True, "population.size"),
                                         ("inf", "population.size"), (float("nan"), "population.size"),
                                         ([1], "population.size"), ("1e400", "population.size")])
def test_levers_that_are_not_numbers_are_refused(value, field):
    scenario, _, _, error = validate_levers(Levers(population_size=value, duration_days=20))
    assert scenario is None and error.startswith(field) and "\n" not in error, error


def test_numbers_sent_as_text_are_read_as_numbers():
    scenario, overrides, _, error = validate_levers(Levers(population_size="10000", duration_days="20",
                                                           policy="dynamic-zero-2022", interval_days="2"))
    assert error is None and scenario.population.size == 10_000 and scenario.duration_days == 20
    assert overrides["population.size"] == 10_000
    routine = [c for c in scenario.resolved_containment().testing.campaigns if c.zone == "city" and c.rounds is None]
    assert routine and all(campaign.interval_days == 2 for campaign in routine)
    _, _, _, error = validate_levers(Levers(population_size="10000", duration_days="-3"))
    assert error.startswith("duration_days: must be >= 1"), error


def _run_click(population_size):
    """The payload Dash's page posts to its update endpoint when Run is pressed."""
    from zerosim.dashboard.app import LEVER_IDS

    outputs = ["job.data", "poll.disabled", "run.disabled", "progress.value", "progress.max", "status.children",
               "error.children", "notes.children", "headline.children", "curves.figure", "ledger.children"]
    values = {"scenario": "demo", "policy": "none", "population_size": population_size, "duration_days": 5}
    return {
        "output": ".." + "...".join(outputs) + "..",
        "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs],
        "inputs": [{"id": "run", "property": "n_clicks", "value": 1},
                   {"id": "poll", "property": "n_intervals", "value": None}],
        "state": [{"id": "job", "property": "data", "value": None}]
                 + [{"id": lever, "property": "value", "value": values.get(lever)} for lever in LEVER_IDS],
        "changedPropIds": ["run.n_clicks"],
    }


def test_the_update_endpoint_caps_a_population_sent_as_text():
    app = create_app()
    client = app.server.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    answer = client.post("/_dash-update-component", json=_run_click("600000"), headers={"Host": "127.0.0.1:8050"})
    assert answer.status_code == 200, answer.data[:300]
    assert "the dashboard runs at most 500,000" in answer.get_data(as_text=True)
    assert app.runner.latest is None  # nothing started


@pytest.mark.parametrize("host", ["evil.example:8050", "127.0.0.1.nip.io:8050", "localhost.evil.example",
                                  "10.0.0.5:8050", "", "127.0.0.1:8051"])
def test_requests_for_another_host_are_refused(host):
    client = create_app(port=8050).server.test_client()
    for path in ("/", "/_dash-layout", "/_dash-dependencies"):
        assert client.get(path, headers={"Host": host}).status_code == 403, (path, host)
    answer = client.post("/_dash-update-component", json=_run_click(10_000), headers={"Host": host})
    assert answer.status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:8050", "localhost:8050", "[::1]:8050", "LOCALHOST:8050", "127.0.0.1"])
def test_requests_for_this_machine_are_answered(host):
    client = create_app(port=8050).server.test_client()
    assert client.get("/", headers={"Host": host}).status_code == 200
