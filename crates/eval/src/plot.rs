//! ROC figures (SVG and PNG): several curves in one figure, AUC and CI in the legend,
//! the chance diagonal. Kept apart from the statistics, which never plot.

use crate::roc::RocCurve;
use plotters::prelude::*;
use std::path::Path;

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Drawing failed (fonts, backend).
    #[error("{path}: drawing the figure failed: {message}")]
    Draw {
        /// Output file.
        path: String,
        /// What the backend said.
        message: String,
    },
    /// Writing the file failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// PNG encoding failed.
    #[error("{path}: PNG encoding failed: {message}")]
    Png {
        /// Output file.
        path: String,
        /// What the encoder said.
        message: String,
    },
    /// Nothing to draw, or an unknown extension.
    #[error("{0}")]
    Invalid(String),
}

/// One curve of a figure.
#[derive(Debug, Clone)]
pub struct PlotCurve<'a> {
    /// Legend name.
    pub name: String,
    /// The curve.
    pub curve: &'a RocCurve,
    /// AUC shown in the legend.
    pub auc: f64,
    /// 95% CI shown in the legend, if known.
    pub ci: Option<[f64; 2]>,
}

/// The legend text of a curve: "name: AUC 0.812 (95% CI 0.751–0.873)".
pub fn legend(c: &PlotCurve) -> String {
    match c.ci {
        Some([lo, hi]) => format!("{}: AUC {:.3} (95% CI {:.3}–{:.3})", c.name, c.auc, lo, hi),
        None => format!("{}: AUC {:.3}", c.name, c.auc),
    }
}

const SIZE: (u32, u32) = (720, 720);

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    curves: &[PlotCurve],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("1 − specificity")
        .y_desc("Sensitivity")
        .light_line_style(RGBColor(240, 240, 240))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            ShapeStyle::from(&RGBColor(150, 150, 150)).stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label("chance")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(150, 150, 150)));
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let pts: Vec<(f64, f64)> = c
            .curve
            .points
            .iter()
            .map(|p| (1.0 - p.specificity, p.sensitivity))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(legend(c))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Renders the figure as an SVG document.
pub fn roc_svg(title: &str, curves: &[PlotCurve]) -> Result<String, PlotError> {
    if curves.is_empty() {
        return Err(PlotError::Invalid("no ROC curve to plot".into()));
    }
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        draw(root, title, curves).map_err(|message| PlotError::Draw {
            path: "<svg>".into(),
            message,
        })?;
    }
    Ok(s)
}

/// Renders the figure as RGB pixels (`SIZE.0 × SIZE.1 × 3`).
pub fn roc_rgb(title: &str, curves: &[PlotCurve]) -> Result<(Vec<u8>, u32, u32), PlotError> {
    if curves.is_empty() {
        return Err(PlotError::Invalid("no ROC curve to plot".into()));
    }
    let mut buf = vec![255u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        draw(root, title, curves).map_err(|message| PlotError::Draw {
            path: "<png>".into(),
            message,
        })?;
    }
    Ok((buf, SIZE.0, SIZE.1))
}

/// Writes the figure atomically; the format follows the extension (`.svg` or `.png`).
pub fn write_roc(path: &Path, title: &str, curves: &[PlotCurve]) -> Result<(), PlotError> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "svg" => {
            let s = roc_svg(title, curves).map_err(|e| rename(e, &shown))?;
            store::write_atomic(path, s.as_bytes())?;
        }
        "png" => {
            let (rgb, w, h) = roc_rgb(title, curves).map_err(|e| rename(e, &shown))?;
            let mut bytes = Vec::new();
            {
                let mut enc = png::Encoder::new(&mut bytes, w, h);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let png_err = |e: png::EncodingError| PlotError::Png {
                    path: shown.clone(),
                    message: e.to_string(),
                };
                let mut wr = enc.write_header().map_err(png_err)?;
                wr.write_image_data(&rgb).map_err(png_err)?;
            }
            store::write_atomic(path, &bytes)?;
        }
        _ => {
            return Err(PlotError::Invalid(format!(
                "{shown}: unknown figure format (use .svg or .png)"
            )))
        }
    }
    Ok(())
}

fn rename(e: PlotError, path: &str) -> PlotError {
    match e {
        PlotError::Draw { message, .. } => PlotError::Draw {
            path: path.to_string(),
            message,
        },
        other => other,
    }
}
