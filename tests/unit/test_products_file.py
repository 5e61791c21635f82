"""Product settings from TOML: defaults, every key, and clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from arrears.adapters.products_file import load_products
from arrears.domain.errors import ConfigurationError
from arrears.domain.products import CREDIT_CARD_2011_CLASSIFICATION, ProductSettings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "products.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_defaults() -> None:
    assert load_products(None) == {}


def test_every_key(tmp_path: Path) -> None:
    products = load_products(
        _write(
            tmp_path,
            """
[products.card]
penalty_markup = "0.3"
grace_days = 3
day_count_basis = 365
compound_on_overdue_interest = false
bucket_edges = [0, 29, 59, 89, 119, 149, 179]
classification = "credit_card_2011"
promise_tolerance = "5.00"
promise_tolerance_pct = "2"

[products.default]
""",
        )
    )
    card = products["card"]
    assert card.penalty_markup == Decimal("0.3")
    assert (card.grace_days, card.day_count_basis, card.compound_on_overdue_interest) == (
        3,
        365,
        False,
    )
    assert card.bucket_for(30) == "M2"
    assert card.classification is CREDIT_CARD_2011_CLASSIFICATION
    assert (card.promise_tolerance, card.promise_tolerance_pct) == (Decimal("5.00"), Decimal(2))
    assert products["default"] == ProductSettings(code="default")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[products.x]\ngrace = 3", "unknown setting"),
        ('[products.x]\npenalty_markup = "half"', "penalty_markup"),
        ("[products.x]\nbucket_edges = [0, 30]", "bucket_edges"),
        ('[products.x]\nclassification = "lenient"', "classification"),
        ("[products.x]\nday_count_basis = 366", "day_count_basis"),
        ('[products.x]\npromise_tolerance = "-1"', "promise_tolerance"),
        ('[products.x]\npromise_tolerance_pct = "120"', "promise_tolerance_pct"),
        ('[products.x]\npromise_tolerance = "lots"', "promise_tolerance must be a decimal"),
        ("[products.x\n", "products file"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as err:
        load_products(_write(tmp_path, body))
    assert "products.toml" in str(err.value)
