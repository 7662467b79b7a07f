//! Tests of the patterns: parsing, defaults and what each pattern does on a thread.

use super::*;

#[test]
fn defaults_follow_the_table() {
    assert_eq!(
        parse("seed", "").unwrap().pattern,
        Pattern::Seed {
            size: 64 * MIB,
            count: 1
        }
    );
    assert_eq!(
        parse("fragment", "keep_every=8").unwrap().pattern,
        Pattern::Fragment {
            size: 16384,
            count: 512,
            keep_every: 8
        }
    );
    assert_eq!(
        parse("crash", "mode=segv").unwrap().pattern,
        Pattern::Crash { abort: false }
    );
}

#[test]
fn bad_parameters_are_named() {
    assert!(parse("nope", "")
        .unwrap_err()
        .0
        .contains("unknown pattern `nope`"));
    assert!(parse("seed", "sz=1")
        .unwrap_err()
        .0
        .contains("no parameter `sz`"));
    assert!(parse("seed", "size=x").unwrap_err().0.contains("size=x"));
    assert!(parse("seed", "size=1,size=2")
        .unwrap_err()
        .0
        .contains("twice"));
    assert!(parse("retain", "retain_pct=101")
        .unwrap_err()
        .0
        .contains("percentage"));
    assert!(parse("large", "min=10,max=5")
        .unwrap_err()
        .0
        .contains("above max"));
    assert!(parse("fragment", "keep_every=0")
        .unwrap_err()
        .0
        .contains("at least 1"));
}

#[test]
fn fragment_keeps_every_kth_block_and_the_store_is_capped() {
    clear_store();
    let w = parse(
        "fragment",
        "size=1000,count=100,keep_every=10,store_cap=5000",
    )
    .unwrap();
    run_threads(1, &w, 0).unwrap();
    // 10 survivors of 1000 bytes, capped at 5000 bytes: the 5 newest remain.
    assert_eq!(store_bytes(), 5000);
    assert_eq!(clear_store(), 5000);
    assert_eq!(store_bytes(), 0);
}

#[test]
fn strand_keeps_only_the_small_block() {
    clear_store();
    let w = parse("strand", "size=8192,count=16,keep=100").unwrap();
    assert_eq!(
        w.pattern,
        Pattern::Strand {
            size: 8192,
            count: 16,
            keep: 100
        }
    );
    assert_eq!(run_threads(1, &w, 0).unwrap(), 8192 * 16 + 100);
    assert_eq!(store_bytes(), 100);
    clear_store();
}

#[test]
fn log_uniform_stays_in_range() {
    let mut rng = Rng::new(7, 3);
    for _ in 0..10_000 {
        let s = rng.log_uniform(100, 1000);
        assert!((100..=1000).contains(&s));
    }
}

#[test]
fn call_errors_are_typed_by_kind() {
    let e = call(1, "nope", "", 0).unwrap_err();
    assert!(matches!(e, CallError::Params(_)), "{e}");
    assert!(e.to_string().starts_with("unknown pattern `nope`"), "{e}");
    let e = call(1, "seed", "count=x", 0).unwrap_err();
    assert!(matches!(e, CallError::Params(_)), "{e}");
    let e = CallError::Run(SpawnError {
        started: 3,
        requested: 8,
        errno: Some(11),
        message: "Resource temporarily unavailable".into(),
    });
    assert_eq!(
        e.to_string(),
        "could not start Rust thread 4 of 8: Resource temporarily unavailable (errno 11)"
    );
    assert_eq!(call(2, "seed", "count=1,size=64", 0).unwrap(), 2 * 64);
}
