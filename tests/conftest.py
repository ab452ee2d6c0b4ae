"""Shared test configuration: seeded Hypothesis, paths to the shared reference tables."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

settings.register_profile("seeded", derandomize=True, max_examples=300, deadline=None)
settings.load_profile("seeded")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"


@pytest.fixture(scope="session")
def antonov_spector() -> pd.DataFrame:
    """Antonov & Spector (2012) tables 1-9: SABR MC and Hagan vols at T = 10."""
    return pd.read_csv(REFERENCE / "antonov_spector_2012_T10.csv")


@pytest.fixture(scope="session")
def benchop() -> pd.DataFrame:
    """BENCHOP Set I (von Sydow et al. 2018) SABR reference call prices."""
    return pd.read_csv(REFERENCE / "benchop_set1_prices.csv")
