"""numpy matmul: OpenBLAS's persistent thread pool.

Threading model: persistent. numpy's wheels bundle OpenBLAS (numpy.libs/
libscipy_openblas64_-*.so). OpenBLAS starts its worker threads once (blas_thread_init in
OpenBLAS's driver/others/blas_server.c) and keeps them for the life of the process;
dgemm splits a large product over them. The grid's Rust-thread count N is the OpenBLAS
thread count, set through the library's own `scipy_openblas_set_num_threads64_` (what
threadpoolctl calls) on the first call, which starts the extra threads inside the
measured window, as a service's first request would. The pool's threads are alive at
the final snapshot. Several Python threads calling dgemm at once are serialized or run
with their own buffers, depending on OpenBLAS's build (its level-3 `blas_memory_alloc`
buffers are per call, from a fixed table of mmap'd slots).

Environment: these machines set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE. arena-sweep
gives each child an explicit environment, so they are dropped unless passed:
`--pass-env OPENBLAS_CORETYPE --pass-env OPENBLAS_L2_SIZE` measures OpenBLAS as this
machine's shell would run it. OPENBLAS_NUM_THREADS is not needed (the thread count is set
per run, from the grid).

Read in: numpy 2.4.6's wheel (numpy.libs, `numpy.show_config()`), OpenBLAS's
driver/others/blas_server.c (`blas_thread_init`, `goto_set_num_threads`) and
driver/others/memory.c (`blas_memory_alloc`).

Parameters (--workload-params): n=N (square matrix size, default 256).
"""

# requires: numpy==2.4.6

import ctypes
import glob
import os
import threading

import numpy as np

A = B = None
_set_threads = None
_lock = threading.Lock()
_threads = [0]


def _openblas():
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    found = sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*.so")))
    if not found:
        raise RuntimeError("no bundled OpenBLAS in %s" % os.path.abspath(libs))
    lib = ctypes.CDLL(found[0])
    fn = lib.scipy_openblas_set_num_threads64_
    fn.argtypes = [ctypes.c_int]
    return fn


def setup(params):
    global A, B, _set_threads
    n = int(params.get("n", 256))
    rng = np.random.default_rng(1)
    A = rng.standard_normal((n, n))
    B = rng.standard_normal((n, n))
    _set_threads = _openblas()


def call(rust_threads, worker_id, iteration):
    if _threads[0] != rust_threads:
        with _lock:
            if _threads[0] != rust_threads:
                _set_threads(rust_threads)
                _threads[0] = rust_threads
    c = A @ B
    return c.nbytes
