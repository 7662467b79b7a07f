"""blake3 with max_threads=N: a rayon thread pool built per call.

Threading model: per call. With max_threads=N > 1, `blake3.blake3(data, max_threads=N)`
builds a `rayon::ThreadPool` of N threads in the constructor (src/lib.rs in blake3-py's
source: `ThreadingMode::Pool { pool: new_thread_pool(n) }`, `ThreadPoolBuilder::new()
.num_threads(n)`), hashes in it with `update_rayon`, releasing the GIL for inputs of
2048 bytes or more (`GIL_MINSIZE`), and drops the pool with the hasher. Compare blake3_auto.py, which uses rayon's global pool.

Read in: oconnor663/blake3-py src/lib.rs (`new_thread_pool`, `ThreadingMode`,
`Blake3Class::new`), and blake3/__init__.pyi of the 1.0.8 wheel. The same as
examples/workloads/blake3_pool_per_call.py, kept here so the survey's folder is whole.

Parameters (--workload-params): size=BYTES (input per call, default 1048576).
"""

# rayon's ThreadPool drop does not join its threads: they exit on their own shortly
# after, so wait for them before the final snapshot.
# settle: 100ms
# requires: blake3==1.0.8

import blake3

DATA = b""


def setup(params):
    global DATA
    size = int(params.get("size", 1 << 20))
    DATA = bytes((i * 2654435761) & 0xFF for i in range(size))


def call(rust_threads, worker_id, iteration):
    # max_threads=1 would hash in the calling thread: at least 2 builds a pool.
    blake3.blake3(DATA, max_threads=max(rust_threads, 2)).digest()
    return len(DATA)
