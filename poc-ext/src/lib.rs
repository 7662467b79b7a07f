//! `arena_poc`: the proof-of-concept extension that arena-sweep runs under a GIL and a
//! free-threaded CPython.
//!
//! Python API (module `arena_poc`, declared `gil_used = false` so that importing it
//! does not turn the GIL back on in a free-threaded build):
//! - `run_arena_test(rust_threads, pattern="seed", params="", call_id=0) -> int`:
//!   spawn `rust_threads` Rust threads that each run the pattern once, join them, and
//!   return the bytes requested. Holds the GIL (attached) during the call, as the talk did.
//! - `run_arena_test_detached(...)`: the same, with the GIL released (`Python::detach`).
//! - `store_bytes()`, `clear_store()`: the blocks some patterns keep alive.
//! - `rss_kib()`, `malloc_trim(pad=0)`, `malloc_info()` (dict with `arenas`, `heaps`, `per_arena` and the raw
//!   `xml`), `mallinfo2()` (dict), `allocator()` (`"glibc"` or `"jemalloc"`).
//! - `malloc_info_paused(ready_fd=1, wait_fd=0, marker="paused\n")`: `malloc_info()`,
//!   taken before writing `marker` to `ready_fd` and waiting for a byte on `wait_fd`,
//!   with nothing allocated in between, so that another process can read the arenas
//!   in the state malloc_info described (the tests compare arena-sweep's outside
//!   reading with it).
//!
//! C ABI, for the ctypes binding modes: `arena_poc_run(rust_threads, pattern, params,
//! call_id)` returns the bytes requested, or -errno when a Rust thread could not be
//! spawned (-1 for any other failure), and
//! `arena_poc_last_error()` the message of the last failure on this thread.
//!
//! With feature `jemalloc`, every Rust allocation of the extension goes to jemalloc
//! (prefixed symbols, configured through `_RJEM_MALLOC_CONF`), while Python keeps
//! using the system malloc.

