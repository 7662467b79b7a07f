"""backports.zstd compress(..., nb_workers=N): a ZSTDMT worker pool per compressor.

Threading model: per call. `backports.zstd.compress` builds a new `ZstdCompressor` for
every call (backports/zstd/__init__.py of the 1.3.0 wheel: `comp = ZstdCompressor(...)`;
`comp.compress(data, mode=FLUSH_FRAME)`). With `CompressionParameter.nb_workers` = N > 0
libzstd compresses in multi-threaded mode (ZSTDMT, lib/compress/zstdmt_compress.c in
zstd's source): the context creates a pool of N worker threads (`POOL_create`) and
per-job buffers, and frees them with the context when the compressor is dropped. Jobs
are about 4 x the window size, so only inputs over about 512 KiB at level 3 give every
worker a job; the input here is 2 MiB by default.

Read in: backports/zstd/__init__.py and __init__.pyi of the 1.3.0 wheel (compress,
CompressionParameter.nb_workers), zstd's lib/compress/zstdmt_compress.c (ZSTDMT_createCCtx,
the job size from the window log).

Parameters (--workload-params): size=BYTES (input per call, default 2097152), level=N
(default 3).
"""

# requires: backports.zstd==1.3.0

from backports import zstd

DATA = b""
LEVEL = 3


def setup(params):
    global DATA, LEVEL
    size = int(params.get("size", 2 << 20))
    LEVEL = int(params.get("level", 3))
    # Compressible but not trivially (a repeating text with a counter in it).
    line = b"%08d the quick brown fox jumps over the lazy dog; "
    DATA = b"".join(line % i for i in range(size // len(line % 0) + 1))[:size]


def call(rust_threads, worker_id, iteration):
    # level and options are exclusive: the level goes into the options.
    options = {
        zstd.CompressionParameter.compression_level: LEVEL,
        zstd.CompressionParameter.nb_workers: rust_threads,
    }
    out = zstd.compress(DATA, options=options)
    return len(out)
