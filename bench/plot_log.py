#!/usr/bin/env python3
"""Training curves from one or more run directories' log.csv: training loss and validation
PSNR per epoch, written as a PNG. Needs matplotlib (Debian: python3-matplotlib).

  bench/plot_log.py OUT.png RUN_DIR [RUN_DIR ...] [--hline LABEL=DB ...]
"""
import csv
import os
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--hline")]
    hlines = []
    for a in sys.argv[1:]:
        if a.startswith("--hline"):
            label, db = a.split("=", 1)[1].rsplit("=", 1)
            hlines.append((label, float(db)))
    if len(args) < 2:
        sys.exit(__doc__)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_log.py: matplotlib is not installed; no figure written", file=sys.stderr)
        return
    out, runs = args[0], args[1:]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for run in runs:
        rows = list(csv.DictReader(open(os.path.join(run, "log.csv"))))
        ep = [int(r["epoch"]) for r in rows]
        name = os.path.basename(os.path.normpath(run))
        ax1.plot(ep, [float(r["loss"]) for r in rows], label=name)
        line = ax2.plot(ep, [float(r["val_psnr"]) for r in rows], label=f"{name} (mean per signal)")
        if rows and "val_psnr_mse" in rows[0]:  # logs from before the column lack it
            ax2.plot(ep, [float(r["val_psnr_mse"]) for r in rows], ls=":", color=line[0].get_color(),
                     label=f"{name} (of the mean squared error)")
    for label, db in hlines:
        ax2.axhline(db, ls="--", lw=1, color="gray")
        ax2.text(ax2.get_xlim()[0], db, f" {label}", va="bottom", fontsize=8, color="gray")
    ax1.set_xlabel("epoch"), ax1.set_ylabel("training loss (mean 1/2||x* - x||^2)"), ax1.set_yscale("log")
    ax2.set_xlabel("epoch"), ax2.set_ylabel("validation PSNR (dB)")
    ax1.legend(fontsize=8), ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
