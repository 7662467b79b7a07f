//! The exposition formats: Prometheus text format 0.0.4 and OpenMetrics 1.0.0, from
//! one list of [`Family`]s. Every family has HELP and TYPE (OpenMetrics also UNIT for
//! `_bytes` and `_seconds`); label values and HELP text are escaped as both formats
//! require (`\\`, `\"`, `\n`).

use std::fmt::Write;

/// What a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the Accept header names it (Prometheus asks for it first),
    /// else the text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// The sample name ends in `_total`.
    Counter,
    /// A gauge of 1 whose labels are the information; the name ends in `_info`.
    Info,
}

/// One metric family and its samples.
#[derive(Debug, Clone)]
pub struct Family {
    /// The sample name (with `_total` for a counter, `_info` for an info).
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    pub fn push(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push(Sample { labels, value });
    }
}

/// `s` escaped for a label value.
pub fn escape_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        (if v > 0.0 { "+Inf" } else { "-Inf" }).into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Every family in `format`.
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::with_capacity(families.len() * 256);
    for f in families {
        let family_name = match (format, f.kind) {
            (Format::OpenMetrics, Kind::Counter) => f.name.trim_end_matches("_total"),
            (Format::OpenMetrics, Kind::Info) => f.name.trim_end_matches("_info"),
            _ => f.name,
        };
        let type_name = match (format, f.kind) {
            (_, Kind::Counter) => "counter",
            (Format::OpenMetrics, Kind::Info) => "info",
            _ => "gauge",
        };
        let _ = writeln!(out, "# HELP {family_name} {}", escape_help(f.help));
        let _ = writeln!(out, "# TYPE {family_name} {type_name}");
        if format == Format::OpenMetrics {
            for unit in ["bytes", "seconds"] {
                if family_name.ends_with(&format!("_{unit}")) {
                    let _ = writeln!(out, "# UNIT {family_name} {unit}");
                }
            }
        }
        for s in &f.samples {
            out.push_str(f.name);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", value(s.value));
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_families() -> Vec<Family> {
        let mut g = Family::new("x_resident_bytes", Kind::Gauge, "RSS.\nSecond \\ line");
        g.push(
            vec![("pid", "7".into()), ("comm", "a\"b\\c\nd".into())],
            4096.0,
        );
        let mut c = Family::new("x_errors_total", Kind::Counter, "Errors.");
        c.push(vec![("reason", "io".into())], 3.0);
        let mut i = Family::new("x_build_info", Kind::Info, "Build.");
        i.push(vec![("version", "1.0".into())], 1.0);
        let mut d = Family::new("x_duration_seconds", Kind::Gauge, "Time.");
        d.push(Vec::new(), 0.0125);
        vec![g, c, i, d]
    }

    #[test]
    fn the_text_format_escapes_labels_and_help() {
        let t = render(&sample_families(), Format::Text);
        assert_eq!(
            t,
            "# HELP x_resident_bytes RSS.\\nSecond \\\\ line\n\
             # TYPE x_resident_bytes gauge\n\
             x_resident_bytes{pid=\"7\",comm=\"a\\\"b\\\\c\\nd\"} 4096\n\
             # HELP x_errors_total Errors.\n\
             # TYPE x_errors_total counter\n\
             x_errors_total{reason=\"io\"} 3\n\
             # HELP x_build_info Build.\n\
             # TYPE x_build_info gauge\n\
             x_build_info{version=\"1.0\"} 1\n\
             # HELP x_duration_seconds Time.\n\
             # TYPE x_duration_seconds gauge\n\
             x_duration_seconds 0.0125\n"
        );
    }

    #[test]
    fn openmetrics_names_families_without_suffixes_and_ends_with_eof() {
        let t = render(&sample_families(), Format::OpenMetrics);
        assert!(
            t.contains("# TYPE x_errors counter\nx_errors_total{reason=\"io\"} 3\n"),
            "{t}"
        );
        assert!(
            t.contains("# TYPE x_build info\nx_build_info{version=\"1.0\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("# UNIT x_resident_bytes bytes\n"), "{t}");
        assert!(t.contains("# UNIT x_duration_seconds seconds\n"), "{t}");
        assert!(
            t.ends_with("\n# EOF\n") || t.ends_with("0.0125\n# EOF\n"),
            "{t}"
        );
    }

    #[test]
    fn prometheus_asks_for_openmetrics_first() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some("text/plain")), Format::Text);
        assert_eq!(Format::from_accept(None), Format::Text);
    }

    #[test]
    fn values_are_plain_numbers() {
        assert_eq!(value(3.0), "3");
        assert_eq!(value(1e18), "1000000000000000000");
        assert_eq!(value(0.5), "0.5");
        assert_eq!(value(f64::NAN), "NaN");
    }
}
