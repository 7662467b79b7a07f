//! The HTML report in a real headless Chromium (Debian's `chromium`): it renders
//! without console errors, at the size asked, and is not blank.

use std::path::Path;

use crate::report::report;

/// A PNG's size and how many of its pixels are not the most common colour.
fn png_ink(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let mut counts = std::collections::HashMap::new();
    for p in &px {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let background = counts.values().max().copied().unwrap_or(0);
    (info.width, info.height, px.len() - background)
}

#[test]
fn the_html_renders_in_headless_chromium_without_console_errors() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium is needed for this test: scripts/setup-debian.sh installs Debian's `chromium`");
    let (code, _, _, tmp) = report("tunables", &[]);
    assert_eq!(code, 0);
    let page = tmp.path().join("out/index.html");
    let shot = tmp.path().join("shot.png");
    let o = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,3000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium failed:\n{stderr}");
    // The page has no script: any console message (an error, a refused load) is a defect.
    for bad in ["CONSOLE", "Uncaught", "Refused to"] {
        assert!(
            !stderr.contains(bad),
            "console output from the page:\n{stderr}"
        );
    }
    let (w, h, ink) = png_ink(&shot);
    assert_eq!((w, h), (1400, 3000));
    assert!(
        ink > (w * h / 20) as usize,
        "the screenshot is nearly blank ({ink} non-background pixels)"
    );
}
