"""Segmentations: the label rules (:mod:`metrics.segments.rules`), RFM scores, the per-segment tables
and the monthly lifecycle segments."""
