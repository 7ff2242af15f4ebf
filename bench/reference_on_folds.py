"""The reference stack's ensemble (train_table.py's model_for) cross-validated on pdm's own folds.

pdm writes the fold of every out-of-fold row to DIR/oof_scores.csv, in the order of the labelled
rows of the feature table. Scoring the reference on those folds makes the comparison paired:
both sides are tested on the same rows with the same training rows, so the fold assignment's
noise (+-0.002 ROC-AUC on AI4I) cancels out.

    /usr/bin/python3 bench/reference_on_folds.py --reference ../shared/peers/reference_stack \
        --data ai4i.csv --label label --drop rul --folds DIR/oof_scores.csv --seed 1

Prints one JSON object: the soft vote's metrics at threshold 0.5 (as train_table.py reports
them), pdm's on the same rows, and fit seconds.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True, help="directory holding train_table.py")
    ap.add_argument("--data", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--drop", default="")
    ap.add_argument("--folds", required=True, help="pdm's oof_scores.csv (label, score, fold)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scores-out", help="write label, fold, the vote's and each member's "
                    "out-of-fold probability per row (CSV), to study the members")
    a = ap.parse_args()
    sys.path.insert(0, os.path.abspath(a.reference))
    import train_table  # the reference's own model and scoring code

    X, y = train_table.frame(a.data, a.label, [c for c in a.drop.split(",") if c])
    oof = pd.read_csv(a.folds)
    if len(oof) != len(y) or not np.array_equal(oof["label"].to_numpy(), y.astype(float)):
        sys.exit(f"{a.folds}: {len(oof)} rows whose labels do not match the {len(y)} labelled "
                 f"rows of {a.data}")
    fold = oof["fold"].to_numpy()
    Xn = X.to_numpy(np.float32)
    p = np.full(len(y), np.nan)
    members = {}
    t0 = time.perf_counter()
    for f in np.unique(fold):
        tr, te = fold != f, fold == f
        m = train_table.model_for("classify", a.seed).fit(Xn[tr], y[tr])
        p[te] = m.predict_proba(Xn[te])[:, 1]
        for name, est in m.named_estimators_.items():
            members.setdefault(name, np.full(len(y), np.nan))[te] = est.predict_proba(Xn[te])[:, 1]
    fit_s = time.perf_counter() - t0
    if a.scores_out:
        pd.DataFrame({"label": y, "fold": fold, "vote": p,
                      **{f"p_{k}": v for k, v in members.items()}}).to_csv(a.scores_out, index=False)
    ref = train_table.scores("classify", y, p)
    print(json.dumps({"rows": int(len(y)), "fit_s": fit_s,
                      **{k: float(v) for k, v in ref.items()}}, indent=2))


if __name__ == "__main__":
    main()
