//! [`PlanError`]: an input error that names where it is, as `file:line: message`.
//!
//! Profile and matrix files are TOML; their errors carry byte spans (from
//! `toml::de::Error::span()` or `toml::Spanned`), which [`Source`] turns into line
//! numbers, so that every message points at the line to fix.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// An error in the user's input, found while the plan is built.
///
/// Displays as `file:line: message`, `file: message` or `message`, depending on what
/// is known. It is a `std::error::Error`, so `?` turns it into an `anyhow::Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub file: Option<PathBuf>,
    /// 1-based.
    pub line: Option<usize>,
    pub message: String,
}

impl PlanError {
    /// An error with no file (a flag, for instance: name it in the message).
    pub fn new(message: impl Into<String>) -> Self {
        PlanError {
            file: None,
            line: None,
            message: message.into(),
        }
    }

    /// An error about a whole file.
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        PlanError {
            file: Some(file.to_path_buf()),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: {}", file.display(), self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PlanError {}

/// The text of one input file, for turning byte offsets into line numbers.
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// Read a file; a file that cannot be read is itself a [`PlanError`].
    pub fn read(path: &Path) -> Result<String, PlanError> {
        std::fs::read_to_string(path)
            .map_err(|e| PlanError::in_file(path, format!("cannot read: {e}")))
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        // Offsets from the parser are on char boundaries; bytes count the same either way.
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// An error at the start of `span`.
    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> PlanError {
        PlanError {
            file: Some(self.path.to_path_buf()),
            line: Some(self.line_of(span.start)),
            message: message.into(),
        }
    }

    /// A TOML syntax or schema error (unknown key, wrong type, missing field, ...).
    pub fn toml_error(&self, err: &toml::de::Error) -> PlanError {
        // One line: toml's syntax errors put what was expected on a second line.
        let message = err
            .message()
            .trim()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ");
        match err.span() {
            // A missing field is about the whole file; the span toml gives it is not a line to fix.
            Some(span) if !message.starts_with("missing field") => self.error(span, message),
            _ => PlanError::in_file(self.path, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_what_is_known() {
        let at = PlanError {
            file: Some("tunables/x.toml".into()),
            line: Some(3),
            message: "bad".into(),
        };
        assert_eq!(at.to_string(), "tunables/x.toml:3: bad");
        assert_eq!(
            PlanError::in_file(Path::new("m.toml"), "bad").to_string(),
            "m.toml: bad"
        );
        assert_eq!(
            PlanError::new("--tunable `x`: bad").to_string(),
            "--tunable `x`: bad"
        );
        // Usable as an anyhow error, with the same text.
        let e: anyhow::Error = at.clone().into();
        assert_eq!(format!("{e:#}"), "tunables/x.toml:3: bad");
        assert_eq!(e.downcast_ref::<PlanError>(), Some(&at));
    }

    #[test]
    fn lines_are_counted_from_one() {
        let src = Source {
            path: Path::new("f.toml"),
            text: "a = 1\nb = 2\n\nc = 3",
        };
        assert_eq!(src.line_of(0), 1);
        assert_eq!(src.line_of(5), 1); // the newline itself
        assert_eq!(src.line_of(6), 2);
        assert_eq!(src.line_of(13), 4);
        assert_eq!(src.line_of(999), 4);
    }
}
