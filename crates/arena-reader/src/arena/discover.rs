//! Find every arena of a process, in glibc's own order, from what [`Maps`] shows.
//!
//! 1. Every 64 MiB-aligned heap the maps show starts with a `heap_info` header. A
//!    header is believed when its `ar_ptr` is an arena right after a header (the
//!    arena's first heap) of one of those heaps, its `prev` is 0 or another of them,
//!    and its sizes fit the reservation.
//! 2. The main arena: following `next` from any non-main arena leads, in at most as
//!    many steps as there are arenas, to the one address that is not in a heap:
//!    `main_arena`, which must lie in libc's writable data and have the main arena's
//!    shape ([`State::looks_like_main`]). A process that never made a second arena
//!    has no heap to start from; then libc's writable data is scanned for the one
//!    `malloc_state` whose `next` points to itself and which has that shape.
//! 3. The ring from the main arena through `next` is glibc's order (malloc_info's):
//!    it must visit exactly the arenas of step 1, each once.
//! 4. An arena's heaps are the chain from the heap of its top chunk through `prev`,
//!    as malloc_info counts them.
//!
//! Anything that does not fit is [`Unsettled`]: the caller reads again.

use std::collections::{BTreeMap, BTreeSet};

use super::layout::{Layout, HEAP_MAX};
use super::memory::{Fault, Memory};
use super::state::State;
use super::target::Maps;

/// A `heap_info` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapInfo {
    pub address: u64,
    pub ar_ptr: u64,
    pub prev: u64,
    pub size: u64,
    pub mprotect_size: u64,
}

/// One arena found: its state as read, and its heaps (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub state: State,
    pub is_main: bool,
    pub heaps: Vec<HeapInfo>,
}

/// The arenas in ring order (main first), and notes.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub arenas: Vec<Found>,
    pub notes: Vec<String>,
}

/// Why discovery did not settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsettled {
    /// Worth reading again.
    Moved(String),
    /// The process is gone or reading is refused.
    Fault(Fault),
}

fn read_state<M: Memory + ?Sized>(
    mem: &mut M,
    layout: &Layout,
    addr: u64,
) -> Result<Option<State>, Unsettled> {
    let mut buf = vec![0u8; layout.state.size as usize];
    match mem.read(addr, &mut buf) {
        Ok(()) => Ok(Some(State::parse(layout, addr, &buf))),
        Err(Fault::Unmapped { .. } | Fault::Other { .. }) => Ok(None),
        Err(f) => Err(Unsettled::Fault(f)),
    }
}

fn read_heap_info<M: Memory + ?Sized>(
    mem: &mut M,
    addr: u64,
) -> Result<Option<HeapInfo>, Unsettled> {
    let mut b = [0u8; 32];
    match mem.read(addr, &mut b) {
        Ok(()) => {
            let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8"));
            Ok(Some(HeapInfo {
                address: addr,
                ar_ptr: w(0),
                prev: w(1),
                size: w(2),
                mprotect_size: w(3),
            }))
        }
        Err(Fault::Unmapped { .. } | Fault::Other { .. }) => Ok(None),
        Err(f) => Err(Unsettled::Fault(f)),
    }
}

/// Step 1: believable heap headers, by address.
fn heap_headers<M: Memory + ?Sized>(
    mem: &mut M,
    layout: &Layout,
    maps: &Maps,
    notes: &mut Vec<String>,
) -> Result<BTreeMap<u64, HeapInfo>, Unsettled> {
    let slots: BTreeSet<u64> = maps.heap_slots.iter().map(|s| s.0).collect();
    let mut raw = BTreeMap::new();
    for &(start, rw_end) in &maps.heap_slots {
        if let Some(h) = read_heap_info(mem, start)? {
            let fits = h.size >= layout.heap_info
                && h.size <= h.mprotect_size
                && h.mprotect_size <= HEAP_MAX
                && h.size <= rw_end - start;
            let prev_ok = h.prev == 0 || slots.contains(&h.prev);
            if fits && prev_ok {
                raw.insert(start, h);
                continue;
            }
        }
        notes.push(format!(
            "the 64 MiB-aligned mapping at {start:#x} does not start with a glibc heap header (another allocator's, or a heap being set up)"
        ));
    }
    // ar_ptr must be the state right after some heap's header, whose own ar_ptr is it.
    let first_heap_of = |ar: u64| {
        ar.checked_sub(layout.heap_info)
            .filter(|h| h % HEAP_MAX == 0)
    };
    let good: BTreeMap<u64, HeapInfo> = raw
        .iter()
        .filter(|(_, h)| {
            first_heap_of(h.ar_ptr)
                .is_some_and(|f| raw.get(&f).is_some_and(|fh| fh.ar_ptr == h.ar_ptr))
        })
        .map(|(a, h)| (*a, *h))
        .collect();
    for a in raw.keys().filter(|a| !good.contains_key(a)) {
        notes.push(format!(
            "the heap at {a:#x} names an arena that is not at the start of one of the heaps (a layout other than glibc {}.{}'s?)",
            layout.glibc.0, layout.glibc.1
        ));
    }
    Ok(good)
}

