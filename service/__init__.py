"""Running the product: the ``custintel`` command line (``cli``), HTTP security for the web server
(``security``: basic auth, headers, request checks), the browser replay that drives the app's callbacks
without a browser (``replay``) and the result-cache warm-up built on it (``warm``).

Unlike ``metrics/`` (pure analytics) and ``components/`` (visual pieces), this package may import the app.
"""
