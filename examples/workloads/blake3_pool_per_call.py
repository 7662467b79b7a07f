"""A real third-party workload: BLAKE3 hashing with a thread pool built per call.

blake3 (https://pypi.org/project/blake3/) is a PyO3 extension around the Rust blake3
crate, with free-threaded (cp313t) wheels. Given max_threads=N > 1, each
`blake3.blake3(data, max_threads=N)` builds a new rayon ThreadPool of N threads, hashes
with it (the GIL is released while hashing large inputs) and drops it: the per-call
native thread pool that makes glibc recruit a new arena for each fresh thread.

Run it:
    arena-sweep --workload examples/workloads/blake3_pool_per_call.py \
        --python-threads 1,4,8 --rust-threads 2,8,32 --reps 3

Parameters (--workload-params): size=BYTES (the input per call, default 1048576).
"""

# requires: blake3==1.0.8

import blake3

DATA = b""


def setup(params):
    global DATA
    size = int(params.get("size", 1 << 20))
    # Deterministic, incompressible-looking input; allocated once, before the baseline.
    DATA = bytes((i * 2654435761) & 0xFF for i in range(size))


def call(rust_threads, worker_id, iteration):
    # max_threads must be > 1 for blake3 to build its own pool; 1 means single-threaded.
    hasher = blake3.blake3(DATA, max_threads=max(rust_threads, 2))
    hasher.digest()
    return len(DATA)
