"""Attribution (issue 19): Shapley values over containment parts add up to the total, treat symmetric parts
alike and give a part that changes nothing zero; what "switched off" means per part; the command end to end
on a tiny city through an existing Dask cluster (``--scheduler``)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import zerosim
from zerosim.cli.app import app
from zerosim.errors import InputError
from zerosim.experiments.attribution import (
    PARTS,
    SWITCH_OFF,
    all_coalitions,
    parse_parts,
    permutation_coalitions,
    permutation_sample,
    run_attribution,
    shapley_exact,
    shapley_sampled,
    switch_off,
)

NAMES = ("a", "b", "c", "d", "e")


def _table_value(parts, table):
    """A value function from a table of one vector per coalition."""
    index = {coalition: k for k, coalition in enumerate(all_coalitions(parts))}
    return lambda coalition: table[index[coalition]]


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), orders=st.integers(1, 12))
def test_shapley_values_add_up_to_the_total_for_any_value_function(count, seed, orders):
    parts = NAMES[:count]
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 1e4, size=(2**count, 3, 4))  # 3 seeds x 4 measures per coalition
    value = _table_value(parts, table)
    total = value(frozenset(parts)) - value(frozenset())
    exact = shapley_exact(parts, value)
    np.testing.assert_allclose(sum(exact.values()), total, rtol=1e-12, atol=1e-6)
    sampled = shapley_sampled(permutation_sample(parts, orders, seed), value)
    np.testing.assert_allclose(sum(sampled.get(part, 0.0) for part in parts), total, rtol=1e-12, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(weights=st.lists(st.floats(-100, 100), min_size=4, max_size=4), synergy=st.floats(-50, 50))
def test_symmetric_parts_get_equal_values_and_a_dummy_gets_zero(weights, synergy):
    """v(S) = sum of weights in S + synergy when both a and b are in S; d changes nothing.
    Then phi_a = w_a + synergy/2, phi_b = w_b + synergy/2, phi_c = w_c, phi_d = 0 (and a, b with equal
    weights are symmetric: equal values)."""
    parts = ("a", "b", "c", "d")
    w = dict(zip(parts, weights))
    w["d"] = 0.0
    w["b"] = w["a"]  # a and b play the same role

    def value(coalition):
        # summed in a fixed order: a frozenset's order follows string hashes, and float sums depend on order
        return np.array([sum(w[p] for p in parts if p in coalition) + (synergy if {"a", "b"} <= coalition else 0.0)])

    phi = shapley_exact(parts, value)
    assert phi["a"][0] == pytest.approx(phi["b"][0], abs=1e-9)
    assert phi["a"][0] == pytest.approx(w["a"] + synergy / 2, abs=1e-9)
    assert phi["c"][0] == pytest.approx(w["c"], abs=1e-9)
    assert phi["d"][0] == 0.0
    # every order of the parts also gives the dummy exactly zero
    orders = list(itertools.permutations(parts))
    sampled = shapley_sampled(orders, value)
    assert sampled["d"][0] == 0.0
    assert sampled["a"][0] == pytest.approx(phi["a"][0], abs=1e-9)  # all orders: the exact value


def test_sampled_orders_need_only_their_prefixes():
    orders = permutation_sample(("a", "b", "c"), 2, seed=1)
    needed = permutation_coalitions(orders)
    assert frozenset() in needed and frozenset("abc") in needed and len(needed) <= 2 * 2 + 2
    assert permutation_sample(("a", "b", "c"), 2, seed=1) == orders  # reproducible


def test_parse_parts_errors_are_one_line():
    assert parse_parts("zoning,testing") == ("testing", "zoning")  # daily order
    for bad, words in (("zonning", "did you mean zoning"), ("", "at least one"), ("testing,testing", "twice")):
        with pytest.raises(InputError) as caught:
            parse_parts(bad)
        assert words in str(caught.value) and "\n" not in str(caught.value)


def test_switching_a_part_off_removes_it_from_every_period():
    """The definition matches the engine's: after switching a part off, api builds no component for it in any
    period of Shanghai 2022's timeline (testing keeps only tracing's quarantine tests, so tracing is off too)."""
    from zerosim.api import _containment_parts

    scenario = zerosim.load_scenario("shanghai-2022", {"population.size": 20000})
    disease = scenario.disease.resolve()
    assert all(set(PARTS) - {"closures"} <= set(_containment_parts(config, disease))
               for _, config in scenario.resolved_periods()[:1])
    for part in PARTS:
        off = switch_off(scenario, [part] + (["tracing"] if part == "testing" else []))
        periods = off.resolved_periods()
        assert len(periods) == len(scenario.resolved_periods())
        for _, config in periods:
            assert part not in _containment_parts(config, disease) or (part == "zoning" and config.closures.enabled), part
    # each override set names real fields only (validated above) and is one set per part
    assert set(SWITCH_OFF) == set(PARTS)


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as local:
        yield local


def test_attribution_of_a_tiny_city_adds_up_per_measure_and_seed(tmp_path, cluster):
    scenario = zerosim.load_scenario("demo", {"population.size": 5000, "duration_days": 20,
                                              "policy": "dynamic-zero-2022",
                                              "containment.health_code.enabled": False})
    result = run_attribution(scenario, ["testing", "zoning", "health_code"], seeds=1,
                             scheduler=cluster.scheduler_address, out=tmp_path / "attr")
    assert result.failures == [] and result.method == "exact"
    for measure, total in result.totals.items():
        per_part = np.array([result.per_seed[measure][part] for part in result.parts])  # (parts, seeds)
        np.testing.assert_allclose(per_part.sum(axis=0), total["per_seed"], rtol=1e-12, atol=1e-6)
    table = pd.read_parquet(tmp_path / "attr" / "attribution.parquet")
    assert list(table.columns)[:6] == ["part", "measure", "value", "low", "high", "share"]
    # health_code was off already: a dummy part, exactly zero for every measure
    assert (table[table["part"] == "health_code"]["value"] == 0).all()
    # containment averted infections here, and mass testing cost all the testing money
    totals = json.loads((tmp_path / "attr" / "attribution.json").read_text())["totals"]
    testing_cost = table[(table["measure"] == "testing_cny")].set_index("part")["value"]
    assert testing_cost.sum() == pytest.approx(totals["testing_cny"]["value"])
    arms = pd.read_parquet(tmp_path / "attr" / "arms.parquet")
    assert len(arms) == 2**3 and arms["succeeded"].all() and arms["seed"].nunique() == 1
    # common random numbers: arms that differ only by the dummy part are identical
    with_code = arms[arms["health_code_on"]].sort_values(["testing_on", "zoning_on"])
    without = arms[~arms["health_code_on"]].sort_values(["testing_on", "zoning_on"])
    np.testing.assert_array_equal(with_code["infections"].to_numpy(), without["infections"].to_numpy())
    # zerosim report on the folder: a page of its own (sentences, waterfall, table, method)
    from zerosim.report import write_report

    page = write_report([tmp_path / "attr"], tmp_path / "attr" / "report.html").read_text()
    assert "what each containment part bought" in page and "<svg" in page and "testing.campaigns" in page
    assert result.sentences[0][:40] in page.replace("Mass testing", "mass testing")


def test_attribute_command_end_to_end_and_its_errors(tmp_path, cluster):
    out = tmp_path / "attr"
    args = ["attribute", "demo", "--population", "4000", "--days", "15", "--set", "policy=dynamic-zero-2022",
            "--parts", "testing,zoning", "--seeds", "1", "--out", str(out), "--scheduler", cluster.scheduler_address]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "of the infections averted and" in result.stdout and "person-days confined" in result.stdout
    # stderr is not a terminal here: plain progress lines instead of the bar (issue 16, item 4)
    assert "running 4 arms" in result.stderr and "arm 4/4 (100%)" in result.stderr, result.stderr
    assert (out / "attribution_waterfall.png").stat().st_size > 10_000
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and again.stderr.startswith("error: --out") and "--force" in again.stderr
    bad = CliRunner().invoke(app, ["attribute", "demo", "--parts", "testing,masks", "--out", str(tmp_path / "x")])
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.exit_code == 2 and len(lines) == 1 and "--parts: unknown part 'masks'" in lines[0]
    assert not (tmp_path / "x").exists()


def test_tasks_answer_identical_calls_once_and_report_failures(cluster):
    import operator

    from dask.distributed import Client

    from zerosim.experiments.tasks import run_tasks

    with Client(cluster.scheduler_address) as client:
        seen = []
        results, failures = run_tasks(client, operator.truediv, [(6, 3), (6, 3), (1, 0), (9, 3)],
                                      ["t", "t", "t", "t"], retries=0, on_done=lambda d, n: seen.append((d, n)))
    assert results == [2.0, 2.0, None, 3.0]
    assert [f["index"] for f in failures] == [2] and "ZeroDivisionError" in failures[0]["error"]
    assert seen[-1] == (4, 4)
