"""onnxruntime with one InferenceSession shared by every Python thread: a persistent pool.

Threading model: persistent. One session per process (per Rust-thread count), created
by the first call and then run concurrently by every Python thread (`InferenceSession.run`
is thread-safe). Its intra-op pool of `intra_op_num_threads` - 1 threads
(onnxruntime/core/session/inference_session.cc, `concurrency::CreateThreadPool`) lives
as long as the session, so its threads are alive at the final snapshot. Compare
onnxruntime_session_per_call.py, which builds and frees a pool per call.

Allocator: the session's tensors come from onnxruntime's BFC arena (`enable_cpu_mem_arena`,
onnxruntime/core/framework/bfc_arena.cc): malloc'd in large chunks, kept for the
session's life and reused, so they are live memory of the session, not free memory in
glibc's arenas.

Read in: onnxruntime/capi/onnxruntime_inference_collection.py of the 1.32.0 wheel,
onnxruntime's core/session/inference_session.cc and core/framework/bfc_arena.cc.

Parameters (--workload-params): n=N (model width, default 128), batch=B (default 64).
"""

# requires: onnxruntime==1.32.0, numpy==2.4.6

import os
import sys
import threading

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _onnx_model import model_bytes  # noqa: E402

MODEL = b""
X = None
SESSIONS = {}
_lock = threading.Lock()


def setup(params):
    global MODEL, X
    n = int(params.get("n", 128))
    MODEL = model_bytes(n)
    X = np.ones((int(params.get("batch", 64)), n), dtype=np.float32)
    ort.set_default_logger_severity(3)


def _session(threads):
    sess = SESSIONS.get(threads)
    if sess is None:
        with _lock:
            sess = SESSIONS.get(threads)
            if sess is None:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                sess = ort.InferenceSession(MODEL, sess_options=opts, providers=["CPUExecutionProvider"])
                SESSIONS[threads] = sess
    return sess


def call(rust_threads, worker_id, iteration):
    (y,) = _session(rust_threads).run(None, {"X": X})
    return y.nbytes
