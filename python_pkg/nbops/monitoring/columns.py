"""The columns of the per-feature drift table, in order.

Kept apart from ``drift`` (numpy, pandas, scipy) so the drift report widget can name them without
importing the statistics.
"""

COLUMNS = [
    "feature",
    "kind",
    "n_reference",
    "n_current",
    "missing_current",
    "statistic",
    "p_value",
    "ks",
    "ks_pvalue",
    "wasserstein",
    "psi",
    "chi2",
    "chi2_pvalue",
    "unseen_share",
    "effect",
    "drifted",
    "schema_violation",
    "note",
]
