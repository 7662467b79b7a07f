"""tiktoken encode_ordinary_batch(..., num_threads=N): Python threads started per call.

Threading model: per call, in Python. `Encoding.encode_ordinary_batch` (tiktoken/core.py
of the 0.13.0 wheel) runs `with ThreadPoolExecutor(num_threads) as e:
list(e.map(encoder, text))`: a new pool of N Python threads for every call, each
calling the Rust `CoreBPE.encode_ordinary` (src/py.rs in tiktoken's source), which
releases the GIL (`py.detach`, PyO3 0.26's name for allow_threads) while it encodes. So the native allocations come
from Python threads created and joined inside each call, and on a free-threaded build
each of them also gets its own mimalloc heap.

Offline: the encoding is a toy one built here (the 256 single bytes plus a few hundred
merges learnt from the input), so nothing is downloaded; its shape (a byte-level BPE with
GPT-2's split pattern) is the real one.

Read in: tiktoken/core.py (`Encoding.__init__`, `encode_ordinary_batch`) of the 0.13.0
wheel, tiktoken's src/py.rs (`py_encode_ordinary`, `py.detach`).

Parameters (--workload-params): texts=N (texts per call, default 64), size=BYTES (per
text, default 4096).
"""

# requires: tiktoken==0.13.0

import tiktoken

ENC = None
TEXTS = []

PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def _toy_ranks(sample):
    ranks = {bytes([i]): i for i in range(256)}
    # A few hundred merges: the most frequent adjacent pairs of the sample's words.
    counts = {}
    for word in sample.split():
        b = word.encode()
        for i in range(len(b) - 1):
            counts[b[i : i + 2]] = counts.get(b[i : i + 2], 0) + 1
    for pair, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:300]:
        ranks.setdefault(pair, len(ranks))
    return ranks


def setup(params):
    global ENC
    n = int(params.get("texts", 64))
    size = int(params.get("size", 4096))
    words = ["arena", "malloc", "thread", "free", "heap", "python", "native", "pool", "the", "of"]
    x = 7
    for t in range(n):
        parts = []
        while sum(len(p) + 1 for p in parts) < size:
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            parts.append(words[x % len(words)] + str(x % 97))
        TEXTS.append(" ".join(parts))
    ENC = tiktoken.Encoding(
        "arena-sweep-toy", pat_str=PAT, mergeable_ranks=_toy_ranks(TEXTS[0]), special_tokens={}
    )


def call(rust_threads, worker_id, iteration):
    out = ENC.encode_ordinary_batch(TEXTS, num_threads=rust_threads)
    return sum(len(t) for t in out)
