//! Hand-written SVG bar charts for the report (ROC panels come from `eval::plot`).

use std::fmt::Write;

/// Colours of series, colour-blind safe (Okabe–Ito).
pub const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

/// Escapes text for XML/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One series of a grouped bar chart.
pub struct Series {
    /// Legend name.
    pub name: String,
    /// One value per group (None: no bar).
    pub values: Vec<Option<f64>>,
    /// Optional 95% CI per group (drawn as a whisker).
    pub ci: Vec<Option<[f64; 2]>>,
}

/// A grouped bar chart of AUCs (y from 0 to 1, chance line at 0.5), one group per
/// `groups` label and one bar per series; `notes` are printed above each group.
pub fn grouped_bars(title: &str, groups: &[String], series: &[Series], notes: &[String]) -> String {
    let (w, h) = (900.0, 420.0);
    let (left, right, top, bottom) = (60.0, 20.0, 50.0, 110.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let y = |v: f64| top + ph * (1.0 - v.clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        w / 2.0,
        esc(title)
    );
    for k in 0..=10 {
        let v = k as f64 / 10.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.1}</text>"##,
            left + pw,
            left - 6.0,
            yy + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{y5:.1}" y2="{y5:.1}" stroke="#888" stroke-dasharray="5,4"/><text transform="translate(16,{}) rotate(-90)" text-anchor="middle">AUC</text>"##,
        left + pw,
        top + ph / 2.0,
        y5 = y(0.5)
    );
    let ng = groups.len().max(1) as f64;
    let gw = pw / ng;
    let ns = series.len().max(1) as f64;
    let bw = (gw * 0.8) / ns;
    for (g, name) in groups.iter().enumerate() {
        let gx = left + gw * g as f64;
        for (k, se) in series.iter().enumerate() {
            let x = gx + gw * 0.1 + bw * k as f64;
            if let Some(Some(v)) = se.values.get(g) {
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.3}</title></rect>"#,
                    y(*v),
                    (bw - 2.0).max(1.0),
                    (y(0.0) - y(*v)).max(0.0),
                    PALETTE[k % PALETTE.len()],
                    esc(&se.name)
                );
                if let Some(Some([lo, hi])) = se.ci.get(g) {
                    let cx = x + (bw - 2.0) / 2.0;
                    let _ = write!(
                        s,
                        r##"<line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/>"##,
                        y(*lo),
                        y(*hi)
                    );
                }
            }
        }
        let cx = gx + gw / 2.0;
        let _ = write!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="end" transform="rotate(-30 {cx:.1} {:.1})">{}</text>"#,
            y(0.0) + 16.0,
            y(0.0) + 16.0,
            esc(name)
        );
        if let Some(n) = notes.get(g) {
            let _ = write!(
                s,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                top - 6.0,
                esc(n)
            );
        }
    }
    // Legend, bottom right.
    let mut lx = left;
    let ly = h - 14.0;
    for (k, se) in series.iter().enumerate() {
        let _ = write!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
            ly - 10.0,
            PALETTE[k % PALETTE.len()],
            lx + 16.0,
            esc(&se.name)
        );
        lx += 30.0 + 7.0 * se.name.chars().count() as f64;
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_drawn_and_text_escaped() {
        let svg = grouped_bars(
            "a < b",
            &["g1".into(), "g2".into()],
            &[Series {
                name: "x & y".into(),
                values: vec![Some(0.8), None],
                ci: vec![Some([0.7, 0.9]), None],
            }],
            &["p = 0.1".into()],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            2,
            "one bar and one legend box"
        );
        assert!(svg.contains("a &lt; b") && svg.contains("x &amp; y"));
    }
}
