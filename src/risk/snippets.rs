//! How a recommended profile is deployed: its environment as ready-to-paste
//! configuration for a systemd unit, a Dockerfile and a Kubernetes container.

/// Ready-to-paste configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snippets {
    pub systemd: String,
    pub dockerfile: String,
    pub kubernetes: String,
}

/// `'...'` when the value holds anything a POSIX shell treats specially.
pub fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:=,+@%".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

/// A name a shell, systemd, Docker and Kubernetes all accept, and a value with no
/// control character (a line break would start a new directive in a unit file or a
/// Dockerfile). Profiles are checked when loaded; this guards a hand-edited plan.json.
fn renderable(name: &str, value: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.chars().any(char::is_control)
}

/// The snippets for a list of variables.
pub fn snippets(env: &[(String, String)]) -> Snippets {
    if env.is_empty() {
        return Snippets::default();
    }
    if let Some((k, _)) = env.iter().find(|(k, v)| !renderable(k, v)) {
        let refused = format!(
            "# not rendered: {} is not a plain variable name or its value holds a control character\n",
            k.escape_default()
        );
        return Snippets {
            systemd: refused.clone(),
            dockerfile: refused.clone(),
            kubernetes: refused,
        };
    }
    let mut systemd = String::from("[Service]\n");
    let mut dockerfile = String::new();
    let mut kubernetes = String::from("env:\n");
    for (k, v) in env {
        // systemd: C-style escapes inside double quotes, and % starts a specifier.
        let s = v
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('%', "%%");
        systemd.push_str(&format!("Environment=\"{k}={s}\"\n"));
        // Dockerfile: double quotes, where \ " and $ are special.
        let d = v
            .replace('\\', r"\\")
            .replace('"', "\\\"")
            .replace('$', "\\$");
        dockerfile.push_str(&format!("ENV {k}=\"{d}\"\n"));
        // Kubernetes: a YAML double-quoted scalar (JSON's escaping is valid YAML), with
        // $( doubled so it is not taken as a variable reference.
        let y = serde_json::to_string(&v.replace("$(", "$$(")).unwrap_or_default();
        kubernetes.push_str(&format!("  - name: {k}\n    value: {y}\n"));
    }
    Snippets {
        systemd,
        dockerfile,
        kubernetes,
    }
}
