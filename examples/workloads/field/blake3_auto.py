"""blake3 with max_threads=blake3.blake3.AUTO: rayon's global pool, created once per process.

Threading model: persistent. `blake3.blake3.AUTO` (-1) selects `ThreadingMode::Auto`
(src/lib.rs in blake3-py's source), which hashes with `update_rayon` on rayon's global
pool: created on first use with one thread per CPU (RAYON_NUM_THREADS overrides it) and
alive until the process ends, so its threads are still there at the final snapshot. The
grid's Rust-thread count does not apply: AUTO has no thread count. To size the global
pool, pass `--env RAYON_NUM_THREADS=N` (the child's environment is explicit).

Read in: oconnor663/blake3-py src/lib.rs (`ThreadingMode::Auto`, `AUTO`), rayon-core's
src/registry.rs (`global_registry`, `default_global_registry`).

Parameters (--workload-params): size=BYTES (input per call, default 1048576).
"""

# requires: blake3==1.0.8

import blake3

DATA = b""


def setup(params):
    global DATA
    size = int(params.get("size", 1 << 20))
    DATA = bytes((i * 2654435761) & 0xFF for i in range(size))


def call(rust_threads, worker_id, iteration):
    blake3.blake3(DATA, max_threads=blake3.blake3.AUTO).digest()
    return len(DATA)
