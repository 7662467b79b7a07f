"""rapidfuzz process.cdist(..., workers=N): a C++ thread pool built per call.

Threading model: per call. `process.cdist` with workers=N >= 2 runs `run_parallel`
(src/rapidfuzz/process_cpp.hpp in rapidfuzz's source), which releases the GIL and builds
a `tf::Executor executor(workers)` (Taskflow) on the stack for that one call; its N
threads are joined when the call returns. The score matrix is malloc'd by the C++ code
(`Matrix` in the same file) and handed to numpy. workers=1 (or 0) runs in the calling
thread, so the grid's Rust-thread count is passed as max(N, 2).

Read in: rapidfuzz/rapidfuzz src/rapidfuzz/process_cpp.hpp (`run_parallel`,
`cdist_two_lists_impl`), and rapidfuzz/process_cpp.py of the 3.14.5 wheel (cdist imports
numpy to wrap the result, hence numpy in the requirements).

Parameters (--workload-params): rows=N (queries and choices per call, default 300).
"""

# requires: rapidfuzz==3.14.5, numpy==2.4.6

# cdist imports numpy on its first call; importing it here keeps that import (and the
# OpenBLAS threads numpy's import starts) out of the measured window.
import numpy  # noqa: F401
from rapidfuzz import fuzz, process

QUERIES = []
CHOICES = []


def _words(n, seed):
    out = []
    x = seed
    for _ in range(n):
        chars = []
        for _ in range(12 + x % 20):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            chars.append("abcdefghijklmnopqrstuvwxyz "[x % 27])
        out.append("".join(chars))
    return out


def setup(params):
    rows = int(params.get("rows", 300))
    QUERIES[:] = _words(rows, 1)
    CHOICES[:] = _words(rows, 2)


def call(rust_threads, worker_id, iteration):
    m = process.cdist(QUERIES, CHOICES, scorer=fuzz.ratio, workers=max(rust_threads, 2))
    return m.nbytes
