//! Allocator profiles: which malloc a child uses and how it is tuned.
//!
//! A profile has a name, a description, `glibc.malloc.*` tunables, an allocator, and
//! extra environment variables. [`render`] is the only place a `GLIBC_TUNABLES` value
//! is produced, and only from validated entries: CVE-2023-4911 came from ld.so parsing
//! this variable, so nothing unvalidated is ever passed to a child.

use serde::{Deserialize, Serialize};

use crate::ext::Variant;

/// Which malloc serves the extension's Rust allocations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    /// The system glibc malloc.
    Glibc,
    /// The extension built with tikv-jemallocator as its global allocator.
    Jemalloc,
    /// A system allocator library preloaded into the whole process.
    Preload(String),
}

impl Allocator {
    /// The extension variant this allocator needs.
    pub fn variant(&self) -> Variant {
        match self {
            Allocator::Jemalloc => Variant::Jemalloc,
            _ => Variant::Glibc,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Allocator::Glibc => "glibc".into(),
            Allocator::Jemalloc => "jemalloc".into(),
            Allocator::Preload(lib) => format!("preload:{lib}"),
        }
    }
}

/// One validated `glibc.<namespace>.<name>=<value>` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tunable {
    /// Full name, e.g. `glibc.malloc.arena_max`.
    pub name: String,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub tunables: Vec<Tunable>,
    pub allocator: Allocator,
    /// Extra environment variables for the child, in order.
    pub env: Vec<(String, String)>,
}

impl Profile {
    /// glibc's malloc as it comes: no tunables.
    pub fn glibc_default() -> Self {
        Profile {
            name: "glibc-default".into(),
            description: "glibc malloc with no tunables: the baseline every other profile is compared with".into(),
            tunables: Vec::new(),
            allocator: Allocator::Glibc,
            env: Vec::new(),
        }
    }

    /// The GLIBC_TUNABLES value for this profile ("" when it sets none).
    pub fn glibc_tunables(&self) -> String {
        render(&self.tunables)
    }

    /// The environment the profile adds to a child.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let rendered = self.glibc_tunables();
        if !rendered.is_empty() {
            env.push(("GLIBC_TUNABLES".to_string(), rendered));
        }
        if let Allocator::Preload(lib) = &self.allocator {
            env.push(("LD_PRELOAD".to_string(), lib.clone()));
        }
        env.extend(self.env.iter().cloned());
        env
    }
}

/// Render validated tunables as `name=value:name=value`, in the order given.
pub fn render(tunables: &[Tunable]) -> String {
    tunables.iter().map(|t| format!("{}={}", t.name, t.value)).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_matches_the_documented_syntax() {
        let t = vec![
            Tunable { name: "glibc.malloc.arena_max".into(), value: 2 },
            Tunable { name: "glibc.malloc.trim_threshold".into(), value: 131072 },
        ];
        // The example from glibc's manual / BACKGROUND.md.
        assert_eq!(render(&t), "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072");
        assert_eq!(Profile::glibc_default().glibc_tunables(), "");
        assert!(Profile::glibc_default().child_env().is_empty());
    }
}
