//! Rendering one view of one breast.
//!
//! The image is built in an attenuation domain and then acquired by the site:
//! 1. outline: a superellipse with an angular wobble, cut by the chest wall at the
//!    image edge (left edge for L, right for R), its normalised radius `ρ` giving the
//!    compressed-breast thickness falloff near the edge and, through `(1−ρ)/|∇ρ|`, the
//!    distance to the skin line;
//! 2. tissue: fat plus a fibroglandular fraction = density profile (dense centre behind
//!    the nipple, fatty periphery and retro-glandular fat) + 1/f^β texture;
//! 3. the pectoral muscle (MLO only) as a convex triangle in the upper chest-wall corner;
//! 4. the finding, if this breast has one;
//! 5. the site: contrast curve, background level, blur, quantum and grain noise, a film
//!    label, quantization to the site's bit depth.

use crate::plan::{BreastShape, Finding, Laterality, LesionPlan, PatientPlan, View};
use crate::site::{SiteParams, MAX_ATTENUATION};
use crate::texture::power_law_noise_pair;
use crate::{mix, SynthConfig, BETA};
use imaging::Gray16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::f64::consts::TAU;

/// Attenuation of fat and of fibroglandular tissue at full thickness.
const FAT: f64 = 0.32;
const GLAND: f64 = 0.82;
/// Extra attenuation of the skin line.
const SKIN: f64 = 0.10;
/// Amplitude of the texture outside the gland (ligaments, vessels in the fat).
const FAT_TEXTURE: f64 = 0.04;

/// Where a finding was drawn, in image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LesionSpot {
    /// Column of the centre (0 = left edge).
    pub x: f64,
    /// Row of the centre (0 = top edge).
    pub y_from_top: f64,
    /// Radius of the region holding the finding (mass core, calcification cluster,
    /// asymmetry), pixels.
    pub radius: f64,
}

/// One rendered view.
#[derive(Debug, Clone)]
pub struct SynthImage {
    /// Pixels, brighter = denser, values in 0..2^bits − 1 of the site.
    pub image: Gray16,
    /// The finding drawn into this view, if any.
    pub lesion: Option<LesionSpot>,
}

fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The projected outline of a breast in one view, in "breast coordinates": x is the
/// distance from the chest wall, y the row.
struct Geometry {
    a: f64,
    cy: f64,
    b_up: f64,
    b_low: f64,
    shear: f64,
    p: f64,
    /// Amplitude and (cos, sin) of the phase of outline harmonics 2..5.
    harmonics: [(f64, (f64, f64)); 4],
    /// Pectoral muscle: width along the top edge and height along the chest wall.
    pectoral: Option<(f64, f64)>,
}

impl Geometry {
    fn new(shape: &BreastShape, view: View, w: f64, h: f64, rng: &mut ChaCha8Rng) -> Geometry {
        match view {
            View::CC => {
                let b = shape.half_height * h;
                Geometry {
                    a: shape.depth * w,
                    cy: h * (0.5 + rng.random_range(-0.03..0.03)),
                    b_up: b,
                    b_low: b,
                    shear: rng.random_range(-0.06..0.06),
                    p: shape.exponent,
                    harmonics: phases(&shape.harmonics),
                    pectoral: None,
                }
            }
            View::MLO => {
                // The MLO shows the breast from the axilla (cut by the top edge) down to
                // the inframammary fold, with the nipple pointing a little downwards.
                let cy = h * rng.random_range(0.50..0.58);
                let mut g = Geometry {
                    a: shape.depth * w * rng.random_range(1.0..1.1),
                    cy,
                    b_up: cy / rng.random_range(0.80..0.88),
                    b_low: (h - cy) * rng.random_range(0.72..0.88),
                    shear: rng.random_range(0.08..0.2),
                    p: shape.exponent,
                    harmonics: phases(&shape.harmonics),
                    pectoral: None,
                };
                // The muscle spans most of the breast's extent along the top edge.
                let mut x_top = 0.0;
                while x_top < w && g.rho(x_top, 0.5) < 1.0 {
                    x_top += 1.0;
                }
                g.pectoral = Some((
                    x_top * rng.random_range(0.6..0.85),
                    h * rng.random_range(0.38..0.62),
                ));
                g
            }
        }
    }

