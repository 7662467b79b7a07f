"""arena-sweep driver: the Python side of one run (embedded in the arena-sweep binary).

Protocol (its reference is the header of src/runner/executor/protocol.rs, whose tests
parse every example below with the parent's own message types): the parent passes the
config as `key=value` arguments (no JSON parser to import: the driver's start-up is
part of every run's cost). The driver writes one JSON object per line to the message
pipe (file descriptor `msg_fd`) and, after each, waits until the parent writes "go" on
stdin, so the parent can snapshot /proc while the process is paused at a known point:

ready: extension imported, build checked, own RSS read; nothing run yet -> baseline
snapshot
    {"phase": "ready", "pid": 4242, "python": "3.13.5", "gil_enabled": false, "rss_kib": 10240}
round: (with rounds > 1) every Python thread finished one round of the workload, and
more rounds follow -> that round's snapshot; sent after every round but the last
    {"phase": "round"}
done: every Python thread finished the workload (its last round) -> final snapshot
    {"phase": "done"}
trimmed: malloc_trim(0) was called -> after-trim snapshot; "store" is there only when
the pattern keeps blocks alive
    {"phase": "trimmed"}
    {"phase": "trimmed", "store": true}
released: the blocks the pattern kept alive were freed (only after "store": true)
    {"phase": "released"}
report: the run's counters, once every snapshot is taken
    {"phase": "report", "wall_s": 0.52, "calls": 20, "requested_bytes": 1048576, "store_bytes": 0, "trim_returned": 1, "released_bytes": 0, "gil_enabled": false}
verify: (with verify=1) malloc_info was taken and nothing allocated since; the parent
reads the arenas from outside, then writes one byte
    {"phase": "verify"}
self_view: (with verify=1) the process's own account (malloc_info, mallinfo2, pymalloc)
    {"phase": "self_view", "rss_kib": 20480, "arenas_reported": 2, "heaps_reported": 1, "malloc_arenas": [{"system_current_bytes": 135168, "system_max_bytes": 135168, "free_bytes": 1024, "subheaps": 0}], "pymalloc_arena_bytes": null, "malloc_system_bytes": 135168, "mallinfo2": {"arena": 135168, "uordblks": 134144}}
error: anything failed; the driver exits non-zero. "kind" is gil_enabled, gil_disabled,
thread_spawn, import, config or workload
    {"phase": "error", "kind": "config", "message": "unknown binding 'x'"}

Nothing the driver does between two snapshots allocates for the harness: the phase
messages from `done` on are bytes built before the baseline, written with os.write,
and "go" is read into a buffer allocated before the baseline. Between `ready` and
`done` it runs only what the talk's script ran in its window (the executor and the
calls): the checks after the workload come after the `done` snapshot, and the
modules it needs only on failure are imported then. Before `ready` it reads its own
RSS with arena_poc.rss_kib(), as the talk's script did right before its window, so
the same code is paged in on both (code pages faulted in inside the window count
in RSS). Everything else the parent wants to know is sent in `report`, once every
snapshot is taken.

How the Python threads start is the config's "start": "submit" (the talk's harness:
each worker starts as the ThreadPoolExecutor gets it) or "barrier" (every worker
waits at a threading.Barrier and they start together).

A run with rust_threads=0 is a control run: the PoC is called with 0 Rust threads
(the same call, nothing native spawned), and a workload's call is replaced by its
control(worker_id, iteration), or by a no-op when it defines none.

Numbers the driver reports about itself are cross-checks; the parent measures.
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CFG = dict(arg.split("=", 1) for arg in sys.argv[1:])
CFG.setdefault("rounds", "1")
for _key in ("msg_fd", "python_threads", "rust_threads", "iterations", "sleep_ms", "rounds"):
    CFG[_key] = int(CFG[_key])
CFG["verify"] = CFG["verify"] == "1"
CFG["workload"] = (
    {
        "path": CFG["workload"],
        "params": dict(kv.split("=", 1) for kv in CFG["workload_params"].split(",") if "=" in kv),
    }
    if CFG["workload"]
    else None
)
MSG_FD = CFG["msg_fd"]
# Built now, so that sending them later allocates nothing.
ROUND = b'{"phase":"round"}\n'
DONE = b'{"phase":"done"}\n'
TRIMMED = b'{"phase":"trimmed"}\n'
TRIMMED_STORE = b'{"phase":"trimmed","store":true}\n'
RELEASED = b'{"phase":"released"}\n'
VERIFY = '{"phase":"verify"}\n'
GO = bytearray(64)
GO_VIEW = [GO]


def quote(text):
    """A JSON string."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def value(v):
    """A JSON value of the few kinds the driver sends."""
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dict):
        return "{" + ",".join(quote(k) + ":" + value(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value(x) for x in v) + "]"
    return quote(str(v))


def send(msg):
    """A JSON message: only before the baseline snapshot or after the last one."""
    os.write(MSG_FD, (value(msg) + "\n").encode("utf-8", "replace"))


def wait_go():
    # os.readv into a buffer that already exists: no allocation but the int it returns.
    n = os.readv(0, GO_VIEW)
    if n < 3 or GO[0] != 103 or GO[1] != 111:  # b"go"
        # The parent went away or asked us to stop.
        os._exit(3)


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
    None where pymalloc is not in use (free-threaded builds use mimalloc). Imports and
    allocates: only called after the last snapshot."""
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


def self_view(info):
    """The process's own account, around `info` (malloc_info, taken first): only after
    the last snapshot (it allocates)."""
    return {
        "rss_kib": arena_poc.rss_kib(),
        "arenas_reported": info["arenas"],
        "heaps_reported": info["heaps"],
        "malloc_arenas": [
            {k: a[k] for k in ("system_current_bytes", "system_max_bytes", "free_bytes", "subheaps")}
            for a in info["per_arena"]
        ],
        "pymalloc_arena_bytes": pymalloc_arena_bytes(),
        "malloc_system_bytes": info["system_current_bytes"],
        "mallinfo2": arena_poc.mallinfo2(),
    }


GIL_WARNING = "The global interpreter lock (GIL) has been enabled to load module '"
# The module CPython named when it turned the GIL back on (its RuntimeWarning).
GIL_MODULES = []


def watch_gil(run):
    """run(), recording CPython's RuntimeWarning "The global interpreter lock (GIL) has
    been enabled to load module 'X' ..." to name X if the check fails. Other warnings
    are shown as they would have been. Only before the baseline."""
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            return run()
        finally:
            for w in seen:
                text = str(w.message)
                if text.startswith(GIL_WARNING):
                    GIL_MODULES.append(text[len(GIL_WARNING) :].split("'", 1)[0])
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def check_build(when):
    enabled = gil_enabled()
    if CFG["build"] == "nogil" and enabled:
        culprit = (
            "CPython turned it back on to load module '%s', which does not declare that it can run "
            "without the GIL (Py_mod_gil; gil_used = false in PyO3)" % GIL_MODULES[0]
            if GIL_MODULES
            else "an imported extension does not declare free-threading support (gil_used = false)"
        )
        fail(
            "gil_enabled",
            "the GIL is enabled in the free-threaded interpreter %s; %s, "
            "so this would measure a GIL build" % (when, culprit),
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
        watch_gil(lambda: module_spec.loader.exec_module(module))
    except Exception:  # noqa: BLE001 - reported to the parent with the traceback
        fail("workload", "importing %s failed:\n%s" % (path, __import__("traceback").format_exc()))
    # Importing may have loaded an extension that turned the GIL back on.
    check_build("after importing the workload %s" % path)
    setup = getattr(module, "setup", None)
    if setup is not None:
        try:
            watch_gil(lambda: setup(dict(spec["params"])))
        except Exception:  # noqa: BLE001
            fail("workload", "setup() of %s failed:\n%s" % (path, __import__("traceback").format_exc()))
        check_build("after the workload's setup()")
    if CFG["rust_threads"] == 0:
        # A control run: the same threads, calls and pauses with nothing native in
        # them. The workload's own control(worker_id, iteration), when it defines one
        # (the Python-side preparation without the native call), else a no-op.
        control = getattr(module, "control", None)
        if control is None:
            return lambda rust_threads, worker_id, it: None
        return lambda rust_threads, worker_id, it: control(worker_id, it)
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
                # -errno for a failed Rust thread spawn, -1 for anything else.
                message = last_error().decode(errors="replace")
                raise OSError(-got, message) if got < -1 else RuntimeError(message)
            return got

        return call
    fail("config", "unknown binding %r" % binding)


def classify(exc):
    """The failure kind of a call's exception. arena_poc raises OSError with the
    errno of a failed Rust thread spawn (EAGAIN under RLIMIT_NPROC) and ValueError
    for a pattern it refuses; CPython's own thread start fails with an untyped
    RuntimeError, known only by its message."""
    if isinstance(exc, ValueError) and not CFG.get("workload"):
        return "config"
    import errno  # only after a failure: nothing is imported for it before the baseline

    if isinstance(exc, OSError) and exc.errno == errno.EAGAIN:
        return "thread_spawn"
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "thread_spawn"
    return "workload"


def run_workload(call, round_index, requested):
    """Run one round of the workload on the Python threads (a new pool, as the talk's
    script made one); returns (start and end times, errors). A worker does what the
    talk's did (call, pause) and keeps no object it made: its counts go into
    `requested`, a C array made before the baseline (a memoryview over a bytearray, so
    no module is imported for it) and added up only after the last snapshot, so
    nothing a worker thread allocated outlives it (a free-threaded build gives each
    thread its own heap, and a page with one live object in it stays after the thread
    is gone). Round r's calls are numbered from r * iterations, so each round's
    calls get their own seeds."""
    python_threads = CFG["python_threads"]
    rust_threads = CFG["rust_threads"]
    iterations = CFG["iterations"]
    first = round_index * iterations
    pause = CFG["sleep_ms"] / 1000.0
    barrier = threading.Barrier(python_threads) if CFG["start"] == "barrier" else None
    stopped = [False]
    errors = []

    def worker(worker_id):
        if barrier is not None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return
        try:
            for it in range(first, first + iterations):
                if stopped[0]:
                    return
                got = call(rust_threads, worker_id, it)
                if got.__class__ is int and 0 <= got < 1 << 63:
                    requested[worker_id] += got
                # Even a pause of 0: the talk's script called time.sleep(0) too, and
                # that call yields the CPU, which changes how the threads interleave
                # (free-threaded, 32 x 1 with no pause: skipping it read ~0.17 MiB
                # below the script at 2.4 MiB).
                time.sleep(pause)
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            errors.append(exc)
            stopped[0] = True
            if barrier is not None:
                barrier.abort()

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=python_threads) as pool:
            for i in range(python_threads):
                pool.submit(worker, i)
    except RuntimeError as exc:
        fail("thread_spawn", "could not start the Python threads: %s" % exc)
    return t0, time.perf_counter(), errors


def check_errors(errors):
    """Fail the run on the first call that raised (after the round's snapshot is due:
    failing allocates, but a failed run is not measured)."""
    if errors:
        exc = errors[0]
        text = "".join(__import__("traceback").format_exception_only(type(exc), exc)).strip()
        fail(classify(exc), "%d call(s) failed; first: %s" % (len(errors), text))


def main():
    check_build("after importing arena_poc")
    # The pattern is not checked here: the parent refused a bad one with the same
    # parser while building the plan, and checking it again would run the parser's
    # code before the baseline, which the talk's script first ran inside its window
    # (its pages would then be resident before the window instead of inside it).
    call = make_call()
    rounds = CFG["rounds"]
    requested = memoryview(bytearray(8 * CFG["python_threads"])).cast("Q")
    # Each round's start and end times, in a C array made now: keeping them allocates
    # nothing between rounds.
    times = memoryview(bytearray(16 * rounds)).cast("d")
    rss_kib = arena_poc.rss_kib()
    send(dict(phase="ready", pid=os.getpid(), python=sys.version.split()[0], gil_enabled=gil_enabled(), rss_kib=rss_kib))
    wait_go()

    # Every round but the last ends with `round` and a snapshot; the last with `done`.
    for r in range(rounds):
        t0, t1, errors = run_workload(call, r, requested)
        check_errors(errors)
        times[2 * r] = t0
        times[2 * r + 1] = t1
        if r + 1 < rounds:
            os.write(MSG_FD, ROUND)
            wait_go()
    os.write(MSG_FD, DONE)
    wait_go()

    # The done snapshot is taken: what would have run inside the window runs now.
    check_build("after the workload")
    store = arena_poc.store_bytes()
    # Trim while the workload's kept data is still alive: after-trim RSS then splits
    # memory glibc retained but does not use (holes, free tops) from live memory.
    trimmed = arena_poc.malloc_trim(0)
    os.write(MSG_FD, TRIMMED_STORE if store else TRIMMED)
    wait_go()

    released = 0
    if store:
        released = arena_poc.clear_store()
        os.write(MSG_FD, RELEASED)
        wait_go()

    report = dict(
        phase="report",
        # The rounds' workload time, pauses for the snapshots left out.
        wall_s=sum(times[2 * r + 1] - times[2 * r] for r in range(rounds)),
        # Every worker made every call of every round: a failed call fails the run.
        calls=CFG["python_threads"] * CFG["iterations"] * rounds,
        requested_bytes=sum(requested),
        store_bytes=store,
        trim_returned=trimmed,
        released_bytes=released,
        gil_enabled=gil_enabled(),
    )
    send(report)
    wait_go()
    if CFG["verify"]:
        # malloc_info, then the marker, then a one-byte wait with nothing allocated in
        # between, so the parent reads the arenas in the state malloc_info describes.
        info = arena_poc.malloc_info_paused(MSG_FD, 0, VERIFY)
        send(dict(phase="self_view", **self_view(info)))
        wait_go()


main()
