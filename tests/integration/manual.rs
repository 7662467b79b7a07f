//! Shell completions and man pages: the bash script loads in a real bash and completes
//! subcommands, flags and values; the man pages render with groff (man-db's renderer)
//! without warnings and cover every subcommand.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Load `script` in a non-interactive bash, run the completion function registered for
/// arena-sweep on `words` (the last one being completed), and return COMPREPLY.
fn complete(script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let line = words.join(" ");
    let program = format!(
        r#"set -u
source "$1" || exit 90
spec=$(complete -p arena-sweep) || exit 91
fn=$(printf '%s\n' "$spec" | sed -n 's/.*-F \([^ ]*\).*/\1/p')
[ -n "$fn" ] || exit 92
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
"$fn" arena-sweep "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" "),
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program, "bash"])
        .arg(script)
        .output()
        .expect("bash runs");
    let (stdout, stderr) = text(&o);
    assert!(
        o.status.success(),
        "completing {words:?} failed ({:?}):\n{stdout}\n{stderr}",
        o.status.code()
    );
    assert!(stderr.is_empty(), "bash complained: {stderr}");
    stdout.lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_loads_and_completes_subcommands_flags_and_values() {
    let o = bin().args(["completions", "bash"]).output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("arena-sweep.bash");
    std::fs::write(&script, &o.stdout).unwrap();

    assert_eq!(complete(&script, &["arena-sweep", "ins"]), ["inspect"]);
    let all = complete(&script, &["arena-sweep", ""]);
    for sub in [
        "run",
        "inspect",
        "export",
        "merge",
        "doctor",
        "completions",
        "man",
    ] {
        assert!(all.iter().any(|w| w == sub), "{sub} missing from {all:?}");
    }
    assert_eq!(
        complete(&script, &["arena-sweep", "pythons", "in"]),
        ["install"]
    );
    assert_eq!(
        complete(&script, &["arena-sweep", "run", "--python-thr"]),
        ["--python-threads"]
    );
    let bindings = complete(&script, &["arena-sweep", "run", "--binding", ""]);
    assert_eq!(
        bindings,
        ["pyo3", "pyo3-detach", "ctypes-cdll", "ctypes-pydll"]
    );
    let shells = complete(&script, &["arena-sweep", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|w| w == shell), "{shells:?}");
    }
}

#[test]
fn other_shells_get_their_own_scripts() {
    for (shell, marker) in [
        ("zsh", "#compdef arena-sweep"),
        ("fish", "complete -c arena-sweep"),
    ] {
        let o = bin().args(["completions", shell]).output().unwrap();
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{stderr}");
        assert!(stdout.contains(marker), "{shell}: {stdout}");
        assert!(stdout.contains("inspect"), "{shell}");
    }
    let o = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// Render roff with groff as `man` does, returning (text with runs of blanks made one
/// space, warnings).
fn render(page: &[u8]) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new("groff")
        // ASCII, no hyphenation (HY=0), and -P-cbou: plain text, no bold, underline or
        // overstrike.
        .args(["-man", "-Tascii", "-ww", "-rLL=100n", "-rHY=0", "-P-cbou"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("groff is installed (scripts/setup-debian.sh installs groff-base)");
    child.stdin.take().unwrap().write_all(page).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    let (page, warnings) = text(&o);
    (squeeze(&page), warnings)
}

fn squeeze(s: &str) -> String {
    s.split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn man_page_renders_and_lists_every_subcommand() {
    let o = bin().arg("man").output().unwrap();
    assert!(o.status.success(), "{:?}", text(&o));
    let (page, warnings) = render(&o.stdout);
    assert_eq!(warnings, "", "groff warnings");
    assert!(page.contains("arena-sweep - Measure and explain glibc malloc arena growth"));
    assert!(page.contains("SUBCOMMANDS"), "{page}");
    for sub in [
        "arena-sweep-run(1)",
        "arena-sweep-inspect(1)",
        "arena-sweep-export(1)",
        "arena-sweep-merge(1)",
        "arena-sweep-completions(1)",
        "arena-sweep-man(1)",
    ] {
        assert!(page.contains(sub), "{sub} missing:\n{page}");
    }
    assert!(
        page.contains("--python-threads"),
        "the bare form's run flags"
    );
    assert!(
        page.contains(&format!("arena-sweep {}", env!("CARGO_PKG_VERSION"))),
        "the version in the footer"
    );
}

#[test]
fn man_out_dir_writes_a_page_per_command_for_man_l() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("Wrote 14 man page(s)"), "{stdout}");
    let run = std::fs::read(dir.path().join("arena-sweep-run.1")).unwrap();
    let (page, warnings) = render(&run);
    assert_eq!(warnings, "");
    assert!(
        page.contains("arena-sweep-run - Run GIL vs free-threaded"),
        "{page}"
    );
    assert!(page.contains("--shard"), "{page}");
    assert!(dir.path().join("arena-sweep-pythons-install.1").is_file());
    // man-db reads the file as a user would (scripts/setup-debian.sh installs it).
    let o = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.path().join("arena-sweep-inspect.1"))
        .env("MANWIDTH", "100")
        .output()
        .expect("man-db is installed (scripts/setup-debian.sh)");
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        squeeze(&stdout).contains("arena-sweep-inspect - Explain a live process"),
        "{stdout}"
    );
}