    /// Normalised radius: < 1 inside the breast, 1 on the skin.
    fn rho(&self, x: f64, y: f64) -> f64 {
        let big = 1e3;
        if x < 0.0 {
            return big;
        }
        let xn = x / self.a;
        let dy = y - self.cy - self.shear * x;
        let yn = dy / if dy < 0.0 { self.b_up } else { self.b_low };
        // Single precision is ample for the outline and halves the cost of `powf`,
        // which dominates rendering.
        let p = self.p as f32;
        let r = ((xn.abs() as f32).powf(p) + (yn.abs() as f32).powf(p)).powf(1.0 / p) as f64;
        // cos(kθ + φ) for k = 2..5 from powers of e^{iθ}: no trigonometry per pixel.
        let len = (xn * xn + yn * yn).sqrt().max(1e-12);
        let (c1, s1) = (xn / len, yn / len);
        let (mut ck, mut sk) = (c1 * c1 - s1 * s1, 2.0 * c1 * s1);
        let mut wobble = 0.0;
        for &(amp, (cos_ph, sin_ph)) in &self.harmonics {
            wobble += amp * (ck * cos_ph - sk * sin_ph);
            (ck, sk) = (ck * c1 - sk * s1, ck * s1 + sk * c1);
        }
        r / (1.0 + wobble)
    }

    /// How far the pectoral muscle reaches from the chest wall at row `y` (0 if not).
    fn pectoral_extent(&self, y: f64) -> f64 {
        match self.pectoral {
            Some((pw, ph)) if y < ph => pw * (1.0 - y / ph).powf(0.8),
            _ => 0.0,
        }
    }
}

fn phases(h: &[(f64, f64); 4]) -> [(f64, (f64, f64)); 4] {
    h.map(|(amp, ph)| (amp, (ph.cos(), ph.sin())))
}

fn gaussian_blur(img: &mut [f64], w: usize, h: usize, sigma: f64) {
    if sigma < 0.3 {
        return;
    }
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let ks: f64 = k.iter().sum();
    let k: Vec<f64> = k.iter().map(|v| v / ks).collect();
    let mut tmp = vec![0.0; img.len()];
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        for x in 0..w {
            let mut acc = 0.0;
            for (j, kv) in k.iter().enumerate() {
                let xx = (x as isize + j as isize - r).clamp(0, w as isize - 1) as usize;
                acc += kv * row[xx];
            }
            tmp[y * w + x] = acc;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (j, kv) in k.iter().enumerate() {
                let yy = (y as isize + j as isize - r).clamp(0, h as isize - 1) as usize;
                acc += kv * tmp[yy * w + x];
            }
            img[y * w + x] = acc;
        }
    }
}

/// A speck of calcium: a dot (`x2 == x`, `y2 == y`) or a short rod.
struct Speck {
    x: f64,
    y: f64,
    x2: f64,
    y2: f64,
    r: f64,
    c: f64,
}

