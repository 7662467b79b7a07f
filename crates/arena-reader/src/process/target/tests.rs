//! Tests of reading one process: where the arena cap comes from, the start time
//! field of `stat`, and the libc of this very process.

use super::*;

#[test]
fn arena_max_comes_from_glibc_tunables_first() {
    let env = parse_environ(
        b"PATH=/bin\0MALLOC_ARENA_MAX=4\0GLIBC_TUNABLES=glibc.malloc.trim_threshold=1:glibc.malloc.arena_max=2\0",
    );
    assert_eq!(
        arena_max_setting(&env),
        Some(ArenaMaxSetting {
            value: 2,
            from: "GLIBC_TUNABLES"
        })
    );
    let env = parse_environ(b"MALLOC_ARENA_MAX=4\0");
    assert_eq!(arena_max_setting(&env).unwrap().value, 4);
    assert_eq!(arena_max_setting(&parse_environ(b"A=b\0")), None);
}

#[test]
fn start_time_is_field_22_even_with_odd_command_names() {
    let stat =
        "1234 (a) b (c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
    assert_eq!(parse_start_ticks(stat), Some(987654));
}

#[test]
fn this_process_is_glibc_on_64_bit() {
    let o = observe(std::process::id() as i32).unwrap();
    assert_eq!(o.libc.kind, LibcKind::Glibc);
    assert_eq!(
        o.libc.version.as_deref(),
        Some(crate::process::linkage::own_glibc_version().as_str()),
        "{}",
        o.libc.version_note
    );
    assert_eq!(o.pointer_bits, Some(64));
    assert!(o.snapshot.threads >= 1);
    assert!(same_process(o.pid, o.start_ticks));
}
