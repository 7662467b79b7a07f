"""The minimal in-process rounds script: the reference for arena-sweep's `--rounds`.

It repeats the talk's window ROUNDS times in one process and does nothing else: import
the extension, read RSS, then each round run PYTHON_THREADS workers in a new
ThreadPoolExecutor (each making ITERATIONS calls with a pause between them) and read
RSS once the executor has shut down. It keeps no future past its pool (arena-sweep's
driver keeps none either: 32 futures alive at the snapshot read 30-50 KiB more in
the GIL build). Round r's calls are numbered from r * ITERATIONS,
as arena-sweep's driver numbers them (the PoC's seeds). Prints one line:
`{"deltas_kib": [after round 1, after round 2, ...], "gil_enabled": ...}`.

    python rounds_driver.py EXT_DIR PYTHON_THREADS RUST_THREADS ITERATIONS SLEEP_MS ROUNDS PATTERN PARAMS [WORKLOAD.py [WORKLOAD_PARAMS]]

With a WORKLOAD file, its `call(rust_threads, worker_id, iteration)` is called instead
(after its `setup(params)`).
"""

import sys
import time
from concurrent.futures import ThreadPoolExecutor

EXT_DIR, PY, RUST, ITERS, SLEEP_MS, ROUNDS, PATTERN, PARAMS = sys.argv[1:9]
WORKLOAD = sys.argv[9] if len(sys.argv) > 9 else ""
WORKLOAD_PARAMS = sys.argv[10] if len(sys.argv) > 10 else ""
sys.path.insert(0, EXT_DIR)
import arena_poc  # noqa: E402

PY, RUST, ITERS, ROUNDS = int(PY), int(RUST), int(ITERS), int(ROUNDS)
PAUSE = int(SLEEP_MS) / 1000.0

if WORKLOAD:
    import importlib.util

    spec = importlib.util.spec_from_file_location("workload", WORKLOAD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "setup"):
        module.setup(dict(kv.split("=", 1) for kv in WORKLOAD_PARAMS.split(",") if "=" in kv))
    call = module.call
else:

    def call(rust_threads, worker_id, iteration):
        return arena_poc.run_arena_test(rust_threads, PATTERN, PARAMS, worker_id * 1000003 + iteration)


def worker(worker_id, first):
    for iteration in range(first, first + ITERS):
        call(RUST, worker_id, iteration)
        time.sleep(PAUSE)


before = arena_poc.rss_kib()
deltas = [0] * ROUNDS
for r in range(ROUNDS):
    with ThreadPoolExecutor(max_workers=PY) as executor:
        for i in range(PY):
            executor.submit(worker, i, r * ITERS)
    deltas[r] = arena_poc.rss_kib() - before
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print('{"deltas_kib": [%s], "gil_enabled": %s}' % (",".join(map(str, deltas)), "true" if gil else "false"))
