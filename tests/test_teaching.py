"""Teaching metadata: one main parameter per lever with a range inside its validation bounds,
display names for every indicator, and values formatted by their unit."""

from __future__ import annotations

import math

import pytest

from sim.metrics.indicators import REGISTRY
from sim.scenario import LeversConfig, Scenario
from sim.view.teaching import (all_teaching, format_difference, format_quantity, indicator_label, indicator_unit,
                          lever_controls)


def test_every_lever_has_one_main_parameter_with_a_teaching_range_inside_its_bounds():
    controls = lever_controls()
    assert [c.lever for c in controls] == list(LeversConfig.model_fields)
    defaults = Scenario()
    for control in controls:
        p = control.parameter
        assert p.label and p.unit and control.title, control
        assert p.minimum is not None and p.maximum is not None
        assert p.minimum <= p.low < p.high <= p.maximum, p
        steps = (p.high - p.low) / p.step
        assert 2 <= steps <= 200 and math.isclose(steps, round(steps), abs_tol=1e-9), p
        if p.integer:
            assert float(p.step).is_integer()
        default = getattr(getattr(defaults.levers, control.lever), p.key.rsplit(".", 1)[1])
        assert p.low <= default <= p.high, f"{p.key}: default {default} outside the teaching range"


def test_teaching_ranges_are_narrower_than_validation_where_the_issue_found_them_wide():
    by_key = {t.key: t for t in all_teaching()}
    subsidy = by_key["levers.graduate_startups.subsidy_cny"]
    assert subsidy.maximum == 1e7 and subsidy.high == 200_000  # validation allows 10 M, a class sees 200 k
    assert by_key["levers.mobile_vendors.vendors"].high <= 100
    assert by_key["levers.lockers.lockers_per_km2"].high <= 100
    assert by_key["population.residents"].label == "Residents"


def test_teaching_metadata_does_not_change_validation_or_the_content_hash():
    from sim.scenario import scenario_from_dict

    plain = Scenario()
    assert scenario_from_dict({}).content_hash() == plain.content_hash()
    with pytest.raises(ValueError):  # still validated by ge/le, not by the teaching range
        plain.with_updates({"levers.graduate_startups.subsidy_cny": 2e7})
    assert plain.with_updates({"levers.graduate_startups.subsidy_cny": 5e6}).levers.graduate_startups.subsidy_cny == 5e6


def test_every_indicator_has_a_display_name_and_families_name_their_member():
    assert all(ind.label and ind.label != ind.name for ind in REGISTRY.values())
    assert indicator_label("coverage_15.pharmacy") == "Within 15 min on foot: pharmacy"
    assert indicator_unit("coverage_15.pharmacy") == "share"


def test_values_and_differences_are_formatted_by_unit():
    assert format_quantity(0.458, "share") == "45.8 %"
    assert format_difference(0.458, "share") == "+45.8 percentage points"  # never "+45.8%"
    assert format_quantity(0.0, "CNY per month") == "0 CNY per month"
    assert format_quantity(100449.0, "CNY per month") == "100,449 CNY per month"
    assert format_quantity(float("nan"), "share") == "n/a"
    assert format_difference(-1234.4, "CNY per month") == "-1,234 CNY per month"
