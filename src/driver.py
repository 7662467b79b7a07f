"""arena-sweep driver: the Python side of one run (embedded in the arena-sweep binary).

Protocol: the parent passes one JSON config as argv[1]. The driver writes JSON lines
to the message pipe (file descriptor `msg_fd`) and, after each phase, waits until the
parent writes "go" on stdin, so the parent can snapshot /proc while the process is
paused at a known point:

    ready    extension imported, build checked; nothing run yet   -> baseline snapshot
    done     every Python thread finished the workload            -> final snapshot
    trimmed  malloc_trim(0) was called                             -> after-trim snapshot
    released blocks the pattern kept alive were freed (only when there were any)

On failure it writes {"phase": "error", "kind": ..., "message": ...} and exits non-zero.
Numbers the driver reports about itself are cross-checks; the parent measures.
"""

import json
import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

CFG = json.loads(sys.argv[1])
OUT = os.fdopen(CFG["msg_fd"], "w", buffering=1)


def send(msg):
    OUT.write(json.dumps(msg, separators=(",", ":")) + "\n")
    OUT.flush()


def wait_go():
    line = sys.stdin.readline()
    if line.strip() != "go":
        # The parent went away or asked us to stop.
        sys.exit(3)


def fail(kind, message, code=4):
    send({"phase": "error", "kind": kind, "message": message})
    sys.exit(code)


def gil_enabled():
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


sys.path.insert(0, CFG["ext_dir"])
try:
    import arena_poc
except Exception as exc:  # noqa: BLE001 - anything here means the extension is unusable
    fail("import", "cannot import arena_poc from %s: %r" % (CFG["ext_dir"], exc))


def pymalloc_arena_bytes():
    """Bytes in pymalloc arenas (GIL builds), from sys._debugmallocstats(), which
    writes to the C-level stderr: redirect fd 2 to a temporary file around the call.
    None where pymalloc is not in use (free-threaded builds use mimalloc)."""
    import re
    import tempfile

    dump = getattr(sys, "_debugmallocstats", None)
    if dump is None:
        return None
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            dump()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    m = re.search(r"(\d+) arenas \* (\d+) bytes/arena\s*=\s*([\d,]+)", text)
    return int(m.group(3).replace(",", "")) if m else None


def self_view():
    info = arena_poc.malloc_info()
    return {
        "rss_kib": arena_poc.rss_kib(),
        "arenas_reported": info["arenas"],
        "heaps_reported": info["heaps"],
        "pymalloc_arena_bytes": pymalloc_arena_bytes(),
        "malloc_system_bytes": info["system_current_bytes"],
        "mallinfo2": arena_poc.mallinfo2(),
        "store_bytes": arena_poc.store_bytes(),
        "gil_enabled": gil_enabled(),
    }


def check_build(when):
    enabled = gil_enabled()
    if CFG["build"] == "nogil" and enabled:
        fail(
            "gil_enabled",
            "the GIL is enabled in the free-threaded interpreter %s; "
            "an imported extension does not declare free-threading support (gil_used = false), "
            "so this would measure a GIL build" % when,
        )
    if CFG["build"] == "gil" and not enabled:
        fail("gil_disabled", "the GIL is disabled in the interpreter given as the GIL build (%s)" % when)


def load_workload(spec):
    """Import the user's workload file and run its setup(params)."""
    import importlib.util

    path = spec["path"]
    module_spec = importlib.util.spec_from_file_location("arena_sweep_workload", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - reported to the parent with the traceback
        fail("workload", "importing %s failed:\n%s" % (path, traceback.format_exc()))
    # Importing may have loaded an extension that turned the GIL back on.
    check_build("after importing the workload %s" % path)
    setup = getattr(module, "setup", None)
    if setup is not None:
        try:
            setup(dict(spec["params"]))
        except Exception:  # noqa: BLE001
            fail("workload", "setup() of %s failed:\n%s" % (path, traceback.format_exc()))
        check_build("after the workload's setup()")
    return module.call


def make_call():
    """A function (rust_threads, worker_id, iteration) for the configured binding."""
    if CFG.get("workload"):
        return load_workload(CFG["workload"])
    binding = CFG["binding"]
    pattern = CFG["pattern"]
    params = CFG["pattern_params"]
    if binding == "pyo3":
        fn = arena_poc.run_arena_test
        return lambda rust_threads, worker_id, it: fn(rust_threads, pattern, params, worker_id * 1000003 + it)
    if binding == "pyo3-detach":
        fn = arena_poc.run_arena_test_detached
        return lambda rust_threads, worker_id, it: fn(rust_threads, pattern, params, worker_id * 1000003 + it)
    if binding in ("ctypes-cdll", "ctypes-pydll"):
        import ctypes

        loader = ctypes.CDLL if binding == "ctypes-cdll" else ctypes.PyDLL
        lib = loader(CFG["ext_file"])
        run = lib.arena_poc_run
        run.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64]
        run.restype = ctypes.c_int64
        last_error = lib.arena_poc_last_error
        last_error.restype = ctypes.c_char_p
        pattern_b, params_b = pattern.encode(), params.encode()

        def call(rust_threads, worker_id, it):
            got = run(rust_threads, pattern_b, params_b, worker_id * 1000003 + it)
            if got < 0:
                raise RuntimeError(last_error().decode(errors="replace"))
            return got

        return call
    fail("config", "unknown binding %r" % binding)


def classify(exc):
    text = str(exc)
    if "errno 11" in text or "can't start new thread" in text or "Resource temporarily unavailable" in text:
        return "thread_spawn"
    return "workload"


def main():
    check_build("after importing arena_poc")
    if not CFG.get("workload"):
        try:
            arena_poc.check_pattern(CFG["pattern"], CFG["pattern_params"])
        except ValueError as exc:
            fail("config", str(exc))
    call = make_call()
    send(dict(phase="ready", pid=os.getpid(), python=sys.version.split()[0], **self_view()))
    wait_go()

    python_threads = CFG["python_threads"]
    rust_threads = CFG["rust_threads"]
    iterations = CFG["iterations"]
    pause = CFG["sleep_ms"] / 1000.0
    start = threading.Barrier(python_threads)
    errors = []
    calls = [0]
    lock = threading.Lock()
    requested = [0]

    def worker(worker_id):
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        for it in range(iterations):
            try:
                got = call(rust_threads, worker_id, it)
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                with lock:
                    errors.append(exc)
                start.abort()
                return
            with lock:
                calls[0] += 1
                requested[0] += got if isinstance(got, int) else 0
            if pause:
                time.sleep(pause)

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=python_threads) as pool:
            futures = [pool.submit(worker, i) for i in range(python_threads)]
            for f in futures:
                f.result()
    except RuntimeError as exc:
        fail("thread_spawn", "could not start the Python threads: %s" % exc)
    wall = time.perf_counter() - t0
    if errors:
        exc = errors[0]
        fail(classify(exc), "%d call(s) failed; first: %s" % (len(errors), "".join(traceback.format_exception_only(type(exc), exc)).strip()))
    check_build("after the workload")
    send(dict(phase="done", wall_s=wall, calls=calls[0], requested_bytes=requested[0], **self_view()))
    wait_go()

    # Trim while the workload's kept data is still alive: after-trim RSS then splits
    # memory glibc retained but does not use (holes, free tops) from live memory.
    trimmed = arena_poc.malloc_trim(0)
    send(dict(phase="trimmed", trim_returned=trimmed, **self_view()))
    wait_go()

    if arena_poc.store_bytes():
        released = arena_poc.clear_store()
        send(dict(phase="released", released_bytes=released, **self_view()))
        wait_go()


main()
