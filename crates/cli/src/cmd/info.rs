//! `mammorecall info`: header facts of an image, without patient identifiers.

use anyhow::Result;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Print rows, columns, bit depth, photometric interpretation, transfer syntax,
/// laterality, view, window, modality and SOP class of an image.
#[derive(clap::Args)]
pub struct Args {
    /// Input image (DICOM, PNG or PGM).
    pub input: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also print patient-identifying tags (PatientName, PatientID, BirthDate,
    /// AccessionNumber, …). Off by default so logs and reports stay de-identified.
    #[arg(long)]
    pub show_phi: bool,
}

/// Runs `mammorecall info`.
pub fn run(args: Args) -> Result<()> {
    let info = imaging::read_info(&args.input)?;
    let mut obj = json!({
        "file": args.input.display().to_string(),
        "format": info.format,
        "rows": info.rows,
        "columns": info.columns,
        "bits_stored": info.bits_stored,
        "signed": info.signed,
        "photometric": info.photometric,
        "transfer_syntax": info.transfer_syntax,
        "transfer_syntax_name": info.transfer_syntax_name,
        "laterality": info.laterality,
        "view": info.view,
        "window": info.window.map(|(c, w)| json!({"center": c, "width": w})),
        "modality": info.modality,
        "sop_class": info.sop_class,
    });
    if args.show_phi {
        obj["phi"] = Value::Object(
            info.phi
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&obj)?);
        return Ok(());
    }
    let show = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        Value::Object(m) if m.contains_key("center") => {
            format!("center {} / width {}", m["center"], m["width"])
        }
        other => other.to_string(),
    };
    let keys = [
        "file",
        "format",
        "rows",
        "columns",
        "bits_stored",
        "signed",
        "photometric",
        "transfer_syntax",
        "transfer_syntax_name",
        "laterality",
        "view",
        "window",
        "modality",
        "sop_class",
    ];
    for k in keys {
        println!("{k:<21} {}", show(&obj[k]));
    }
    if let Some(Value::Object(phi)) = obj.get("phi") {
        for (k, v) in phi {
            println!("{k:<21} {}", show(v));
        }
    }
    Ok(())
}
