"""A catalogue file of a user's own (``economy.catalogue``) is bad input like any other: every number
must be finite and in its documented range, or ``validate`` and ``run`` stop with exit 2 naming the
file, the key and the value (a NaN spend reached the ledger as -2**63 fen; an infinite visit rate ran
to garbage results)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.scenario import ScenarioError
from sim.services.catalogue import load_catalogue
from tests.conftest import SCENARIOS
from tests.test_cli_errors import cli, one_message

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[1] / "sim" / "data" / "catalogue.toml"


def own_catalogue(folder: Path, pattern: str, replacement: str) -> Path:
    """A copy of the default catalogue with the first line matching ``pattern`` replaced."""
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    changed = re.sub(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert changed != text
    path = folder / "catalogue.toml"
    path.write_text(changed, encoding="utf-8")
    return path


@pytest.mark.parametrize("pattern, replacement, key, value", [
    (r"^shop_wage_cny_month = .*$", "shop_wage_cny_month = nan", "money.shop_wage_cny_month", "nan"),
    (r"^pension_cny_month = .*$", "pension_cny_month = inf", "money.pension_cny_month", "inf"),
    (r"^spend_cny = .*$", "spend_cny = nan", ".spend_cny", "nan"),
    (r"^visits_per_day = .*$", "visits_per_day = inf", ".visits_per_day", "inf"),
    (r"^cogs_share = .*$", "cogs_share = nan", ".cogs_share", "nan"),
    (r"^tier_minutes = .*$", "tier_minutes = 0", ".tier_minutes", "0"),
])
def test_a_catalogue_number_must_be_finite_and_in_range(tmp_path, pattern, replacement, key, value):
    path = own_catalogue(tmp_path, pattern, replacement)
    with pytest.raises(ScenarioError) as err:
        load_catalogue(str(path))
    message = str(err.value)
    assert str(path) in message and key in message and f"= {value}" in message and "allowed" in message


def test_validate_names_a_nan_money_value_with_exit_2(tmp_path, capsys):
    path = own_catalogue(tmp_path, r"^shop_wage_cny_month = .*$", "shop_wage_cny_month = nan")
    code, _, err = cli(capsys, "validate", SCENARIOS / "baseline.toml", "--set", f"economy.catalogue={path}")
    assert code == 2
    assert "money.shop_wage_cny_month" in one_message(err) and "finite" in err


def test_the_default_catalogue_passes():
    assert load_catalogue().n > 0
