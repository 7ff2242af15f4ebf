"""pandas side of bench/features_vs_pandas.sh: the same 144 features as features_throughput
(8 sensors x rolling 3h / 24h / 7d x mean, std, min, max, count, slope) with
groupby(machine).rolling(window), timed around the feature computation only (reading the CSV
and parsing timestamps are not timed). Prints JSON with the time and per-feature sums.

    /usr/bin/python3 bench/features_pandas.py telemetry.csv
"""
import json
import sys
import time

import numpy as np
import pandas as pd

SENSORS = ["air_temperature", "process_temperature", "bearing_temperature", "vibration_rms",
           "pressure", "rotational_speed", "torque", "current"]
WINDOWS = ["3h", "24h", "7d"]


def main(path):
    df = pd.read_csv(path)
    # pdm quarantines repeated (machine, timestamp) rows; pandas gets the same rows.
    df = df.drop_duplicates(subset=["machine_id", "timestamp"], keep="first")
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df = df.sort_values(["machine_id", "timestamp"], kind="stable").set_index("timestamp")
    # A categorical machine id: what a pandas user does for speed and memory at this size.
    df["machine_id"] = df["machine_id"].astype("category")
    # Out-of-range values are flagged (set missing) by pdm's validation of the simulator spec.
    ranges = {"air_temperature": (-40, 60), "process_temperature": (-20, 150),
              "bearing_temperature": (-20, 180), "vibration_rms": (0, 50), "pressure": (0, 16),
              "rotational_speed": (0, 4000), "torque": (0, 400), "current": (0, 100)}
    for s, (lo, hi) in ranges.items():
        df.loc[(df[s] < lo) | (df[s] > hi), s] = np.nan
    # Hours since each machine's first reading, for the slope (same unit as pdm: per hour).
    first = df.groupby("machine_id")["machine_id"].transform(lambda g: g.index[0])
    hours = (df.index - pd.DatetimeIndex(first)).total_seconds().to_numpy() / 3600.0
    sums = {}
    start = time.perf_counter()
    for w in WINDOWS:
        g = df.groupby("machine_id", observed=True)[SENSORS]
        r = g.rolling(w)
        kept = {}
        for stat in ["mean", "std", "min", "max", "count"]:
            out = getattr(r, stat)()
            for s in SENSORS:
                col = out[s].to_numpy()
                ok = np.isfinite(col)
                sums[f"{s}_{stat}_{w}"] = [float(col[ok].sum()), int(ok.sum())]
            if stat in ("mean", "count"):
                kept[stat] = out  # reused by the slope below
            del out
        # slope = cov(t, x) / var(t) over the valid samples of each sensor in the window.
        extra = {}
        for s in SENSORS:
            valid = df[s].notna().to_numpy()
            t = np.where(valid, hours, np.nan)
            extra[f"t_{s}"] = t
            extra[f"tt_{s}"] = t * t
            extra[f"tx_{s}"] = t * df[s].to_numpy()
        aux = pd.DataFrame(extra, index=df.index)
        aux["machine_id"] = df["machine_id"].to_numpy()
        means = aux.groupby("machine_id", observed=True).rolling(w).mean()
        del aux
        xmean, count = kept["mean"], kept["count"]
        for s in SENSORS:
            mt = means[f"t_{s}"].to_numpy()
            var_t = means[f"tt_{s}"].to_numpy() - mt * mt
            cov = means[f"tx_{s}"].to_numpy() - mt * xmean[s].to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = np.where((count[s].to_numpy() >= 2) & (var_t > 0), cov / var_t, np.nan)
            ok = np.isfinite(slope)
            sums[f"{s}_slope_{w}"] = [float(slope[ok].sum()), int(ok.sum())]
        del means, kept, xmean, count
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": len(df), "seconds": seconds, "sums": sums}))


if __name__ == "__main__":
    main(sys.argv[1])
