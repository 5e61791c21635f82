"""Product settings from a TOML file (``ARREARS_PRODUCTS_FILE``).

```toml
[products.kuaidai]            # the product code used in loans.csv
penalty_markup = "0.5"        # decimal string (exact)
grace_days = 3
day_count_basis = 360
compound_on_overdue_interest = true
bucket_edges = [0, 30, 60, 90, 120, 150, 180]
classification = "bank_2023"  # or "credit_card_2011"
promise_tolerance = "1.00"    # a promise short by at most this much (or the % below) is kept
promise_tolerance_pct = "0"

[products.default]            # loans without a product code, or with an unknown one
grace_days = 0
```

Every key is optional; a missing key keeps loan-math.md's default.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from arrears.domain.errors import ConfigurationError
from arrears.domain.products import (
    BANK_2023_CLASSIFICATION,
    CREDIT_CARD_2011_CLASSIFICATION,
    DEFAULT_BUCKET_EDGES,
    ProductSettings,
)

__all__ = ["load_products"]

_TABLES = {t.name: t for t in (BANK_2023_CLASSIFICATION, CREDIT_CARD_2011_CLASSIFICATION)}
_KEYS = {
    "penalty_markup", "grace_days", "day_count_basis", "compound_on_overdue_interest",
    "bucket_edges", "classification", "promise_tolerance", "promise_tolerance_pct",
}  # fmt: skip


def load_products(path: Path | None) -> dict[str, ProductSettings]:
    """Product code → settings; an empty mapping (all defaults) when no file is set."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"products file {path}: {exc}") from exc
    products = data.get("products", {})
    if not isinstance(products, dict):
        raise ConfigurationError(f"products file {path}: [products.<code>] tables expected")
    return {code: _product(path, code, spec) for code, spec in products.items()}


def _product(path: Path, code: str, spec: Any) -> ProductSettings:
    where = f"products file {path}, [products.{code}]"
    if not isinstance(spec, dict):
        raise ConfigurationError(f"{where}: a table of settings expected")
    unknown = set(spec) - _KEYS
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown setting(s) {sorted(unknown)}; known: {sorted(_KEYS)}"
        )
    markup = _decimal(where, spec, "penalty_markup", "0.5")
    tolerance = _decimal(where, spec, "promise_tolerance", "1.00")
    tolerance_pct = _decimal(where, spec, "promise_tolerance_pct", "0")
    if tolerance < 0 or not 0 <= tolerance_pct <= 100:
        raise ConfigurationError(
            f"{where}: promise_tolerance ≥ 0 and promise_tolerance_pct between 0 and 100"
        )
    edges = tuple(int(e) for e in spec.get("bucket_edges", DEFAULT_BUCKET_EDGES))
    if (
        len(edges) != len(DEFAULT_BUCKET_EDGES)
        or list(edges) != sorted(set(edges))
        or edges[0] != 0
    ):
        raise ConfigurationError(
            f"{where}: bucket_edges must be {len(DEFAULT_BUCKET_EDGES)} increasing DPD bounds "
            "starting at 0 (M0, M1 … M6; above the last is M6+)"
        )
    table = spec.get("classification", BANK_2023_CLASSIFICATION.name)
    if table not in _TABLES:
        raise ConfigurationError(f"{where}: classification must be one of {sorted(_TABLES)}")
    grace, basis = int(spec.get("grace_days", 0)), int(spec.get("day_count_basis", 360))
    if grace < 0 or markup < 0 or basis not in (360, 365):
        raise ConfigurationError(
            f"{where}: grace_days ≥ 0, penalty_markup ≥ 0 and day_count_basis 360 or 365"
        )
    return ProductSettings(
        code=code, penalty_markup=markup, grace_days=grace, day_count_basis=basis,
        compound_on_overdue_interest=bool(spec.get("compound_on_overdue_interest", True)),
        bucket_edges=edges, classification=_TABLES[table],
        promise_tolerance=tolerance, promise_tolerance_pct=tolerance_pct,
    )  # fmt: skip


def _decimal(where: str, spec: dict[str, Any], key: str, default: str) -> Decimal:
    try:
        value = Decimal(str(spec.get(key, default)))
    except InvalidOperation:
        raise ConfigurationError(f"{where}: {key} must be a decimal string") from None
    if not value.is_finite():
        raise ConfigurationError(f"{where}: {key} must be a finite decimal")
    return value
