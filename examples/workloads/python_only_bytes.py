"""A workload with no native call at all: each call builds small bytes objects and
returns them (the caller drops them).

It measures what the Python threads themselves cost, round after round: in the
free-threaded build each new pool's threads leave some of their mimalloc heaps'
pages behind, and with many threads that cost is still rising after 100 rounds of
new pools, while the GIL build's levels off after a few. Its control is the same
threads calling nothing, so its net figures are the cost of the bytes objects alone.

Run it:
    arena-sweep --workload examples/workloads/python_only_bytes.py \
        --python-threads 8,32 --rust-threads 1 --iterations 1 --sleep-ms 0 --rounds 100

Each worker's objects stay alive until the same worker's next call replaces them, as
a service keeps a task's result until the next one comes (and as a script that keeps
the last round's futures does): in the free-threaded build, objects that outlive the
thread that made them keep its mimalloc pages from being freed.

Parameters (--workload-params): count=N objects per call (default 200), size=BYTES
each (default 64), keep=0 to drop each call's objects at once.
"""

COUNT = 200
SIZE = 64
KEEP = True
# The last call's objects, per worker.
KEPT = {}


def setup(params):
    global COUNT, SIZE, KEEP
    COUNT = int(params.get("count", COUNT))
    SIZE = int(params.get("size", SIZE))
    KEEP = params.get("keep", "1") != "0"


def call(rust_threads, worker_id, iteration):
    # rust_threads is ignored: nothing native runs.
    made = [bytes([(worker_id + iteration + i) & 0xFF]) * SIZE for i in range(COUNT)]
    if KEEP:
        KEPT[worker_id] = made
    return len(made)
