"""Input readers: each turns one format into canonical specimen rows (:mod:`her2cds.cohort.columns`)."""