pub mod introspect;
pub mod patterns;

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator Rust code in this build uses.
pub const ALLOCATOR: &str = if cfg!(feature = "jemalloc") {
    "jemalloc"
} else {
    "glibc"
};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// C ABI entry point used by the `ctypes-cdll` and `ctypes-pydll` binding modes.
///
/// # Safety
/// `pattern` and `params` must be NUL-terminated strings (or null for the defaults).
#[no_mangle]
pub unsafe extern "C" fn arena_poc_run(
    rust_threads: u32,
    pattern: *const c_char,
    params: *const c_char,
    call_id: u64,
) -> i64 {
    let read = |p: *const c_char, default: &'static str| -> String {
        if p.is_null() {
            default.to_string()
        } else {
            // SAFETY: the caller promises a NUL-terminated string.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    let (pattern, params) = (read(pattern, "seed"), read(params, ""));
    match patterns::call(rust_threads as usize, &pattern, &params, call_id) {
        Ok(bytes) => bytes as i64,
        Err(err) => {
            LAST_ERROR.with(|e| {
                *e.borrow_mut() =
                    CString::new(err.to_string().replace('\0', " ")).unwrap_or_default()
            });
            // -errno for a failed spawn (the driver raises OSError with it), else -1.
            match err.errno() {
                Some(errno) if errno > 1 => -i64::from(errno),
                _ => -1,
            }
        }
    }
}

/// The message of the last failed `arena_poc_run` on this thread.
#[no_mangle]
pub extern "C" fn arena_poc_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

#[pyo3::pymodule(gil_used = false)]
mod arena_poc {
    use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
    use pyo3::prelude::*;
    use pyo3::types::PyDict;

    use crate::{introspect, patterns};

    #[pymodule_export]
    const ALLOCATOR: &str = crate::ALLOCATOR;

    /// A bad pattern or parameter is the caller's `ValueError`; a Rust thread that
    /// could not be spawned is an `OSError` carrying its errno (EAGAIN makes it a
    /// `BlockingIOError`), which the driver files under `thread_spawn` by type; any
    /// other failed run is a `RuntimeError`.
    fn to_py_err(err: patterns::CallError) -> PyErr {
        match (&err, err.errno()) {
            (patterns::CallError::Params(_), _) => PyValueError::new_err(err.to_string()),
            (patterns::CallError::Run(_), Some(errno)) => {
                PyOSError::new_err((errno, err.to_string()))
            }
            (patterns::CallError::Run(_), None) => PyRuntimeError::new_err(err.to_string()),
        }
    }

    /// Run `pattern` on `rust_threads` fresh Rust threads, holding the GIL (attached).
    #[pyfunction]
    #[pyo3(signature = (rust_threads, pattern="seed", params="", call_id=0))]
    fn run_arena_test(
        rust_threads: usize,
        pattern: &str,
        params: &str,
        call_id: u64,
    ) -> PyResult<usize> {
        patterns::call(rust_threads, pattern, params, call_id).map_err(to_py_err)
    }

    /// Like `run_arena_test`, with the GIL released for the duration of the call.
    #[pyfunction]
    #[pyo3(signature = (rust_threads, pattern="seed", params="", call_id=0))]
    fn run_arena_test_detached(
        py: Python<'_>,
        rust_threads: usize,
        pattern: &str,
        params: &str,
        call_id: u64,
    ) -> PyResult<usize> {
        let (pattern, params) = (pattern.to_owned(), params.to_owned());
        py.detach(move || patterns::call(rust_threads, &pattern, &params, call_id))
            .map_err(to_py_err)
    }

    /// Check a pattern and its parameters without running anything.
    #[pyfunction]
    #[pyo3(signature = (pattern, params=""))]
    fn check_pattern(pattern: &str, params: &str) -> PyResult<()> {
        patterns::parse(pattern, params)
            .map(|_| ())
            .map_err(|e| PyValueError::new_err(e.0))
    }

    #[pyfunction]
    fn store_bytes() -> usize {
        patterns::store_bytes()
    }

    #[pyfunction]
    fn clear_store() -> usize {
        patterns::clear_store()
    }

    #[pyfunction]
    fn rss_kib() -> PyResult<u64> {
        introspect::rss_kib().map_err(|e| PyOSError::new_err(e.to_string()))
    }

    #[pyfunction]
    #[pyo3(signature = (pad=0))]
    fn malloc_trim(pad: usize) -> i32 {
        introspect::malloc_trim(pad)
    }

    /// glibc `malloc_info`, parsed: `arenas` (count), per-arena `heaps` and the raw `xml`.
    #[pyfunction]
    fn malloc_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let xml = introspect::malloc_info_xml().map_err(|e| PyOSError::new_err(e.to_string()))?;
        info_dict(py, xml)
    }

    /// `malloc_info()` taken before writing `marker` to `ready_fd` and blocking until a
    /// byte arrives on `wait_fd`, with no allocation in between.
    #[pyfunction]
    #[pyo3(signature = (ready_fd=1, wait_fd=0, marker="paused\n"))]
    fn malloc_info_paused<'py>(
        py: Python<'py>,
        ready_fd: i32,
        wait_fd: i32,
        marker: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let xml = introspect::malloc_info_then_wait(ready_fd, wait_fd, marker.as_bytes())
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        info_dict(py, xml)
    }

    fn info_dict(py: Python<'_>, xml: String) -> PyResult<Bound<'_, PyDict>> {
        let info = introspect::parse_malloc_info(&xml);
        let d = PyDict::new(py);
        d.set_item("arenas", info.arenas.len())?;
        d.set_item("heaps", info.heaps())?;
        d.set_item("system_current_bytes", info.system_current_bytes)?;
        d.set_item("mmap_bytes", info.mmap_bytes)?;
        let heaps: Vec<Bound<'_, PyDict>> = info
            .arenas
            .iter()
            .map(|a| {
                let h = PyDict::new(py);
                h.set_item("nr", a.nr)?;
                h.set_item("system_current_bytes", a.system_current_bytes)?;
                h.set_item("system_max_bytes", a.system_max_bytes)?;
                h.set_item("free_bytes", a.free_bytes)?;
                h.set_item("aspace_total_bytes", a.aspace_total_bytes)?;
                h.set_item("subheaps", a.subheaps)?;
                Ok(h)
            })
            .collect::<PyResult<_>>()?;
        d.set_item("per_arena", heaps)?;
        d.set_item("xml", xml)?;
        Ok(d)
    }

    /// glibc `mallinfo2()` as a dict (bytes, summed over every arena).
    #[pyfunction]
    fn mallinfo2(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in introspect::mallinfo2() {
            d.set_item(k, v)?;
        }
        Ok(d)
    }
}
