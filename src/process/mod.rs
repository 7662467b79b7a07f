//! What `/proc` and the mapped files say about a running process: its libc, how an
//! allocator is linked or preloaded, its start time and owner. Both `inspect` (the
//! command) and `arena` (the arena reader) use these facts, so they live below both;
//! `inspect` re-exports them as `inspect::{linkage, target}`.

pub mod linkage;
pub mod target;
