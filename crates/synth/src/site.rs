//! Acquisition sites: the presets that give two synthetic datasets a domain shift, as
//! between the study's institutional full-field digital set and digitized-film DDSM.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A named acquisition preset (`--site`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Site {
    /// Site `a`: full-field digital — see [`SiteParams`] for the numbers.
    Digital,
    /// Site `b`: digitized screen-film — see [`SiteParams`] for the numbers.
    Film,
}

impl Site {
    /// Every preset.
    pub const ALL: [Site; 2] = [Site::Digital, Site::Film];

    /// The preset's name as written in manifests and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Site::Digital => "digital",
            Site::Film => "film",
        }
    }

    /// A small number that separates the random streams of the sites.
    pub(crate) fn stream_id(self) -> u64 {
        match self {
            Site::Digital => 0xD161,
            Site::Film => 0xF11A,
        }
    }

    /// The acquisition parameters of the preset.
    ///
    /// | parameter | digital (`a`) | film (`b`) |
    /// |---|---|---|
    /// | contrast curve (on attenuation / 1.25) | power, γ = 0.85 | sigmoid H&D curve, slope 5.5 at 0.45 |
    /// | background (air) level | 0.02, flat | 0.07 + up to 0.03 fog gradient |
    /// | blur σ (px at 410 px width) | 0.5 | 1.1 |
    /// | quantum noise σ at full signal | 0.010 | 0.004 |
    /// | grain / electronic noise σ | 0.002 | 0.012 (correlated, film grain) |
    /// | stored bits | 14 | 12 |
    /// | burned-in film label | no | yes |
    pub fn params(self) -> SiteParams {
        match self {
            Site::Digital => SiteParams {
                gamma: 0.85,
                sigmoid_slope: 0.0,
                sigmoid_mid: 0.0,
                background: 0.02,
                fog_gradient: 0.0,
                blur_px: 0.5,
                quantum_noise: 0.010,
                grain_noise: 0.002,
                grain_blur_px: 0.0,
                bits: 14,
                film_label: false,
            },
            Site::Film => SiteParams {
                gamma: 1.0,
                sigmoid_slope: 5.5,
                sigmoid_mid: 0.45,
                background: 0.07,
                fog_gradient: 0.03,
                blur_px: 1.1,
                quantum_noise: 0.004,
                grain_noise: 0.012,
                grain_blur_px: 0.7,
                bits: 12,
                film_label: true,
            },
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Site {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "digital" | "a" => Ok(Site::Digital),
            "film" | "b" => Ok(Site::Film),
            other => Err(format!(
                "unknown site '{other}' (expected digital (a) or film (b))"
            )),
        }
    }
}

/// Attenuation that maps to the brightest level; dense tissue plus a mass or a
/// calcification stays below it, so findings are not clipped away.
pub const MAX_ATTENUATION: f64 = 1.25;

/// How a site turns attenuation into stored pixel values. All levels are on a 0..1
/// display scale before quantization to `bits` bits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SiteParams {
    /// Exponent of the power contrast curve (used when `sigmoid_slope` is 0).
    pub gamma: f64,
    /// Slope of the film characteristic (H&D) curve; 0 selects the power curve.
    pub sigmoid_slope: f64,
    /// Attenuation at the middle of the film curve.
    pub sigmoid_mid: f64,
    /// Level of the unattenuated background (air).
    pub background: f64,
    /// Extra background level across the image (uneven film fog), top to bottom.
    pub fog_gradient: f64,
    /// Gaussian blur σ in pixels at a 410-pixel-wide image (scaled with the size).
    pub blur_px: f64,
    /// Signal-dependent noise σ at full signal (σ ∝ √signal).
    pub quantum_noise: f64,
    /// Signal-independent noise σ (detector electronics or film grain).
    pub grain_noise: f64,
    /// Blur σ applied to the grain noise (correlated film grain), pixels; 0 = white.
    pub grain_blur_px: f64,
    /// Stored bits: values run over 0..2^bits − 1 in the 16-bit PNG.
    pub bits: u32,
    /// Whether a bright film identification label is burned into a corner.
    pub film_label: bool,
}

impl SiteParams {
    /// The contrast curve: attenuation (0 = air, ~0.8 = dense tissue, up to
    /// [`MAX_ATTENUATION`] with lesions) to a 0..1 level above the background.
    pub fn curve(&self, a: f64) -> f64 {
        let a = (a / MAX_ATTENUATION).clamp(0.0, 1.0);
        if self.sigmoid_slope > 0.0 {
            let s = |v: f64| 1.0 / (1.0 + (-self.sigmoid_slope * (v - self.sigmoid_mid)).exp());
            ((s(a) - s(0.0)) / (s(1.0) - s(0.0))).clamp(0.0, 1.0)
        } else {
            a.powf(self.gamma).min(1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        for s in Site::ALL {
            assert_eq!(s.as_str().parse::<Site>().unwrap(), s);
        }
        assert_eq!("A".parse::<Site>().unwrap(), Site::Digital);
        assert_eq!("b".parse::<Site>().unwrap(), Site::Film);
        assert!("c"
            .parse::<Site>()
            .unwrap_err()
            .contains("unknown site 'c'"));
    }

    #[test]
    fn curves_are_monotone_from_zero_to_one() {
        for s in Site::ALL {
            let p = s.params();
            assert!(p.curve(0.0).abs() < 1e-12);
            assert!((p.curve(MAX_ATTENUATION) - 1.0).abs() < 1e-12);
            let mut prev = -1.0;
            for i in 0..=100 {
                let v = p.curve(i as f64 / 100.0 * MAX_ATTENUATION);
                assert!(v > prev, "{s}: not increasing at {i}");
                prev = v;
            }
        }
    }
}
