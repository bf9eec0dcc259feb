#!/usr/bin/env python3
"""OpenBLAS's fallback kernels against the family blorc selects, side by side in one run.

Runs `blorc-gpu bench --device cpu --csv` in three settings, interleaved round by round so
that drift of the machine hits all three alike:
  choice   - OpenBLAS's own choice for this CPU (OPENBLAS_CORETYPE unset)
  fallback - the generic SSE3 kernels (OPENBLAS_CORETYPE=Prescott), what OpenBLAS runs on CPU
             models it does not know, e.g. Emerald Rapids under Debian 12's 0.3.21
  selected - BLORC_EMULATE_BLAS_FALLBACK=1: OpenBLAS starts on the fallback as on such a CPU,
             and blorc replaces it by the family the CPU's feature flags call for
and prints per-stage medians over the rounds (of each run's median over --repeat) and the
ratios fallback / selected and selected / choice.

usage: bench/blas_fallback.py [--blorc build/cpu/blorc-gpu] [--rounds 5] [bench flags...]
"""
import argparse
import os
import statistics
import subprocess
import sys

SETTINGS = [
    ("choice", {}),
    ("fallback", {"OPENBLAS_CORETYPE": "Prescott"}),
    ("selected", {"BLORC_EMULATE_BLAS_FALLBACK": "1"}),
]


def run(blorc, env_extra, args):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    env.update(env_extra)
    version = subprocess.run([blorc, "--version"], env=env, capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
    out = subprocess.run([blorc, "bench", "--device", "cpu", "--csv"] + args, env=env,
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    return version, {r[5]: float(r[6]) for r in rows}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blorc", default="build/cpu/blorc-gpu")
    ap.add_argument("--rounds", type=int, default=5)
    a, rest = ap.parse_known_args()
    bench_args = rest or ["--n", "64", "--batch", "100", "--iters", "2000", "--fixed",
                          "--repeat", "5"]
    times = {name: {} for name, _ in SETTINGS}
    versions = {}
    for _ in range(a.rounds):
        for name, env in SETTINGS:
            versions[name], t = run(a.blorc, env, bench_args)
            for stage, ms in t.items():
                times[name].setdefault(stage, []).append(ms)
    print(f"# OpenBLAS fallback kernels against blorc's selection ({os.cpu_count()} cores)")
    print()
    print(f"Command: `bench/blas_fallback.py {' '.join(sys.argv[1:])}`; bench flags: "
          f"`{' '.join(bench_args)}`; {a.rounds} rounds, interleaved.")
    print()
    for name, _ in SETTINGS:
        print(f"- {name}: `{versions[name]}`")
    print()
    print("| stage | choice ms | fallback ms | selected ms | fallback / selected | selected / choice |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for stage in times["choice"]:
        med = {n: statistics.median(times[n][stage]) for n, _ in SETTINGS}
        ratio = lambda x, y: f"{x / y:.2f}x" if y > 0 else "-"
        print(f"| {stage} | {med['choice']:.3f} | {med['fallback']:.3f} | {med['selected']:.3f} | "
              f"{ratio(med['fallback'], med['selected'])} | {ratio(med['selected'], med['choice'])} |")


if __name__ == "__main__":
    main()
