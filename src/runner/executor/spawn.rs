//! Starting the driver: its arguments, its environment (nothing inherited), its own
//! process group, and the message pipe's write end as the one descriptor it inherits
//! besides stdio.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::{fail, Fail, RunSpec};
use crate::results::FailureKind;

pub use crate::model::PAD_VAR;

/// The environment a child gets: nothing inherited. The plan's base environment
/// (LC_ALL, PATH and what the user gave with --env/--pass-env), then the profile's
/// variables, then the padding.
pub fn child_env(spec: &RunSpec) -> Vec<(String, String)> {
    let mut env = spec.base_env.to_vec();
    env.extend(spec.env.iter().cloned());
    // Environment size shifts the initial stack and so alignment and timing; a random
    // length per run spreads that effect instead of fixing one arbitrary value.
    env.push((PAD_VAR.to_string(), "x".repeat(spec.env_pad_len)));
    env
}

/// The driver's configuration as `key=value` arguments (driver.py reads them without
/// importing a JSON parser, which would add to every run's start-up).
fn driver_args(spec: &RunSpec, msg_fd: i32) -> Vec<OsString> {
    let kv = |k: &str, v: &OsStr| {
        let mut s = OsString::from(format!("{k}="));
        s.push(v);
        s
    };
    let text = |k: &str, v: &str| kv(k, OsStr::new(v));
    let p = &spec.cell.point;
    let (workload, params) = match spec.workload {
        Some(w) => (
            w.path.as_os_str().to_os_string(),
            w.params
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| format!("{}={}", k.trim(), v.trim()))
                .collect::<Vec<_>>()
                .join(","),
        ),
        None => (OsString::new(), String::new()),
    };
    vec![
        text("msg_fd", &msg_fd.to_string()),
        text("build", spec.cell.build.as_str()),
        kv("ext_dir", spec.ext.dir.as_os_str()),
        kv("ext_file", spec.ext.file.as_os_str()),
        text("python_threads", &p.python_threads.to_string()),
        text("rust_threads", &p.rust_threads.to_string()),
        text("iterations", &spec.iterations.to_string()),
        text("sleep_ms", &spec.sleep_ms.to_string()),
        text("rounds", &spec.rounds.to_string()),
        text("pattern", &p.pattern),
        text("pattern_params", &spec.pattern_params),
        text("binding", p.binding.as_str()),
        text("start", spec.start.as_str()),
        text("verify", if spec.verify { "1" } else { "0" }),
        kv("workload", &workload),
        text("workload_params", &params),
    ]
}

/// Start the driver; returns the child and the message pipe's read end.
pub fn spawn(spec: &RunSpec) -> Result<(Child, OwnedFd), Fail> {
    let (msg_r, msg_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| {
        fail(
            FailureKind::Spawn,
            format!("cannot create the message pipe: {e}"),
        )
    })?;
    let mut cmd = Command::new(spec.python);
    // -s -P rather than -I: the environment is already explicit (cleared, then
    // only what the plan gives), and -I would also drop PYTHON* variables the user
    // passes on purpose with --env.
    cmd.args(["-s", "-P", "-X", "faulthandler"])
        .arg(spec.driver)
        .args(driver_args(spec, msg_w.as_raw_fd()))
        .env_clear()
        .envs(child_env(spec))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // The write end is the one descriptor the child inherits besides stdio: it
    // loses O_CLOEXEC just for this spawn (the parent starts no other process
    // meanwhile), and the driver is told its number. No pre_exec hook, so the
    // standard library can spawn with posix_spawn rather than fork.
    let wfd = msg_w.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(wfd, libc::F_SETFD, 0) } < 0 {
        return Err(fail(
            FailureKind::Spawn,
            format!(
                "cannot pass the message pipe: {}",
                std::io::Error::last_os_error()
            ),
        ));
    }
    let child = cmd.spawn().map_err(|e| {
        fail(
            FailureKind::Spawn,
            format!("cannot start {}: {e}", spec.python.display()),
        )
    })?;
    drop(msg_w);
    Ok((child, msg_r))
}
