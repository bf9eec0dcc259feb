#!/usr/bin/env python3
"""The mutations of scripts/mutate_cuda.sh, applied one at a time to a copy of cuda/.

  mutations.py list CUDA_DIR            one line per mutation: ID<TAB>description
  mutations.py apply CUDA_DIR ID        applies mutation ID to the files in CUDA_DIR

Kinds (issue 14): every __syncthreads() deleted in turn; every shared reduction buffer
shrunk by one element; the first leading dimension of every cuBLAS/cuSOLVER call replaced
by another size of the call; every devInfo check dropped; host pointers passed to kernels.
"""
import re
import sys
from pathlib import Path

FILES = ["admm.cu", "backend_cuda.cu", "certify.cu", "closed_form.cu", "factor.cu", "gradient.cu",
         "signs.cu", "svd.cu"]

# Position (0-based, among the call's arguments) of each routine's leading dimensions and of
# its size arguments, after NVIDIA's signatures.
LD = {"cublasDgemm": ([8, 10, 13], [3, 4, 5]), "cublasDsyrk": ([7, 10], [3, 4]),
      "cublasDgeam": ([7, 10, 12], [3, 4]), "cusolverDnDpotrf": ([4], [2]),
      "cusolverDnDpotrs": ([5, 7], [2, 3])}

# Shared reduction buffers in dynamic shared memory: the term of the size that holds them.
DYNAMIC = [("admm.cu", "+ 33);", "+ 32);", "the persistent kernel's reduction buffer red (33)"),
           ("closed_form.cu", "kn + 32);", "kn + 31);",
            "the closed-form kernel's reduction buffer red (32)")]

INFO = [("factor.cu", 'BLORC_TRY(check_info(c, "Cholesky', "potrf's devInfo in factor"),
        ("factor.cu", 'BLORC_TRY(check_info(c, "triangular', "potrs's devInfo in factor"),
        ("admm.cu", "if (info != 0) return", "potrs's devInfo in admm")]

HOST = [("backend_cuda.cu", "(b->n, c->idx, c->Yall", "(b->n, idx, c->Yall",
         "the host index array passed to gather_kernel"),
        ("factor.cu", "(n, c->L, c->info);", "(n, c->L, &n);",
         "a host int passed to add_identity_check as its flag")]


def call_spans(text, name):
    """(start of the argument list, end) of every call of name in text."""
    for m in re.finditer(re.escape(name) + r"\(", text):
        i, depth = m.end(), 1
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield m.end(), i - 1


def split_args(s):
    args, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            args.append(cur)
            cur = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        cur += ch
    return args + [cur]


def mutations(cuda):
    out = []
    for f in FILES:
        text = (cuda / f).read_text()
        for i in range(text.count("__syncthreads();")):
            line = text[:[m.start() for m in re.finditer(r"__syncthreads\(\);", text)][i]].count("\n") + 1
            out.append((f"sync:{f}:{i}", f"{f}:{line}: delete __syncthreads() #{i + 1}"))
        # Reduction buffers (red, part); cols and norms are capacities for k <= 1024, which
        # the caller checks.
        for i, m in enumerate(re.finditer(r"BLORC_SHARED\((\w+), (red|part), ([^;]+)\);", text)):
            line = text[:m.start()].count("\n") + 1
            out.append((f"shrink:{f}:{i}",
                        f"{f}:{line}: shrink shared reduction buffer {m.group(2)}[{m.group(3)}] by one"))
        for name in LD:
            for i, (a, _) in enumerate(call_spans(text, name)):
                line = text[:a].count("\n") + 1
                out.append((f"ld:{f}:{name}:{i}", f"{f}:{line}: {name}: a wrong leading dimension"))
    for f, old, new, what in DYNAMIC:
        out.append((f"dyn:{f}", f"{f}: shrink {what} by one"))
    for j, (f, old, what) in enumerate(INFO):
        out.append((f"info:{j}", f"{f}: drop the check of {what}"))
    for j, (f, old, new, what) in enumerate(HOST):
        out.append((f"host:{j}", f"{f}: {what}"))
    return out


def replace_once(path, old, new):
    text = path.read_text()
    if old not in text:
        sys.exit(f"mutations.py: '{old}' not found in {path}")
    path.write_text(text.replace(old, new, 1))


def apply(cuda, mid):
    kind, *rest = mid.split(":")
    if kind == "sync":
        f, i = rest[0], int(rest[1])
        p = cuda / f
        text = p.read_text()
        pos = [m.start() for m in re.finditer(r"__syncthreads\(\);", text)][i]
        p.write_text(text[:pos] + ";/* mutant: barrier deleted */" + text[pos + 16:])
    elif kind == "shrink":
        f, i = rest[0], int(rest[1])
        p = cuda / f
        text = p.read_text()
        m = list(re.finditer(r"BLORC_SHARED\((\w+), (red|part), ([^;]+)\);", text))[i]
        p.write_text(text[:m.start(3)] + "(" + m.group(3) + ") - 1" + text[m.end(3):])
    elif kind == "ld":
        f, name, i = rest[0], rest[1], int(rest[2])
        p = cuda / f
        text = p.read_text()
        a, b = list(call_spans(text, name))[i]
        args = split_args(text[a:b])
        lds, sizes = LD[name]
        ld = args[lds[0]].strip()
        others = [args[j].strip() for j in sizes] + [args[j].strip() for j in lds[1:]]
        wrong = next((o for o in others if o != ld), "1")
        args[lds[0]] = " " + wrong
        p.write_text(text[:a] + ",".join(args) + text[b:])
    elif kind == "dyn":
        f, old, new, _ = next(d for d in DYNAMIC if d[0] == rest[0])
        replace_once(cuda / f, old, new)
    elif kind == "info":
        f, old, _ = INFO[int(rest[0])]
        replace_once(cuda / f, old, "if (0) " + old if old.startswith("BLORC_TRY") else
                     old.replace("info != 0", "0"))
    elif kind == "host":
        f, old, new, _ = HOST[int(rest[0])]
        replace_once(cuda / f, old, new)
    else:
        sys.exit(f"mutations.py: unknown mutation {mid}")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("list", "apply"):
        sys.exit(__doc__)
    cuda = Path(sys.argv[2])
    if sys.argv[1] == "list":
        for mid, what in mutations(cuda):
            print(f"{mid}\t{what}")
    else:
        apply(cuda, sys.argv[3])
