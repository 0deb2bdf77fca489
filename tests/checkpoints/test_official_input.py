"""OfficialInput -> the grid's dataset-level preprocessing: lead sets matched by name and order."""

from __future__ import annotations

import pytest

from bench.checkpoints.card import OfficialInput
from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS
from bench.errors import ConfigError


@pytest.mark.parametrize(
    ("leads", "lead_set"), [(CANONICAL_LEADS, "12"), (INDEPENDENT_LEADS, "8"), (("I",), "1")]
)
def test_each_grid_lead_set_is_found_by_its_names(leads, lead_set):
    official = OfficialInput(rate=500, leads=leads, samples=5000)
    assert official.preprocessing().leads == lead_set


@pytest.mark.parametrize(
    "leads",
    [
        ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"),
        ("II",),
        INDEPENDENT_LEADS[::-1],
    ],
)
def test_leads_the_grid_cannot_give_in_that_order_are_refused(leads):
    with pytest.raises(ConfigError, match="not a lead set the grid caches"):
        OfficialInput(rate=500, leads=leads, samples=5000).preprocessing()
