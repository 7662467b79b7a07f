//! The Debian route to CPython source: read the mirrors from this machine's apt
//! configuration (one-line and deb822 files), run apt with a private state folder in
//! the cache for each suite worth trying, and fetch the source package's
//! `.orig.tar.xz` (the upstream tarball), checked against the signed index's sha256.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Result};

use super::{run_logged, sha256_file, version_matches, SourceTarball};
use crate::programs;

/// One entry of the machine's apt configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
}

/// Parse one-line `.list` content (`deb [opts] uri suite comp...`).
pub fn parse_one_line_sources(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        match words.next() {
            Some("deb" | "deb-src") => {}
            _ => continue,
        }
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            uri: uri.trim_end_matches('/').to_string(),
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

/// Parse deb822 `.sources` content (stanzas of `Key: value` separated by blank lines).
pub fn parse_deb822_sources(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut uris = Vec::new();
        let mut suites = Vec::new();
        let mut components = Vec::new();
        let mut enabled = true;
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let words = || v.split_whitespace().map(str::to_string).collect::<Vec<_>>();
            match k.trim().to_ascii_lowercase().as_str() {
                "uris" => uris = words(),
                "suites" => suites = words(),
                "components" => components = words(),
                "enabled" => enabled = v.trim() != "no",
                _ => {}
            }
        }
        if !enabled {
            continue;
        }
        for uri in uris {
            out.push(AptSource {
                uri: uri.trim_end_matches('/').to_string(),
                suites: suites.clone(),
                components: components.clone(),
            });
        }
    }
    out
}

/// The Debian archive mirrors this machine's apt uses: entries with component `main`
/// whose suites are not security or updates pockets. The order of the config is kept.
pub fn debian_mirrors(sources: &[AptSource]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for s in sources {
        if !s.components.iter().any(|c| c == "main") {
            continue;
        }
        let suites: Vec<String> = s
            .suites
            .iter()
            .filter(|x| !x.contains("security") && !x.contains('-') && !x.contains('/'))
            .cloned()
            .collect();
        if suites.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(u, _)| *u == s.uri) {
            Some((_, known)) => {
                for x in suites {
                    if !known.contains(&x) {
                        known.push(x);
                    }
                }
            }
            None => out.push((s.uri.clone(), suites)),
        }
    }
    out
}

/// Read /etc/apt's sources (both formats).
pub fn machine_apt_sources() -> Vec<AptSource> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        out.extend(parse_one_line_sources(&t));
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let Ok(t) = std::fs::read_to_string(&f) else {
                continue;
            };
            match f.extension().and_then(|e| e.to_str()) {
                Some("list") => out.extend(parse_one_line_sources(&t)),
                Some("sources") => out.extend(parse_deb822_sources(&t)),
                _ => {}
            }
        }
    }
    out
}

/// Suites that have carried CPython 3.13 or newer, newest-stable first; the machine's
/// own suites are tried before these.
const SUITES_WITH_NEW_PYTHON: &[&str] = &["trixie", "forky", "sid"];

struct PrivateApt {
    root: PathBuf,
}

impl PrivateApt {
    fn new(root: PathBuf, mirror: &str, suite: &str) -> Result<Self> {
        for d in [
            "lists/partial",
            "cache/archives/partial",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/apt.conf.d",
        ] {
            std::fs::create_dir_all(root.join(d))?;
        }
        std::fs::write(
            root.join("etc/sources.list"),
            format!("deb-src {mirror} {suite} main\n"),
        )?;
        // An empty dpkg status: nothing about this machine's packages is read or written.
        std::fs::write(root.join("status"), "")?;
        Ok(PrivateApt { root })
    }

    fn cmd(&self, program: &str) -> Command {
        let r = |p: &str| format!("{}", self.root.join(p).display());
        let mut c = Command::new(program);
        for (k, v) in [
            ("Dir::State", r("")),
            ("Dir::State::Lists", r("lists")),
            ("Dir::State::status", r("status")),
            ("Dir::Cache", r("cache")),
            ("Dir::Etc::SourceList", r("etc/sources.list")),
            ("Dir::Etc::SourceParts", r("etc/sources.list.d")),
            ("Dir::Etc::Preferences", r("etc/preferences")),
            ("Dir::Etc::PreferencesParts", r("etc/preferences.d")),
            ("Dir::Etc::Parts", r("etc/apt.conf.d")),
            ("Debug::NoLocking", "1".to_string()),
            (
                "APT::Sandbox::User",
                if nix::unistd::geteuid().is_root() {
                    "root"
                } else {
                    ""
                }
                .to_string(),
            ),
            ("Acquire::Retries", "2".to_string()),
        ] {
            if !v.is_empty() {
                c.arg("-o").arg(format!("{k}={v}"));
            }
        }
        c.env("LC_ALL", "C");
        c
    }
}

/// `(version, [(sha256, size, name)])` for each version `apt-cache showsrc` lists.
type ShowSrc = Vec<(String, Vec<(String, u64, String)>)>;

/// The showsrc parser, for the fuzz tests.
#[cfg(test)]
pub fn fuzz_showsrc(text: &str) -> usize {
    parse_showsrc(text).len()
}

