//! `mammorecall convert`: the 8-bit presentation image of a DICOM/PNG/PGM as PNG.

use anyhow::Result;
use std::path::PathBuf;

/// Write the 8-bit presentation image (DICOM: modality LUT → VOI → polarity) as PNG.
#[derive(clap::Args)]
pub struct Args {
    /// Input image (DICOM, PNG or PGM).
    pub input: PathBuf,
    /// Output PNG file (written atomically: never left half-written).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Shrink by area averaging so that the long side is at most N pixels.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_side: Option<u32>,
}

/// Runs `mammorecall convert`.
pub fn run(args: Args) -> Result<()> {
    let decoded = imaging::read_image(&args.input)?;
    let mut img = decoded.display;
    if let Some(n) = args.max_side {
        img = imaging::resize::shrink_area(&img, n as usize);
    }
    imaging::pngio::write_png8(&args.output, &img)?;
    Ok(())
}
