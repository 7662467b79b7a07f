"""The python/cpython#156159 pattern: native buffers churned, then Python objects.

Threading model: per call, native. Each call first churns glibc: N threads started by a
native library free and allocate buffers of mixed sizes (here blake3's per-call rayon
pool of N threads hashing, which allocates its job and stack buffers through malloc,
plus numpy temporaries of 4-256 KiB made and dropped by the calling thread through
numpy's allocator, i.e. malloc), leaving free space in the arenas. Then the calling
thread allocates long-lived Python objects larger than 512 bytes and keeps them (a
module-level list that grows by a few KiB per call).

In the GIL build objects over 512 bytes go to PyMem_RawMalloc, i.e. glibc, and can reuse
the free space the native phase left; in the free-threaded build every object comes
from CPython's mimalloc, which cannot use glibc's free space and asks the OS for more.
The report's region split shows the difference as mimalloc growth next to arena heaps
that hold free memory (what `malloc_trim(0)` returns), which is why capping arenas is
the wrong lever here; trimming after the native phase is the one the issue names.

Read in: python/cpython#156159 (the report and its reproducer's shape), CPython's
Objects/obmalloc.c (SMALL_REQUEST_THRESHOLD = 512 for pymalloc; `_PyObject_MiMalloc`
for free-threaded builds), numpy's numpy/_core/src/multiarray/alloc.c (`default_malloc`).

Parameters (--workload-params): keep=N (objects kept per call, default 8), churn=N
(numpy buffers per call, default 64).
"""

# rayon's ThreadPool drop does not join its threads: they exit on their own shortly
# after, so wait for them before the final snapshot.
# settle: 100ms
# requires: blake3==1.0.8, numpy==2.4.6

import blake3
import numpy as np

KEPT = []
DATA = b""
KEEP = 8
CHURN = 64


def setup(params):
    global DATA, KEEP, CHURN
    KEEP = int(params.get("keep", 8))
    CHURN = int(params.get("churn", 64))
    DATA = bytes((i * 2654435761) & 0xFF for i in range(1 << 19))


def call(rust_threads, worker_id, iteration):
    # Native phase: a per-call pool allocates and frees; numpy temporaries churn malloc.
    blake3.blake3(DATA, max_threads=max(rust_threads, 2)).digest()
    for k in range(CHURN):
        a = np.empty(512 + ((k * 2654435761 + iteration) % 32768), dtype=np.float64)
        a.fill(1.0)
        del a
    # Python phase: long-lived objects over 512 bytes.
    for k in range(KEEP):
        KEPT.append(bytes(600 + 64 * k))
    return KEEP * 600