pub(super) fn parse_showsrc(text: &str) -> ShowSrc {
    let mut out: ShowSrc = Vec::new();
    let mut in_sha = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Version: ") {
            out.push((v.trim().to_string(), Vec::new()));
            in_sha = false;
        } else if line.starts_with("Checksums-Sha256:") {
            in_sha = true;
        } else if in_sha && line.starts_with(' ') {
            let w: Vec<&str> = line.split_whitespace().collect();
            if let (Some(last), [sha, size, name]) = (out.last_mut(), w.as_slice()) {
                last.1
                    .push((sha.to_string(), size.parse().unwrap_or(0), name.to_string()));
            }
        } else if !line.starts_with(' ') {
            in_sha = false;
        }
    }
    out
}

/// Fetch the Debian source package of `wanted` (3.13 or 3.13.5) and return its
/// upstream tarball.
pub fn debian(
    wanted: &str,
    cache: &Path,
    downloads: &Path,
    log: &mut std::fs::File,
) -> Result<SourceTarball> {
    use std::io::Write;
    if which::which_global("apt-get").is_err() {
        bail!("apt-get is not installed");
    }
    let minor: String = wanted.split('.').take(2).collect::<Vec<_>>().join(".");
    let package = format!("python{minor}");
    let mirrors = debian_mirrors(&machine_apt_sources());
    if mirrors.is_empty() {
        bail!("this machine's apt configuration names no Debian mirror with component main");
    }
    let mut tried = Vec::new();
    for (mirror, own_suites) in &mirrors {
        for suite in suites_to_try(own_suites) {
            let apt = PrivateApt::new(cache.join("apt").join(&suite), mirror, &suite)?;
            writeln!(
                log,
                "# Debian source: {package} from suite {suite} of {mirror}"
            )?;
            let versions = match matching_versions(&apt, &package, wanted, log)? {
                Ok(versions) => versions,
                Err(why) => {
                    tried.push(format!("{suite}: {why}"));
                    continue;
                }
            };
            for (version, files) in versions {
                let Some((sha, _, orig)) = files.iter().find(|(_, _, n)| n.contains(".orig.tar."))
                else {
                    continue;
                };
                let Some(dest) =
                    download_orig(&apt, &package, &version, sha, orig, downloads, log)?
                else {
                    tried.push(format!("{suite}: {package} {version} did not download"));
                    continue;
                };
                let upstream = version.split('-').next().unwrap_or(&version).to_string();
                return Ok(SourceTarball {
                    path: dest,
                    version: upstream,
                    origin: format!("Debian {suite} source package {package} {version} from {mirror} (sha256 {sha})"),
                });
            }
        }
    }
    bail!(
        "no Debian suite provided {package} {wanted} ({})",
        tried.join("; ")
    )
}

/// The mirror's own suites, then those known to carry a new CPython that it lacks.
fn suites_to_try(own_suites: &[String]) -> Vec<String> {
    let mut suites: Vec<String> = own_suites.to_vec();
    suites.extend(
        SUITES_WITH_NEW_PYTHON
            .iter()
            .map(|s| s.to_string())
            .filter(|s| !own_suites.contains(s)),
    );
    suites
}

/// The versions of `package` that match `wanted` in the suite `apt` is set up for,
/// after an `apt-get update`; or why there are none.
fn matching_versions(
    apt: &PrivateApt,
    package: &str,
    wanted: &str,
    log: &mut std::fs::File,
) -> Result<std::result::Result<ShowSrc, String>> {
    let up = run_logged(
        apt.cmd("apt-get").args(["-q", "update"]),
        Duration::from_secs(600),
        log,
    )?;
    if !up.status.success() {
        return Ok(Err(format!(
            "apt-get update failed: {}",
            programs::last_line(&up.stderr)
        )));
    }
    let show = run_logged(
        apt.cmd("apt-cache").args(["showsrc", package]),
        Duration::from_secs(120),
        log,
    )?;
    let mut versions = parse_showsrc(&String::from_utf8_lossy(&show.stdout));
    versions.retain(|(v, _)| version_matches(wanted, v.split('-').next().unwrap_or("")));
    if versions.is_empty() {
        return Ok(Err(format!("no {package} {wanted}")));
    }
    Ok(Ok(versions))
}

/// The upstream tarball `orig` of `package` `version` in `downloads`, kept if its
/// sha256 is already `sha`, else downloaded; None if the download failed, an error if
/// the file does not match the signed index.
fn download_orig(
    apt: &PrivateApt,
    package: &str,
    version: &str,
    sha: &str,
    orig: &str,
    downloads: &Path,
    log: &mut std::fs::File,
) -> Result<Option<PathBuf>> {
    let dest = downloads.join(orig);
    if !dest.exists() || sha256_file(&dest)? != sha {
        let got = run_logged(
            apt.cmd("apt-get")
                .args([
                    "-q",
                    "source",
                    "--download-only",
                    &format!("{package}={version}"),
                ])
                .current_dir(downloads),
            Duration::from_secs(1800),
            log,
        )?;
        if !got.status.success() || !dest.exists() {
            return Ok(None);
        }
    }
    let actual = sha256_file(&dest)?;
    if actual != sha {
        bail!(
            "{} has sha256 {actual}, but the signed index says {sha}",
            dest.display()
        );
    }
    Ok(Some(dest))
}
