"""The `blorc-gpu` command installed with the package: runs the program built with it."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    exe = os.path.join(_HERE, "bin", "blorc-gpu")
    if not os.path.exists(exe):
        sys.stderr.write(f"blorc-gpu: the program is not installed beside the package ({exe})\n")
        return 2
    os.execv(exe, [exe] + sys.argv[1:])
    return 0
