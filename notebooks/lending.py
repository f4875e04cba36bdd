"""Simulated lending data and the model the monitoring notebooks train on it.

``sample(n, seed, drift)`` draws loan applications; ``drift`` in [0, 1] moves the population
(lower incomes, more debt, a different regional mix) and the relationship between the features
and repayment (concept drift), the way an economic downturn would. Replace ``sample`` with a
query against your own data; the notebooks need nothing else from this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = ["income", "age", "debt_ratio", "credit_lines", "tenure_months", "utilisation"]
CATEGORICAL = ["region", "channel"]
SENSITIVE = "group"


def sample(n: int, seed: int = 0, drift: float = 0.0) -> tuple[pd.DataFrame, pd.Series]:
    """``n`` applications (features incl. the sensitive ``group`` column) and whether each repaid."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(mean=10.8 - 0.15 * drift, sigma=0.35, size=n)
    age = rng.normal(41, 11, size=n).clip(18, 85)
    debt_ratio = rng.beta(2 + 1.0 * drift, 5, size=n)
    credit_lines = rng.poisson(4 + 2 * drift, size=n)
    tenure = rng.gamma(3, 20, size=n)
    utilisation = rng.beta(2 + 1.5 * drift, 4, size=n)
    regions = ["north", "south", "east", "west"]
    mix = np.array([0.25, 0.25, 0.25, 0.25]) * (1 - drift) + np.array([0.1, 0.6, 0.2, 0.1]) * drift
    region = rng.choice(regions, size=n, p=mix / mix.sum())
    channel = rng.choice(["web", "branch", "phone"], size=n, p=[0.6, 0.3, 0.1])
    group = rng.choice(["A", "B"], size=n, p=[0.55, 0.45])
    score = (
        1.6 * (np.log(income) - 10.8)
        - 4.0 * (debt_ratio - 0.3)
        - 2.5 * (utilisation - 0.35) * (1 - 1.5 * drift)
        + 0.02 * (age - 40)
        + 0.004 * tenure
        - 1.2 * drift * (region == "south")
        + 0.8 * drift
    )
    repaid = (score + rng.logistic(scale=0.35, size=n) > 0).astype(int)
    features = pd.DataFrame(
        {
            "income": income.round(2),
            "age": age.round(1),
            "debt_ratio": debt_ratio,
            # A count, but one that can be missing on an application: float, so the model's
            # signature accepts a missing value instead of failing schema enforcement.
            "credit_lines": credit_lines.astype(float),
            "tenure_months": tenure.round(1),
            "utilisation": utilisation,
            "region": region,
            "channel": channel,
            SENSITIVE: group,
        }
    )
    return features, pd.Series(repaid, name="target")


def make_model(random_state: int = 0):
    """Scaled numbers and one-hot categories into a gradient-boosted classifier; ``group`` is not used."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), NUMERIC),
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ],
        remainder="drop",
    )
    return make_pipeline(columns, HistGradientBoostingClassifier(max_iter=120, random_state=random_state))