/// Step 2, with arenas in heaps: follow `next` to the address outside them.
fn main_by_ring<M: Memory + ?Sized>(
    mem: &mut M,
    layout: &Layout,
    maps: &Maps,
    states: &BTreeMap<u64, State>,
) -> Result<State, Unsettled> {
    let start = states.values().next().expect("non-empty");
    let mut x = start.next;
    for _ in 0..=states.len() {
        match states.get(&x) {
            Some(s) => x = s.next,
            None => {
                let in_data = maps.data.iter().any(|&(s, e)| x >= s && x < e);
                let st = if in_data {
                    read_state(mem, layout, x)?
                } else {
                    None
                };
                return match st {
                    Some(st) if st.looks_like_main(layout, maps.brk, false) && states.contains_key(&st.next) => Ok(st),
                    _ => Err(Unsettled::Moved(format!(
                        "the ring of arenas leads to {x:#x}, which is not a main arena in libc's data"
                    ))),
                };
            }
        }
    }
    Err(Unsettled::Moved(
        "the ring of arenas never reaches the main arena".into(),
    ))
}

/// Step 2, without a second arena: scan libc's writable data.
fn main_by_shape<M: Memory + ?Sized>(
    mem: &mut M,
    layout: &Layout,
    maps: &Maps,
) -> Result<State, Unsettled> {
    let size = layout.state.size;
    let mut found = Vec::new();
    for &(s, e) in &maps.data {
        let mut buf = vec![0u8; (e - s) as usize];
        match mem.read(s, &mut buf) {
            Ok(()) => {}
            Err(Fault::Unmapped { .. } | Fault::Other { .. }) => continue,
            Err(f) => return Err(Unsettled::Fault(f)),
        }
        let mut off = 0u64;
        while off + size <= e - s {
            let next_at = (off + layout.state.next) as usize;
            let next = u64::from_le_bytes(buf[next_at..next_at + 8].try_into().expect("8"));
            if next == s + off {
                let st = State::parse(layout, s + off, &buf[off as usize..(off + size) as usize]);
                if st.looks_like_main(layout, maps.brk, true) {
                    found.push(st);
                }
            }
            off += 8;
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(Unsettled::Moved(
            "no malloc_state with the main arena's shape in libc's writable data".into(),
        )),
        n => Err(Unsettled::Moved(format!(
            "{n} places in libc's writable data have the main arena's shape"
        ))),
    }
}

/// Steps 3 and 4.
pub fn discover<M: Memory + ?Sized>(
    mem: &mut M,
    layout: &Layout,
    maps: &Maps,
) -> Result<Discovery, Unsettled> {
    let mut notes = Vec::new();
    let heaps = heap_headers(mem, layout, maps, &mut notes)?;
    let mut states = BTreeMap::new();
    for h in heaps
        .values()
        .filter(|h| h.ar_ptr == h.address + layout.heap_info)
    {
        let st = read_state(mem, layout, h.ar_ptr)?.ok_or_else(|| {
            Unsettled::Moved(format!("the arena at {:#x} is unreadable", h.ar_ptr))
        })?;
        states.insert(h.ar_ptr, st);
    }
    let main = if states.is_empty() {
        main_by_shape(mem, layout, maps)?
    } else {
        main_by_ring(mem, layout, maps, &states)?
    };
    let mut arenas = vec![Found {
        state: main.clone(),
        is_main: true,
        heaps: Vec::new(),
    }];
    let mut x = main.next;
    while x != main.address {
        let st = states.get(&x).ok_or_else(|| {
            Unsettled::Moved(format!(
                "the ring of arenas names {x:#x}, which is in no heap"
            ))
        })?;
        if arenas.iter().any(|a| a.state.address == x) {
            return Err(Unsettled::Moved("the ring of arenas loops".into()));
        }
        arenas.push(Found {
            state: st.clone(),
            is_main: false,
            heaps: chain(&heaps, st)?,
        });
        x = st.next;
    }
    if arenas.len() != states.len() + 1 {
        return Err(Unsettled::Moved(format!(
            "the ring holds {} arena(s), the heaps {}",
            arenas.len() - 1,
            states.len()
        )));
    }
    Ok(Discovery { arenas, notes })
}

/// The heaps of `st`'s arena, from its top chunk's heap back through `prev`, oldest first.
fn chain(heaps: &BTreeMap<u64, HeapInfo>, st: &State) -> Result<Vec<HeapInfo>, Unsettled> {
    let mut out = Vec::new();
    let mut h = st.top & !(HEAP_MAX - 1);
    while h != 0 {
        let info = heaps
            .get(&h)
            .filter(|i| i.ar_ptr == st.address)
            .ok_or_else(|| {
                Unsettled::Moved(format!(
                    "the arena at {:#x} reaches {h:#x}, which is not one of its heaps",
                    st.address
                ))
            })?;
        if out.len() > heaps.len() {
            return Err(Unsettled::Moved("a heap chain loops".into()));
        }
        out.push(*info);
        h = info.prev;
    }
    out.reverse();
    Ok(out)
}
