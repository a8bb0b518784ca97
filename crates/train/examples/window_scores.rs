//! Every window's abnormality score (log-odds of "any class but the first") for each
//! held-out image of a cross-validated window-pooling run, unflipped and mirrored, one CSV
//! row each: the raw material for comparing ways of pooling windows into one image score,
//! and for seeing where the most abnormal window of a negative image lies (it showed the
//! chest-wall edge, which hard-negative mining now teaches the patch classifier).
//!
//! `cargo run -p train --example window_scores -- RUN_DIR SPLIT.csv MANIFEST.csv OUT.csv [patches]`
//!
//! With `patches`, each fold's patch classifier (its last round) reads the images instead
//! of the whole-image model: for a malignant-vs-negative run its classes are normal /
//! benign / malignant, so its abnormality scores abnormal (benign or malignant) vs negative.

use std::io::Write;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (run, split, manifest, out, patches) = match args.as_slice() {
        [r, s, m, o] => (r, s, m, o, false),
        [r, s, m, o, p] if p == "patches" => (r, s, m, o, true),
        _ => {
            return Err(
                "usage: window_scores RUN_DIR SPLIT.csv MANIFEST.csv OUT.csv [patches]".into(),
            )
        }
    };
    let device = burn::tensor::Device::flex();
    let (cfg, models) = train::run::load_run(&PathBuf::from(run), &device)?;
    let m = data::Manifest::read(&PathBuf::from(manifest))?;
    let split = data::split::Split::read(&PathBuf::from(split), &m)?;
    let side = cfg.preprocess.size;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(w, "image,label,fold,flip,grid,scores")?;
    for (k, model) in models.into_iter().enumerate() {
        let fold = format!("fold-{}", k + 1);
        let model = if patches {
            let dir = train::patches::classifier_of(&PathBuf::from(run).join(&fold));
            let mut mc = model::ModelConfig::load_json(&dir.join(train::run::MODEL_FILE))?;
            let mut network = mc.init(&device)?;
            model::weights::load(&mut network, &dir.join(train::run::WEIGHTS_FILE))?;
            // Whole images through the fully convolutional patch network: its constant
            // mean at the whole-image size.
            mc.input_size = side;
            let blank = train::input::MemoryImages {
                side,
                images: vec![vec![0; side * side]],
            };
            let input = train::input::Input::from_training(&mc, &blank, &[0])?;
            eprintln!("{fold}: {}", dir.display());
            train::run::LoadedModel { network, input }
        } else {
            model
        };
        for i in split.fold(0, k + 1) {
            let r = &m.records[i];
            let decoded = imaging::read_image(&m.image_path(r))?;
            let pre = imaging::preprocess::preprocess_decoded(&decoded, &cfg.preprocess)?;
            let views = train::infer::Tta::Flip.apply(&pre.image.data, side);
            for (flip, img) in views.into_iter().enumerate() {
                let source = train::input::MemoryImages {
                    side,
                    images: vec![img],
                };
                let x = model.input.batch(&source, &[0], None, &device);
                let map = model
                    .network
                    .window_abnormality(model.network.feature_map(x))
                    .ok_or("the run's network has no window pooling")?;
                let [_, gh, gw] = map.dims();
                let scores: Vec<String> = map
                    .into_data()
                    .try_to_vec::<f32>()?
                    .iter()
                    .map(|s| format!("{s:.4}"))
                    .collect();
                writeln!(
                    w,
                    "{},{},{fold},{flip},{gh}x{gw},{}",
                    r.image,
                    r.label.as_str(),
                    scores.join(";")
                )?;
            }
        }
        eprintln!("{fold} done");
    }
    Ok(())
}
