"""OfficialInput -> the grid's dataset-level preprocessing: the smallest cached lead set that
holds the model's leads (their order and selection are ``official_window``'s)."""

from __future__ import annotations

import pytest

from bench.checkpoints.card import OfficialInput
from bench.data.signals import CANONICAL_LEADS, INDEPENDENT_LEADS

MIMIC_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")


@pytest.mark.parametrize(
    ("leads", "lead_set"),
    [
        (CANONICAL_LEADS, "12"),
        (MIMIC_ORDER, "12"),
        (INDEPENDENT_LEADS, "8"),
        (INDEPENDENT_LEADS[::-1], "8"),
        (("II",), "8"),
        (("I",), "1"),
        (("III", "aVF"), "12"),
    ],
)
def test_the_smallest_lead_set_holding_the_model_leads_is_cached(leads, lead_set):
    official = OfficialInput(rate=500, leads=leads, samples=5000)
    assert official.preprocessing().leads == lead_set
    assert set(leads) <= set(official.grid_leads)
