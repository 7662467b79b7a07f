"""pyarrow compute with the system allocator: Arrow's persistent CPU thread pool.

Threading model: persistent. Arrow runs multi-threaded work (here a hash group-by
through Acero, `Table.group_by(..., use_threads=True).aggregate`) on its global CPU
thread pool (arrow/util/thread_pool.cc, `GetCpuThreadPool`), created on first use and
alive until the process ends. The grid's Rust-thread count N is the pool's capacity
(`pyarrow.set_cpu_count(N)`), set on the first call.

Allocator: Arrow's buffers go to its default memory pool, which in the wheels is the
bundled jemalloc (or mimalloc) unless ARROW_DEFAULT_MEMORY_POOL=system selects glibc
malloc (arrow/memory_pool.cc, `DefaultBackend` reads the variable once, at the first
allocation). This workload sets it to "system" before pyarrow is imported, so the
buffers land in glibc's arenas, the case apache/arrow#36100 describes (memory returned
to malloc but not to the OS). Pass `--workload-params pool=jemalloc` to measure the
bundled allocator instead; glibc's tunables do not act on that memory.

Read in: pyarrow/lib.pyx and pyarrow/memory.pxi of the 24.0.0 wheel (`set_cpu_count`,
`default_memory_pool`), Arrow's cpp/src/arrow/memory_pool.cc and
cpp/src/arrow/util/thread_pool.cc.

Parameters (--workload-params): rows=N (default 200000), pool=system|jemalloc|mimalloc
(default system).
"""

# requires: pyarrow==24.0.0

import os
import threading

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pyarrow as pa  # noqa: E402

# group_by().aggregate() imports pyarrow.acero on its first call (`_pac()` in
# pyarrow/table.pxi); importing it here keeps that import out of the measured window.
import pyarrow.acero  # noqa: E402, F401

TABLE = None
_lock = threading.Lock()
_threads = [0]


def setup(params):
    global TABLE
    pool = params.get("pool", "system")
    if pool != os.environ["ARROW_DEFAULT_MEMORY_POOL"]:
        pa.set_memory_pool(getattr(pa, pool + "_memory_pool")())
    rows = int(params.get("rows", 200000))
    TABLE = pa.table(
        {
            "key": pa.array([(i * 7919) % 1000 for i in range(rows)], pa.int64()),
            "value": pa.array([float(i % 977) for i in range(rows)], pa.float64()),
        }
    )


def call(rust_threads, worker_id, iteration):
    if _threads[0] != rust_threads:
        with _lock:
            if _threads[0] != rust_threads:
                pa.set_cpu_count(rust_threads)
                _threads[0] = rust_threads
    out = TABLE.group_by("key", use_threads=True).aggregate([("value", "sum"), ("value", "mean")])
    return out.nbytes
