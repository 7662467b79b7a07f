//! Shell completions and man pages, generated from the clap definitions in `cli.rs`
//! (clap_complete, clap_mangen), so they cannot drift from the flags the binary takes.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::Cli;

/// The program name the scripts and pages use.
const BIN: &str = "arena-sweep";

/// Write the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> Result<()> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut script);
    if shell == clap_complete::Shell::Bash {
        script = fix_bash_hyphenated_name(&script);
    }
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// clap_complete (4.6.12 and earlier) spells the states of a hyphenated program two
/// ways in its bash script: the loop that walks the words arrives at
/// `arena__sweep__subcmd__run`, the case arms that complete are labelled
/// `arena__subcmd__sweep__subcmd__run`, so nothing after a subcommand ever completed
/// (clap-rs/clap#6421). Relabel the arms the way the loop spells them; a fixed
/// clap_complete makes this a no-op.
fn fix_bash_hyphenated_name(script: &[u8]) -> Vec<u8> {
    let loop_spelling = BIN.replace('-', "__");
    let arm_spelling = BIN.replace('-', "__subcmd__");
    String::from_utf8_lossy(script)
        .replace(&arm_spelling, &loop_spelling)
        .into_bytes()
}

/// Print the main page, or write every page into `out_dir`.
pub fn man(out_dir: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    match out_dir {
        None => {
            clap_mangen::Man::new(Cli::command()).render(out)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("--out-dir {}: cannot create the folder", dir.display())
            })?;
            // generate_to builds the command itself with the help subcommand disabled;
            // building it here first would add a page per `help` pseudo-command.
            clap_mangen::generate_to(Cli::command(), dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(BIN) && n.ends_with(".1"))
                .collect();
            pages.sort();
            writeln!(
                out,
                "Wrote {} man page(s) into {}: {}",
                pages.len(),
                dir.display(),
                pages.join(" ")
            )?;
        }
    }
    Ok(())
}
