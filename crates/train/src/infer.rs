//! Inference: class probabilities for images of a source, batch by batch, and the AUC
//! of a set of predictions.

use burn::module::Module;
use burn::tensor::Device;
use data::Scenario;
use model::Network;

use crate::input::{ImageSource, Input};

/// The device a network's parameters live on.
pub fn network_device(network: &Network) -> Device {
    network.devices().into_iter().next().unwrap_or_default()
}

/// Softmax probabilities (`[image][class]`) of images `indices` of `source`, in batches of
/// `batch` on `device`. `network` should be in inference mode ([`Module::valid`]).
pub fn probabilities(
    network: &Network,
    input: &Input,
    source: &dyn ImageSource,
    indices: &[usize],
    batch: usize,
    device: &Device,
) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(batch.max(1)) {
        let x = input.batch(source, chunk, None, device);
        let p = network.probabilities(x);
        let [n, k] = p.dims();
        let values = p.into_data().try_to_vec::<f32>().unwrap_or_default();
        for i in 0..n {
            out.push(values[i * k..(i + 1) * k].to_vec());
        }
    }
    out
}

/// The scenario's AUC of predictions: binary, the positive class's probability ranked
/// against the reference class; three-class, the mean pairwise (Hand & Till) AUC. `None`
/// when a class is missing.
pub fn auc(scenario: Scenario, classes: &[usize], probs: &[Vec<f32>]) -> Option<f64> {
    match scenario.positive_class() {
        Some(pos) => {
            let labels: Vec<bool> = classes.iter().map(|&c| c == pos).collect();
            let scores: Vec<f64> = probs.iter().map(|p| f64::from(p[pos])).collect();
            eval::roc::auc(&labels, &scores).ok()
        }
        None => {
            let k = scenario.n_classes();
            let cols: Vec<Vec<f64>> = (0..k)
                .map(|c| probs.iter().map(|p| f64::from(p[c])).collect())
                .collect();
            eval::multiclass::hand_till(classes, &cols)
                .ok()
                .map(|m| m.mean_pairwise)
        }
    }
}
