//! The `results.jsonl` store: append a record as one flushed line, cut a torn last
//! line before appending, and read the records back (skipping a torn line, refusing
//! a line of a newer format).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::RunRecord;

/// Appends records to a results.jsonl file.
pub struct ResultsWriter {
    file: File,
    path: PathBuf,
}

impl ResultsWriter {
    /// Open for appending; a torn last line (no newline) is cut off first.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {} for appending", path.display()))?;
        truncate_torn_tail(&mut file)
            .with_context(|| format!("cannot repair {}", path.display()))?;
        Ok(ResultsWriter {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Append one record and flush it to the kernel before returning: once this
    /// returns, the record survives the process being killed. It is not fsynced per
    /// run (that guards only against the machine itself going down, at milliseconds
    /// per run); [`ResultsWriter::sync`] does that once at the end of a sweep.
    /// The line is written in this build's format, whatever format the record was
    /// read in (a merge copies records from older folders).
    pub fn append(&mut self, record: &RunRecord) -> Result<()> {
        let mut line = if record.format == crate::format::CURRENT {
            serde_json::to_vec(record)?
        } else {
            serde_json::to_vec(&RunRecord {
                format: crate::format::CURRENT,
                ..record.clone()
            })?
        };
        line.push(b'\n');
        self.file
            .write_all(&line)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.flush()?;
        Ok(())
    }

    /// Ask the kernel to put the file on disk.
    pub fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .with_context(|| format!("cannot sync {}", self.path.display()))
    }
}

fn truncate_torn_tail(file: &mut File) -> std::io::Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(());
    }
    let mut content = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    std::io::Read::read_to_end(file, &mut content)?;
    if content.last() == Some(&b'\n') {
        return Ok(());
    }
    let keep = content
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    file.set_len(keep as u64)?;
    Ok(())
}

/// Records read back, with the line numbers of lines that could not be used.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<RunRecord>,
    /// (line number, reason) of unusable lines.
    pub skipped: Vec<(usize, String)>,
}

/// Read a results.jsonl file. A line that cannot be read (a torn last line) is
/// skipped and listed; a line of a format this build does not read is an error
/// (`crate::format`), so a newer file is never mistaken for a damaged one.
pub fn load(path: &Path) -> Result<Loaded> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Loaded::default();
    let reader = BufReader::new(file);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let what = || format!("{} line {}", path.display(), i + 1);
        match serde_json::from_slice::<RunRecord>(&line) {
            Ok(r) => {
                crate::format::check_version(&r.format.into(), what())?;
                out.records.push(r);
            }
            Err(e) => {
                crate::format::check(&line, what())?;
                out.skipped.push((i + 1, e.to_string()));
            }
        }
    }
    Ok(out)
}
