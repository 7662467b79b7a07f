"""The minimal talk-style driver: the reference arena-sweep's numbers are checked against.

It does what the talk's `arena_test.py benchmark --arena-risk` did and nothing else:
import the extension, read RSS, run PYTHON_THREADS workers in a ThreadPoolExecutor
(each starts as soon as it is submitted), each making ITERATIONS calls with a pause
between them, read RSS again once the executor has shut down, print the delta.

    python talk_driver.py [--arenas] EXT_DIR PYTHON_THREADS RUST_THREADS ITERATIONS SLEEP_MS PATTERN PARAMS [WORKLOAD.py [WORKLOAD_PARAMS]]

PATTERN and PARAMS are arena_poc's (e.g. `churn` and `size=1024,count=2000`). With a
WORKLOAD file, its `call(rust_threads, worker_id, iteration)` is called instead (after
its `setup(params)`, like arena-sweep does). RUST_THREADS 0 is the control: the PoC
called with 0 Rust threads, and for a workload its `control(worker_id, iteration)`,
or nothing when it defines none, as arena-sweep's control arm does. Prints one line: `{"delta_kib": N, ...}`.
RSS is read with `arena_poc.rss_kib()` (VmRSS of /proc/self/status), like the talk's
script, and with the GIL state, to show which build ran. With `--arenas` it also
reports glibc's arena count (`malloc_info`), after the second reading and so outside
the window (the benchmark, which times this script as its floor, leaves it out).
"""

import sys
import time
from concurrent.futures import ThreadPoolExecutor

ARENAS = sys.argv[1] == "--arenas"
ARGV = sys.argv[2:] if ARENAS else sys.argv[1:]
EXT_DIR, PY, RUST, ITERS, SLEEP_MS, PATTERN, PARAMS = ARGV[:7]
WORKLOAD = ARGV[7] if len(ARGV) > 7 else ""
WORKLOAD_PARAMS = ARGV[8] if len(ARGV) > 8 else ""
sys.path.insert(0, EXT_DIR)
import arena_poc  # noqa: E402

PY, RUST, ITERS = int(PY), int(RUST), int(ITERS)
PAUSE = int(SLEEP_MS) / 1000.0

if WORKLOAD:
    import importlib.util

    spec = importlib.util.spec_from_file_location("workload", WORKLOAD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "setup"):
        module.setup(dict(kv.split("=", 1) for kv in WORKLOAD_PARAMS.split(",") if "=" in kv))
    call = module.call
    if RUST == 0:
        control = getattr(module, "control", None)
        if control is None:

            def call(rust_threads, worker_id, iteration):
                return None

        else:

            def call(rust_threads, worker_id, iteration):
                return control(worker_id, iteration)

else:

    def call(rust_threads, worker_id, iteration):
        return arena_poc.run_arena_test(rust_threads, PATTERN, PARAMS, worker_id * 1000003 + iteration)


def worker(worker_id):
    for iteration in range(ITERS):
        call(RUST, worker_id, iteration)
        time.sleep(PAUSE)


before = arena_poc.rss_kib()
with ThreadPoolExecutor(max_workers=PY) as executor:
    futures = [executor.submit(worker, i) for i in range(PY)]
after = arena_poc.rss_kib()
for f in futures:
    f.result()
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
# After the last reading: glibc's arena count, which arena-sweep reads at `done`.
arenas = arena_poc.malloc_info()["arenas"] if ARENAS else "null"
print('{"delta_kib": %d, "before_kib": %d, "after_kib": %d, "gil_enabled": %s, "arenas": %s}' % (after - before, before, after, "true" if gil else "false", arenas))
