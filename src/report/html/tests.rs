//! Tests of the verdict box: what it shows, and that text from input is escaped.

use super::*;
use crate::risk::{rank_profiles, recommend, AdviceRule};
use crate::tunables::{Catalog, Profile};

/// The three-profile test sweep, judged: arena-max-2 is recommended.
fn judged() -> (Advice, Vec<ProfileRank>) {
    let s = crate::risk::tests_support::sweep();
    let ranks = rank_profiles(&s);
    let catalog = Catalog::for_host();
    let profile = |name: &str, entry: &str| {
        let mut p = Profile::glibc_default();
        p.name = name.into();
        p.tunables = vec![catalog.entry(entry).unwrap()];
        p
    };
    let profiles = [
        Profile::glibc_default(),
        profile("arena-max-1", "glibc.malloc.arena_max=1"),
        profile("arena-max-2", "glibc.malloc.arena_max=2"),
    ];
    let advice = recommend(&s, &ranks, &profiles, &AdviceRule::default());
    (advice, ranks)
}

#[test]
fn the_recommendation_box_shows_the_line_the_snippets_and_the_evidence() {
    let (advice, ranks) = judged();
    let html = advice_box(&advice, &ranks).into_string();
    assert!(
        html.starts_with("<div class=\"rec\"><h3>Recommended: arena-max-2</h3>"),
        "{html}"
    );
    assert!(html.contains("<code class=\"line\">GLIBC_TUNABLES=glibc.malloc.arena_max=2</code>"));
    assert!(html.contains(
        "<b>Dockerfile</b><pre>ENV GLIBC_TUNABLES=&quot;glibc.malloc.arena_max=2&quot;\n</pre>"
    ));
    let evidence = advice.evidence_lines(&ranks);
    assert_eq!(evidence.len(), 2);
    assert_eq!(html.matches("<li>").count(), evidence.len());
    assert!(!html.contains("tikv-jemallocator"), "{html}");
}

#[test]
fn text_from_input_is_escaped_in_every_verdict() {
    let (advice, ranks) = judged();
    let evil = "<script>alert(1)</script>";
    let Verdict::Recommend(mut rec) = advice.verdict.clone() else {
        panic!("{:?}", advice.verdict)
    };
    rec.profile = format!("p{evil}");
    rec.reason = format!("r{evil}");
    rec.env = vec![("GLIBC_TUNABLES".into(), format!("e{evil}"))];
    rec.snippets.systemd = format!("s{evil}");
    for verdict in [
        Verdict::Recommend(rec),
        Verdict::KeepDefault {
            why: format!("w{evil}"),
            hint: format!("h{evil}"),
        },
        Verdict::NotJudged(format!("n{evil}")),
    ] {
        let advice = Advice {
            verdict,
            ..advice.clone()
        };
        let html = advice_box(&advice, &ranks).into_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
    }
}
