"""In the browser: the Risk page says which purchase model scores the customers and why; picking another
puts it in the URL, and every churn and CLV figure on every page follows it, also from a shared link.

Expected values come from the metrics on the same data, so the page must show exactly what they compute.
"""

from __future__ import annotations

from datetime import date

import pytest

from metrics.engine import Engine
from metrics.filters import Filters
from metrics.measures.kpis import kpis
from metrics.models.choice import model_choice
from metrics.models.clv import clv_summary
from metrics.models.purchase_models import PURCHASE_MODELS
from tests.browser.dashboard import (
    assert_no_errors,
    choose,
    current_search,
    kpi_values,
    open_page,
    set_prime,
    wait_for_charts,
)

playwright_api = pytest.importorskip("playwright.sync_api")

YEAR = Filters(date(2024, 1, 1), date(2024, 12, 31))


def test_picking_a_model_changes_every_churn_and_clv_figure(page, app_url, generated_engine: Engine):
    chosen = model_choice(generated_engine).chosen
    other = next(key for key in PURCHASE_MODELS if key != chosen)
    picked = YEAR.with_model(other)

    open_page(page, f"{app_url}/risk?{YEAR.to_query()}")
    # the card is filled by a callback that may still be on its way on a loaded machine
    playwright_api.expect(page.locator("#risk-model-card")).to_contain_text(
        f"{PURCHASE_MODELS[chosen].model_name}, chosen by the data", timeout=30_000)
    card = page.locator("#risk-model-card").inner_text()
    assert "holdout" in card and "whole history" in card
    wait_for_charts(page)  # drawn after their callbacks answer: later than the card on a loaded machine
    for graph in ("risk-fit", "risk-ce", "risk-palive"):
        assert page.locator(f"#{graph} .js-plotly-plot .main-svg").count() > 0, graph

    choose(page, "risk-model", PURCHASE_MODELS[other].model_name)
    assert f"model={other}" in current_search(page)
    assert f"{PURCHASE_MODELS[other].model_name}, picked here" in page.locator("#risk-model-card").inner_text()
    assert_no_errors(page)

    # every page follows the URL's model: the Executive at-risk card, the Loyalty CLV summary
    open_page(page, f"{app_url}/?{picked.to_query()}")
    shown = kpi_values(page)["at_risk_rate"][0]
    assert shown == pytest.approx(kpis(generated_engine, picked)["at_risk_rate"], abs=1e-12)
    assert shown != pytest.approx(kpis(generated_engine, YEAR)["at_risk_rate"], abs=1e-9)
    assert "model=" + other in current_search(page)

    # a filter change keeps the model; a shared link reopens the Risk page on it
    open_page(page, f"{app_url}/risk?{picked.to_query()}")
    assert f"{PURCHASE_MODELS[other].model_name}, picked here" in page.locator("#risk-model-card").inner_text()
    assert page.locator("#risk-model").inner_text().strip().startswith(PURCHASE_MODELS[other].model_name)
    assert clv_summary(generated_engine, picked).predicted_clv.sum() != pytest.approx(
        clv_summary(generated_engine, YEAR).predicted_clv.sum())
    set_prime(page, "Prime")
    assert "prime=Prime" in current_search(page) and f"model={other}" in current_search(page)
    assert_no_errors(page)
