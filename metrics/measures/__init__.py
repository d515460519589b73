"""Business measures: the registry (one definition per measure, :mod:`metrics.measures.registry`)
and the tables built on it (KPIs, new and repeat customers, trends, activity, engagement, retention,
demographics)."""
