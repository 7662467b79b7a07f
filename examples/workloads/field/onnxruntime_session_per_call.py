"""onnxruntime with a new InferenceSession per call: an intra-op pool per session.

Threading model: per call. Each `InferenceSession` built without global thread pools
owns an intra-op thread pool of `intra_op_num_threads` - 1 threads (the calling thread
is the last one), created with the session (onnxruntime/core/session/inference_session.cc,
`InferenceSession::ConstructorCommon` via `concurrency::CreateThreadPool`) and joined
when the session is freed. A session per call therefore starts and stops N - 1 threads
per call. The grid's Rust-thread count N is `intra_op_num_threads`.

Allocator: tensors of a CPU session come from onnxruntime's BFC arena over its CPU
allocator (`enable_cpu_mem_arena`, on by default; onnxruntime/core/framework/bfc_arena.cc),
which gets its memory from malloc in large chunks and keeps it for the session's life.
glibc's tunables act on those chunks only as a whole.

The model is tiny and built offline (_onnx_model.py beside this file: two MatMuls of
n x n float32 weights, written as protobuf bytes; no download).

Read in: onnxruntime/capi/onnxruntime_inference_collection.py of the 1.32.0 wheel
(`InferenceSession`), onnxruntime's core/session/inference_session.cc and
core/framework/bfc_arena.cc.

Parameters (--workload-params): n=N (model width, default 128), batch=B (rows per run,
default 64).
"""

# requires: onnxruntime==1.32.0, numpy==2.4.6

import os
import sys

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _onnx_model import model_bytes  # noqa: E402

MODEL = b""
X = None


def setup(params):
    global MODEL, X
    n = int(params.get("n", 128))
    MODEL = model_bytes(n)
    X = np.ones((int(params.get("batch", 64)), n), dtype=np.float32)
    ort.set_default_logger_severity(3)


def call(rust_threads, worker_id, iteration):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = rust_threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(MODEL, sess_options=opts, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"X": X})
    return y.nbytes
