//! The child's environment and how its Python threads start: the parts of a plan
//! that decide what the measured process sees besides the workload.
//!
//! Every child starts from an empty environment. It gets, in order: the base
//! (`LC_ALL=C.UTF-8`, `PATH=/usr/local/bin:/usr/bin:/bin`), what the user adds with
//! `--env NAME=VALUE` and `--pass-env NAME` (which may replace the base's two), the
//! allocator profile's variables (`GLIBC_TUNABLES`, `LD_PRELOAD`, its `[env]`), and
//! `ARENA_SWEEP_PAD`, a padding variable of random length per run. Variables that
//! would bypass the validated profiles (`GLIBC_TUNABLES`, `LD_PRELOAD`, glibc's
//! `MALLOC_*` spellings) are refused here: they go through `--tunable`/`--tunables`.

use crate::error::usage;

pub use crate::model::StartMode;

/// The base every child gets.
pub fn base() -> Vec<(String, String)> {
    vec![
        ("LC_ALL".to_string(), "C.UTF-8".to_string()),
        (
            "PATH".to_string(),
            "/usr/local/bin:/usr/bin:/bin".to_string(),
        ),
    ]
}

/// Names only arena-sweep sets: the allocator profiles (validated) and the padding.
fn reserved(name: &str) -> Option<&'static str> {
    match name {
        "GLIBC_TUNABLES" => Some("give glibc tunables with --tunable glibc.malloc.NAME=VALUE or a profile with --tunables, so they are validated against this glibc"),
        "LD_PRELOAD" => Some("preload an allocator with a profile (e.g. --tunables preload-jemalloc), so the library is checked"),
        crate::model::PAD_VAR => Some("arena-sweep sets it (a padding of random length per run)"),
        n if n.starts_with("MALLOC_") => Some("it is glibc's older spelling of a malloc tunable; use --tunable glibc.malloc.NAME=VALUE so it is validated and recorded"),
        _ => None,
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_name(flag: &str, given: &str, name: &str) -> anyhow::Result<()> {
    if !valid_name(name) {
        return Err(usage(format!(
            "{flag} {given}: `{name}` is not a variable name (letters, digits and _, not starting with a digit)"
        )));
    }
    if let Some(why) = reserved(name) {
        return Err(usage(format!(
            "{flag} {given}: {name} cannot be set this way: {why}"
        )));
    }
    Ok(())
}

/// The base environment with `--env NAME=VALUE` and `--pass-env NAME` applied; a
/// later entry for the same name replaces an earlier one. `lookup` reads
/// arena-sweep's own environment (for --pass-env).
pub fn resolve(
    env: &[String],
    pass_env: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = base();
    let mut set = |name: String, value: String| {
        out.retain(|(k, _)| *k != name);
        out.push((name, value));
    };
    for e in env {
        let Some((name, value)) = e.split_once('=') else {
            return Err(usage(format!(
                "--env {e}: give NAME=VALUE (for a variable of arena-sweep's own environment, use --pass-env NAME)"
            )));
        };
        check_name("--env", e, name)?;
        if value.contains('\0') {
            return Err(usage(format!("--env {e}: the value holds a NUL byte")));
        }
        set(name.to_string(), value.to_string());
    }
    for name in pass_env {
        check_name("--pass-env", name, name)?;
        let Some(value) = lookup(name) else {
            return Err(usage(format!(
                "--pass-env {name}: {name} is not set in arena-sweep's environment"
            )));
        };
        set(name.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_user_adds_to_the_base_and_may_replace_it() {
        let env = resolve(
            &["OMP_NUM_THREADS=4".into(), "PATH=/opt/bin".into()],
            &["HOME".into()],
            |n| (n == "HOME").then(|| "/root".to_string()),
        )
        .unwrap();
        assert_eq!(
            env,
            [
                ("LC_ALL".to_string(), "C.UTF-8".to_string()),
                ("OMP_NUM_THREADS".to_string(), "4".to_string()),
                ("PATH".to_string(), "/opt/bin".to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ]
        );
        // A value may hold '=' and spaces.
        let env = resolve(&["X=a=b c".into()], &[], none).unwrap();
        assert_eq!(env.last().unwrap().1, "a=b c");
    }

    #[test]
    fn bad_or_reserved_names_are_refused_with_the_flag() {
        let err = |env: &[&str], pass: &[&str]| {
            let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
            let pass: Vec<String> = pass.iter().map(|s| s.to_string()).collect();
            resolve(&env, &pass, none).unwrap_err().to_string()
        };
        assert!(err(&["NOVALUE"], &[]).starts_with("--env NOVALUE: give NAME=VALUE"));
        assert!(err(&["1X=2"], &[]).contains("`1X` is not a variable name"));
        assert!(err(&["GLIBC_TUNABLES=glibc.malloc.arena_max=1"], &[])
            .contains("GLIBC_TUNABLES cannot be set this way: give glibc tunables with --tunable"));
        assert!(err(&["MALLOC_ARENA_MAX=2"], &[]).contains("older spelling"));
        assert!(err(&["LD_PRELOAD=/x.so"], &[]).contains("preload an allocator with a profile"));
        assert!(err(&["ARENA_SWEEP_PAD=x"], &[]).contains("arena-sweep sets it"));
        assert!(err(&[], &["NOT_SET_ANYWHERE"])
            .starts_with("--pass-env NOT_SET_ANYWHERE: NOT_SET_ANYWHERE is not set"));
        assert!(err(&[], &["LD_PRELOAD"]).starts_with("--pass-env LD_PRELOAD: LD_PRELOAD cannot"));
    }
}
