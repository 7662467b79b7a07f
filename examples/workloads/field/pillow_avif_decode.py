"""Pillow AVIF decoding: decoder threads per image.

Threading model: per call. Opening an AVIF image (PIL/AvifImagePlugin.py of the 12.2.0
wheel, `AvifImageFile._open`) builds a `_avif.AvifDecoder(data, codec, max_threads)`
with `max_threads` from the module's `DEFAULT_MAX_THREADS` (0: the CPUs in the
affinity mask). libavif hands the count to its AV1 decoder (dav1d: `n_threads` in
libavif's src/codec_dav1d.c), which starts its worker threads when the decoder is
opened (`dav1d_open` in dav1d's src/lib.c) and joins them when it is closed, with the
image. The grid's Rust-thread count N is `DEFAULT_MAX_THREADS`, set once (every Python
thread uses the same N). The encoded image is made in setup(), before the baseline.

Read in: PIL/AvifImagePlugin.py of the 12.2.0 wheel (`DEFAULT_MAX_THREADS`,
`_get_default_max_threads`, `_open`), libavif's src/codec_dav1d.c, dav1d's src/lib.c.

Parameters (--workload-params): size=PIXELS (square image side, default 512).
"""

# requires: pillow==12.2.0

import io

from PIL import AvifImagePlugin, Image

AVIF = b""


def setup(params):
    global AVIF
    if not AvifImagePlugin.SUPPORTED:
        raise RuntimeError("this Pillow build has no AVIF support")
    side = int(params.get("size", 512))
    img = Image.new("RGB", (side, side))
    img.putdata(
        [((x * 7) & 0xFF, (y * 5) & 0xFF, ((x ^ y) * 3) & 0xFF) for y in range(side) for x in range(side)]
    )
    buf = io.BytesIO()
    img.save(buf, "AVIF", quality=60, speed=8, max_threads=1)
    AVIF = buf.getvalue()


def call(rust_threads, worker_id, iteration):
    AvifImagePlugin.DEFAULT_MAX_THREADS = rust_threads
    with Image.open(io.BytesIO(AVIF)) as im:
        im.load()
        return im.width * im.height * 3
