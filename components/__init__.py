"""Reusable dashboard pieces: filter bar, KPI cards, chart frames, tables, colours and formatting."""