fn draw_specks(a_add: &mut [f64], w: usize, h: usize, specks: &[Speck]) {
    for s in specks {
        let reach = 3.0 * s.r + 1.0;
        let x0 = (s.x.min(s.x2) - reach).floor().max(0.0) as usize;
        let x1 = ((s.x.max(s.x2) + reach).ceil().max(0.0) as usize).min(w);
        let y0 = (s.y.min(s.y2) - reach).floor().max(0.0) as usize;
        let y1 = ((s.y.max(s.y2) + reach).ceil().max(0.0) as usize).min(h);
        let (ux, uy) = (s.x2 - s.x, s.y2 - s.y);
        let len2 = ux * ux + uy * uy;
        for py in y0..y1 {
            for px in x0..x1 {
                let (qx, qy) = (px as f64 + 0.5 - s.x, py as f64 + 0.5 - s.y);
                let t = if len2 > 0.0 {
                    ((qx * ux + qy * uy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (dx, dy) = (qx - t * ux, qy - t * uy);
                let v = s.c * (-(dx * dx + dy * dy) / (s.r * s.r)).exp();
                let cell = &mut a_add[py * w + px];
                *cell = cell.max(v);
            }
        }
    }
}

/// Draws a mass (circumscribed, irregular or spiculated) centred at (cx, cy).
#[allow(clippy::too_many_arguments)]
fn draw_mass(
    a_add: &mut [f64],
    w: usize,
    h: usize,
    cx: f64,
    cy: f64,
    l: &LesionPlan,
    shape: &mut ChaCha8Rng,
    rotation: f64,
) {
    let r = l.radius;
    let (core, amp_range, edge) = match l.finding {
        Finding::CircumscribedMass => (r, 0.0..0.02, (1.0, 0.9)),
        Finding::IrregularMass => (r, 0.05..0.13, (1.2, 0.75)),
        _ => (0.8 * r, 0.04..0.10, (1.1, 0.8)),
    };
    let ellipticity = shape.random_range(0.0..0.22);
    let harm: Vec<(f64, f64, f64)> = (3..=7)
        .map(|k| {
            (
                k as f64,
                shape.random_range(amp_range.clone()),
                shape.random_range(0.0..TAU),
            )
        })
        .collect();
    // Spicules: thin dense strands radiating from the core, tapering, slightly bent.
    let spicules: Vec<(f64, f64, f64, f64, f64)> = if l.finding == Finding::SpiculatedMass {
        let n = shape.random_range(10..22);
        (0..n)
            .map(|i| {
                let ang = (i as f64 + shape.random_range(-0.35..0.35)) * TAU / n as f64 + rotation;
                (
                    ang,
                    r * shape.random_range(1.0..2.4),
                    (r * shape.random_range(0.035..0.07)).max(0.7),
                    shape.random_range(0.45..0.75),
                    shape.random_range(-0.25..0.25),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let reach = if spicules.is_empty() {
        1.5 * r
    } else {
        3.5 * r
    };
    let x0 = (cx - reach).floor().max(0.0) as usize;
    let x1 = ((cx + reach).ceil().max(0.0) as usize).min(w);
    let y0 = (cy - reach).floor().max(0.0) as usize;
    let y1 = ((cy + reach).ceil().max(0.0) as usize).min(h);
    for py in y0..y1 {
        for px in x0..x1 {
            let (dx, dy) = (px as f64 + 0.5 - cx, py as f64 + 0.5 - cy);
            let dist = (dx * dx + dy * dy).sqrt();
            let theta = dy.atan2(dx) - rotation;
            let wobble: f64 = harm
                .iter()
                .map(|&(k, amp, ph)| amp * (k * theta + ph).cos())
                .sum::<f64>()
                + ellipticity * (2.0 * theta).cos();
            let s = dist / (core * (1.0 + wobble));
            // Flat-topped with a rounded dome: the projection of a dense nodule.
            let mut v = smoothstep(edge.0, edge.1, s) * (0.7 + 0.3 * (1.0 - s * s).max(0.0).sqrt());
            let r0 = 0.6 * core;
            for &(ang, len, width, strength, bend) in &spicules {
                let (ux, uy) = (ang.cos(), ang.sin());
                let t = dx * ux + dy * uy - r0;
                if t <= 0.0 || t >= len {
                    continue;
                }
                let frac = t / len;
                let perp = (dx * -uy + dy * ux) - bend * t * frac;
                let wt = width * (1.0 - 0.6 * frac);
                let sv = strength * (1.0 - frac).powf(0.8) * (-(perp * perp) / (wt * wt)).exp();
                v = v.max(sv);
            }
            if v > 0.0 {
                let cell = &mut a_add[py * w + px];
                *cell = cell.max(l.contrast * v);
            }
        }
    }
}

/// Picks the finding's centre in this view: the planned position if it fits well
/// inside the breast and clear of the muscle, else the best of random tries.
fn place(
    l: &LesionPlan,
    geom: &Geometry,
    dist: &[f64],
    w: usize,
    h: usize,
    extent: f64,
    rng: &mut ChaCha8Rng,
) -> (f64, f64) {
    let at = |u: f64, v: f64| {
        let x = u * geom.a;
        let half = (1.0 - u.powf(geom.p)).max(0.0).powf(1.0 / geom.p);
        let b = if v < 0.0 { geom.b_up } else { geom.b_low };
        (x, geom.cy + geom.shear * x + v * half * b)
    };
    let score = |(x, y): (f64, f64)| {
        if x < 0.0 || y < 0.0 || x >= w as f64 || y >= h as f64 {
            return f64::NEG_INFINITY;
        }
        let d = dist[(y as usize) * w + x as usize];
        let muscle = x - geom.pectoral_extent(y - extent) - extent;
        (d - extent).min(muscle)
    };
    let good = 4.0;
    let mut best = at(l.u, l.v);
    let mut best_score = score(best);
    for _ in 0..200 {
        if best_score >= good {
            break;
        }
        let c = at(rng.random_range(0.2..0.75), rng.random_range(-0.7..0.7));
        let s = score(c);
        if s > best_score {
            best = c;
            best_score = s;
        }
    }
    best
}

/// Draws the finding into the additive buffers and says where it went.
#[allow(clippy::too_many_arguments)]
fn draw_lesion(
    l: &LesionPlan,
    geom: &Geometry,
    dist: &[f64],
    tex: &[f32],
    g_add: &mut [f64],
    a_add: &mut [f64],
    w: usize,
    h: usize,
    rng: &mut ChaCha8Rng,
) -> LesionSpot {
    let mut shape = ChaCha8Rng::seed_from_u64(l.shape_seed);
    let r = l.radius;
    let (recorded, extent) = match l.finding {
        Finding::SpiculatedMass => (r, 1.3 * r),
        Finding::CoarseCalcifications => (1.6 * r, 1.6 * r),
        Finding::FocalAsymmetry => (1.5 * r, 1.4 * r),
        _ => (r, 1.1 * r),
    };
    let (cx, cy) = place(l, geom, dist, w, h, extent, rng);
    // The same lesion seen from another angle: a view-specific rotation.
    let rotation = rng.random_range(0.0..TAU);
    match l.finding {
        Finding::None => {}
        Finding::SpiculatedMass | Finding::IrregularMass | Finding::CircumscribedMass => {
            draw_mass(a_add, w, h, cx, cy, l, &mut shape, rotation)
        }
        Finding::PleomorphicCalcifications => {
            // A tight cluster of small specks of varied form: dots, rods, branches.
            let size = (0.09 * r).max(0.6);
            let n = shape.random_range(10..22);
            let mut specks = Vec::new();
            for _ in 0..n {
                let (ox, oy): (f64, f64) = (
                    rng.sample::<f64, _>(StandardNormal) * 0.4 * r,
                    rng.sample::<f64, _>(StandardNormal) * 0.4 * r,
                );
                let k = (0.9 * r / ox.hypot(oy).max(1e-9)).min(1.0);
                let (x, y) = (cx + ox * k, cy + oy * k);
                let sr = size * rng.random_range(0.6..1.3);
                let c = l.contrast * rng.random_range(0.5..1.0);
                let form = rng.random_range(0.0..1.0);
                let ang: f64 = rng.random_range(0.0..TAU);
                let len = sr * rng.random_range(1.5..3.0);
                if form < 0.65 {
                    specks.push(Speck {
                        x,
                        y,
                        x2: x,
                        y2: y,
                        r: sr,
                        c,
                    });
                } else {
                    let (x2, y2) = (x + len * ang.cos(), y + len * ang.sin());
                    specks.push(Speck {
                        x,
                        y,
                        x2,
                        y2,
                        r: 0.7 * sr,
                        c,
                    });
                    if form > 0.88 {
                        let b = ang + rng.random_range(0.5..1.2);
                        specks.push(Speck {
                            x: x2,
                            y: y2,
                            x2: x2 + 0.7 * len * b.cos(),
                            y2: y2 + 0.7 * len * b.sin(),
                            r: 0.6 * sr,
                            c,
                        });
                    }
                }
            }
            draw_specks(a_add, w, h, &specks);
        }
        Finding::CoarseCalcifications => {
            // A few large smooth dense "popcorn" bodies scattered over a wide area.
            let n = shape.random_range(3..7);
            let mut specks = Vec::new();
            for _ in 0..n {
                let rad = recorded * rng.random_range(0.0..1.0f64).sqrt() * 0.85;
                let ang: f64 = rng.random_range(0.0..TAU);
                let (x, y) = (cx + rad * ang.cos(), cy + rad * ang.sin());
                let body = 0.2 * r * rng.random_range(0.7..1.2);
                let c = l.contrast * rng.random_range(0.75..1.0);
                for _ in 0..rng.random_range(1..4) {
                    let (jx, jy) = (
                        rng.random_range(-0.5..0.5) * body,
                        rng.random_range(-0.5..0.5) * body,
                    );
                    let sr = (body * rng.random_range(0.55..0.8)).max(0.8);
                    specks.push(Speck {
                        x: x + jx,
                        y: y + jy,
                        x2: x + jx,
                        y2: y + jy,
                        r: sr,
                        c,
                    });
                }
            }
            draw_specks(a_add, w, h, &specks);
        }
        Finding::FocalAsymmetry => {
            // Extra fibroglandular tissue, textured like its surroundings, no margin.
            let ra = recorded;
            let harm: Vec<(f64, f64)> = (2..=4)
                .map(|_| (shape.random_range(0.05..0.2), shape.random_range(0.0..TAU)))
                .collect();
            let reach = 1.4 * ra;
            let x0 = (cx - reach).floor().max(0.0) as usize;
            let x1 = ((cx + reach).ceil().max(0.0) as usize).min(w);
            let y0 = (cy - reach).floor().max(0.0) as usize;
            let y1 = ((cy + reach).ceil().max(0.0) as usize).min(h);
            for py in y0..y1 {
                for px in x0..x1 {
                    let (dx, dy) = (px as f64 + 0.5 - cx, py as f64 + 0.5 - cy);
                    let theta = dy.atan2(dx) - rotation;
                    let wob: f64 = harm
                        .iter()
                        .enumerate()
                        .map(|(k, &(a, ph))| a * ((k as f64 + 2.0) * theta + ph).cos())
                        .sum();
                    let s = dx.hypot(dy) / (ra * (1.0 + wob));
                    let v = smoothstep(1.3, 0.4, s);
                    let t = (0.65 + 0.35 * tex[py * w + px] as f64).max(0.0);
                    g_add[py * w + px] += l.contrast * v * t;
                }
            }
        }
    }
    LesionSpot {
        x: cx,
        y_from_top: cy,
        radius: recorded,
    }
}

/// Curvilinear strands (ducts, vessels, Cooper's ligaments) converging on the nipple:
/// the linear structure a pure 1/f^β field lacks. Each starts behind the nipple and
/// wanders back towards the chest wall with a slowly drifting direction.
fn fibres(
    geom: &Geometry,
    rho: &[f64],
    w: usize,
    h: usize,
    scale: f64,
    density: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let mut out = vec![0.0f64; w * h];
    let count = rng.random_range(25..45) + (40.0 * density) as usize;
    let rho_at = |x: f64, y: f64| {
        if x < 0.0 || y < 0.0 || x >= w as f64 || y >= h as f64 {
            return 10.0;
        }
        rho[y as usize * w + x as usize]
    };
    for _ in 0..count {
        let u: f64 = rng.random_range(0.55..0.95);
        let mut x = u * geom.a;
        let half = (1.0 - u.powf(geom.p)).max(0.0).powf(1.0 / geom.p);
        let mut y = geom.cy + geom.shear * x + rng.random_range(-0.7..0.7) * half * geom.b_low;
        if rho_at(x, y) > 0.95 {
            continue;
        }
        // Aim at a point of the chest wall, then drift.
        let target = geom.cy + rng.random_range(-0.9..0.9) * geom.b_up.min(geom.b_low);
        let mut ang = (target - y).atan2(-x);
        let sigma = scale * rng.random_range(0.6..1.2);
        let contrast = rng.random_range(0.05..0.10);
        let steps = (x * rng.random_range(0.4..0.95)) as usize;
        let reach = (2.5 * sigma).ceil() as isize;
        for k in 0..steps {
            ang += rng.random_range(-0.06..0.06);
            x += ang.cos();
            y += ang.sin();
            if x < 0.0 || rho_at(x, y) > 0.97 {
                break;
            }
            // Fades in and out along its length.
            let c = contrast * (std::f64::consts::PI * k as f64 / steps as f64).sin();
            let (ix, iy) = (x as isize, y as isize);
            for py in (iy - reach).max(0)..(iy + reach + 1).min(h as isize) {
                for px in (ix - reach).max(0)..(ix + reach + 1).min(w as isize) {
                    let (dx, dy) = (px as f64 + 0.5 - x, py as f64 + 0.5 - y);
                    let v = c * (-(dx * dx + dy * dy) / (2.0 * sigma * sigma)).exp();
                    let cell = &mut out[py as usize * w + px as usize];
                    *cell = cell.max(v);
                }
            }
        }
    }
    out
}

/// Draws a film identification label: a bright plate with dark pseudo-text.
fn film_label(img: &mut [f64], w: usize, h: usize, chest_left: bool, rng: &mut ChaCha8Rng) {
    let lw = (0.24 * w as f64) as usize;
    let lh = (0.06 * h as f64) as usize;
    let margin = (0.03 * w as f64) as usize;
    if lw < 6 || lh < 4 {
        return;
    }
    let x0 = if chest_left { w - margin - lw } else { margin };
    let y0 = margin;
    let cols = 8;
    let cell_w = lw as f64 / cols as f64;
    let glyphs: Vec<bool> = (0..cols * 2).map(|_| rng.random_bool(0.6)).collect();
    for y in y0..y0 + lh {
        for x in x0..x0 + lw {
            let (fx, fy) = ((x - x0) as f64, (y - y0) as f64 / lh as f64);
            let col = (fx / cell_w) as usize;
            let line = if fy < 0.5 { 0 } else { 1 };
            let in_glyph = {
                let gx = (fx % cell_w) / cell_w;
                let gy = (fy * 2.0) % 1.0;
                (0.2..0.8).contains(&gx) && (0.25..0.8).contains(&gy)
            };
            let dark = in_glyph && glyphs[(line * cols + col).min(glyphs.len() - 1)];
            img[y * w + x] = if dark { 0.35 } else { 0.95 };
        }
    }
}

/// Renders one view of one breast of a patient. Deterministic: the random stream is
/// derived from (seed, site, patient, laterality, view) only.
pub fn render(cfg: &SynthConfig, p: &PatientPlan, lat: Laterality, view: View) -> SynthImage {
    let (w, h) = (cfg.width(), cfg.size);
    let (wf, hf) = (w as f64, h as f64);
    let scale = wf / 410.0;
    let site: SiteParams = cfg.site.params();
    let mut rng = ChaCha8Rng::seed_from_u64(mix(&[
        cfg.seed,
        cfg.site.stream_id(),
        0x1a6e,
        p.index as u64,
        lat as u64,
        view as u64,
    ]));
    let geom = Geometry::new(p.breast(lat), view, wf, hf, &mut rng);
    let n = w * h;
    let rho: Vec<f64> = (0..n)
        .map(|i| geom.rho((i % w) as f64 + 0.5, (i / w) as f64 + 0.5))
        .collect();
    // Distance to the skin in pixels, (1 − ρ)/|∇ρ|: exact for a straight edge and
    // good enough near a smooth one, which is the only place it is used sharply.
    let dist: Vec<f64> = (0..n)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let at = |xx: usize, yy: usize| rho[yy * w + xx].min(10.0);
            let gx = (at((x + 1).min(w - 1), y) - at(x.saturating_sub(1), y)) / 2.0;
            let gy = (at(x, (y + 1).min(h - 1)) - at(x, y.saturating_sub(1))) / 2.0;
            let g = (gx * gx + gy * gy).sqrt().max(1e-6);
            (1.0 - rho[i]) / g
        })
        .collect();
    let (tex, tex2) = power_law_noise_pair(&mut rng, w, h, BETA);
    let fibres = fibres(&geom, &rho, w, h, scale, p.density, &mut rng);
    let mut g_add = vec![0.0; n];
    let mut a_add = vec![0.0; n];
    let spot = p.lesion.as_ref().filter(|l| l.laterality == lat).map(|l| {
        draw_lesion(
            l, &geom, &dist, &tex, &mut g_add, &mut a_add, w, h, &mut rng,
        )
    });

    // Attenuation.
    let pectoral: Vec<f64> = (0..h)
        .map(|y| geom.pectoral_extent(y as f64 + 0.5))
        .collect();
    let mut att = vec![0.0; n];
    for (i, cell) in att.iter_mut().enumerate() {
        let (x, y) = ((i % w) as f64 + 0.5, (i / w) as f64 + 0.5);
        let d = dist[i];
        let coverage = (d + 0.5).clamp(0.0, 1.0);
        let muscle = (pectoral[i / w] - x + 0.5).clamp(0.0, 1.0);
        if coverage <= 0.0 && muscle <= 0.0 {
            continue;
        }
        let r = rho[i].min(1.0);
        let thickness = (1.0 - r.powi(5)).max(0.0).sqrt();
        let xn = x / geom.a;
        let core = (1.0 - smoothstep(0.45, 0.97, r)) * (0.45 + 0.55 * smoothstep(0.0, 0.35, xn));
        let n_tex = tex[i] as f64;
        let gland = (core * (1.1 * p.density + 0.30 * n_tex) + g_add[i]).clamp(0.0, 1.0);
        let skin = SKIN * (-((d - 1.6 * scale) / (1.1 * scale)).powi(2)).exp();
        let tissue = thickness
            * (FAT + (GLAND - FAT) * gland + FAT_TEXTURE * n_tex + fibres[i] + a_add[i])
            + skin;
        let mut a = tissue * coverage;
        if muscle > 0.0 {
            // Brighter towards the axilla, with its own texture.
            let mt = tex2[i] as f64;
            let ph = geom.pectoral.map_or(1.0, |(_, ph)| ph);
            let am = 0.60 + 0.12 * (1.0 - y / ph) + 0.05 * mt;
            a = a * (1.0 - muscle) + am * muscle;
        }
        *cell = a;
    }

    // Acquisition: mirror for the right breast, contrast curve, blur, noise, label.
    let chest_left = lat == Laterality::L;
    if !chest_left {
        for row in att.chunks_mut(w) {
            row.reverse();
        }
    }
    // The curve through a fine table: exact to ~1e-6, and no `powf`/`exp` per pixel.
    const STEPS: usize = 4096;
    let table: Vec<f64> = (0..=STEPS)
        .map(|k| site.curve(k as f64 / STEPS as f64 * MAX_ATTENUATION))
        .collect();
    let curve = |a: f64| {
        let t = (a / MAX_ATTENUATION).clamp(0.0, 1.0) * STEPS as f64;
        let k = (t as usize).min(STEPS - 1);
        let f = t - k as f64;
        table[k] * (1.0 - f) + table[k + 1] * f
    };
    let mut img: Vec<f64> = att
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let bg = site.background + site.fog_gradient * ((i / w) as f64 / hf);
            bg + (0.97 - bg) * curve(a)
        })
        .collect();
    gaussian_blur(&mut img, w, h, site.blur_px * scale);
    if site.film_label {
        film_label(&mut img, w, h, chest_left, &mut rng);
    }
    let mut grain: Vec<f64> = (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect();
    if site.grain_blur_px > 0.0 {
        gaussian_blur(&mut grain, w, h, site.grain_blur_px * scale);
        let sd = (grain.iter().map(|v| v * v).sum::<f64>() / n as f64)
            .sqrt()
            .max(1e-12);
        grain.iter_mut().for_each(|v| *v /= sd);
    }
    let top = ((1u32 << site.bits) - 1) as f64;
    let data: Vec<u16> = img
        .iter()
        .zip(&grain)
        .map(|(&v, &g)| {
            let q: f64 = rng.sample(StandardNormal);
            let noisy = v + site.quantum_noise * v.max(0.0).sqrt() * q + site.grain_noise * g;
            (noisy.clamp(0.0, 1.0) * top).round() as u16
        })
        .collect();
    let lesion = spot.map(|s| LesionSpot {
        x: if chest_left { s.x } else { wf - s.x },
        ..s
    });
    SynthImage {
        image: Gray16 {
            width: w,
            height: h,
            max_value: top as u16,
            data,
        },
        lesion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;

    /// Every finding lands inside the breast, clear of the skin and the muscle.
    #[test]
    fn findings_are_placed_inside_the_breast_and_off_the_muscle() {
        let cfg = SynthConfig {
            patients: 40,
            size: 256,
            class_mix: [0.0, 1.0, 1.0],
            ..SynthConfig::default()
        };
        let (w, h) = (cfg.width(), cfg.size);
        for p in plan(&cfg) {
            let l = p.lesion.as_ref().unwrap();
            for view in View::BOTH {
                let mut rng = ChaCha8Rng::seed_from_u64(p.index as u64 * 2 + view as u64);
                let geom =
                    Geometry::new(p.breast(l.laterality), view, w as f64, h as f64, &mut rng);
                assert_eq!(geom.pectoral.is_some(), view == View::MLO);
                // Distance to the skin along x (the direction the breast extends
                // from the chest wall): a simple stand-in for the renderer's estimate.
                let edge: Vec<f64> = (0..h)
                    .map(|y| {
                        (0..w)
                            .map(|k| k as f64 + 0.5)
                            .find(|&xx| geom.rho(xx, y as f64 + 0.5) >= 1.0)
                            .unwrap_or(w as f64)
                    })
                    .collect();
                let dist: Vec<f64> = (0..w * h)
                    .map(|i| edge[i / w] - ((i % w) as f64 + 0.5))
                    .collect();
                let mut g = vec![0.0; w * h];
                let mut a = vec![0.0; w * h];
                let tex = vec![0.0f32; w * h];
                let s = draw_lesion(l, &geom, &dist, &tex, &mut g, &mut a, w, h, &mut rng);
                assert!(geom.rho(s.x, s.y_from_top) < 1.0, "{} {view:?}", p.id);
                assert!(
                    s.x > geom.pectoral_extent(s.y_from_top) + 0.5 * l.radius,
                    "{} {view:?}: in the muscle",
                    p.id
                );
                // Something was drawn, and centred on the recorded spot.
                let total: f64 = g.iter().chain(&a).sum();
                assert!(total > 0.0, "{} {view:?}", p.id);
            }
        }
    }

    #[test]
    fn blur_keeps_the_mean_and_spreads_a_point() {
        let (w, h) = (21, 21);
        let mut img = vec![0.0; w * h];
        img[10 * w + 10] = 1.0;
        gaussian_blur(&mut img, w, h, 1.5);
        let sum: f64 = img.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!(img[10 * w + 10] < 0.1 && img[10 * w + 11] > 0.0);
        assert!((img[10 * w + 9] - img[10 * w + 11]).abs() < 1e-12);
    }
}
