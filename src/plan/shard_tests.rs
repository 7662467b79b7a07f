//! Unit tests of `--shard`: K/N, N with K from the batch system, and bad values.

use super::*;

#[test]
fn shard_forms() {
    let none = |_: &str| None;
    assert_eq!(parse_shard("1/4", none).unwrap(), Shard { k: 1, n: 4 });
    let slurm = |v: &str| (v == "SLURM_ARRAY_TASK_ID").then(|| "2".to_string());
    assert_eq!(parse_shard("3", slurm).unwrap(), Shard { k: 2, n: 3 });
    let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "0".to_string());
    assert_eq!(parse_shard("2", k8s).unwrap(), Shard { k: 0, n: 2 });
    assert!(parse_shard("4/4", none)
        .unwrap_err()
        .to_string()
        .contains("0..N-1"));
    assert!(parse_shard("3", none)
        .unwrap_err()
        .to_string()
        .contains("SLURM_ARRAY_TASK_ID"));
    assert!(parse_shard("a/2", none)
        .unwrap_err()
        .to_string()
        .contains("not a whole number"));
    assert!(parse_shard("0/0", none).is_err());
}
