"""The Content-Security-Policy in a real browser: every page loads under it with no violation and no console
error (a blocked script, style, font or image would show as both). One page load per page."""

from __future__ import annotations

import pytest

from tests.browser.dashboard import assert_no_errors, open_page
from tests.browser.test_dashboard import PAGES

#: Collects the browser's CSP violation reports on the page (Chromium also logs each as a console error).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    e => window.cspViolations.push(
        `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
"""


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_under_the_csp_with_no_violation(name, page, app_url):
    page.add_init_script(RECORD_VIOLATIONS)
    with page.expect_response(lambda r: r.request.resource_type == "document") as document:
        open_page(page, app_url + PAGES[name])
    policy = document.value.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    page.wait_for_load_state("networkidle")  # lazily loaded chunks (charts, grids) are under the policy too
    assert page.evaluate("() => window.cspViolations") == []
    assert_no_errors(page)
