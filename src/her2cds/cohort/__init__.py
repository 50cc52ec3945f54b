"""Cohort mode: registry, cBioPortal and research tables in, one slim answer per patient out.

Readers turn each input format into the common *specimen-row* table (:mod:`her2cds.cohort.columns`); an engine
(:mod:`her2cds.cohort.local` with polars, :mod:`her2cds.cohort.spark` with PySpark) gives one slim row per
patient that is identical to what the per-case engine answers; writers and the report consume the slim table.
Nothing here is imported by the rules core; polars is needed only by this package (``pip install .[cohort]``).
"""
