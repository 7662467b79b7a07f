//! What `/proc` and the mapped files say about a running process: its libc, how an
//! allocator is linked or preloaded, its executable's ELF header, its start time and
//! owner, its `status` and its `smaps` classified into regions. Both `inspect` (the
//! command) and `arena` (the arena reader) use these facts, so they live below both;
//! arena-sweep's `inspect` re-exports them as `inspect::{linkage, target}`, and its
//! sampler takes `smaps` and `status` from here.

pub mod exe;
pub mod linkage;
pub mod smaps;
pub mod status;
pub mod target;
