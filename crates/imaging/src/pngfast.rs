//! A fast path for the PNG layout mammograms use: non-interlaced grayscale, 8 or 16
//! bits, no transparency. The IDAT stream is inflated in one call by libdeflate
//! (we know the exact size it must inflate to) and the rows are unfiltered straight
//! into the 16-bit output, about twice as fast as the png crate's streaming decoder.
//!
//! It is only a shortcut: whatever it does not recognise, or finds wrong (CRC,
//! truncation, bad zlib data, a stream of the wrong length), makes it return `None`,
//! and the caller decodes the file with the png crate, which then gives the result
//! or the error it always gave. So the fast path must accept nothing the png crate
//! refuses, and must give the same pixels (tests compare the two).
use std::borrow::Cow;

const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];

/// Deflate cannot expand data more than about 1032:1 (a 258-byte match costs at
/// least 2 bits); a stream shorter than that ratio allows for the image is truncated,
/// so its output buffer is never allocated.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Ancillary chunks larger than this are left to the png crate, which parses some
/// (text, ICC profiles) and applies its memory limits to them.
const MAX_ANCILLARY: usize = 1 << 16;

/// The full-depth pixels of a grayscale PNG.
pub(crate) struct FastGray {
    pub width: usize,
    pub height: usize,
    /// 16 bits a sample (else 8).
    pub wide: bool,
    pub data: Vec<u16>,
}

/// The chunks of a PNG, in order, each checked to lie within the bytes present.
struct Chunks<'a> {
    rest: &'a [u8],
}

impl<'a> Chunks<'a> {
    /// The type and data of the next chunk (its CRC checked when `check_crc`), or
    /// `None` when the bytes end or the chunk does not fit in them.
    fn next(&mut self, check_crc: impl Fn(&[u8; 4]) -> bool) -> Option<([u8; 4], &'a [u8])> {
        let len = u32::from_be_bytes(self.rest.get(..4)?.try_into().ok()?) as usize;
        // PNG limits chunk lengths to 2^31 - 1.
        if len > i32::MAX as usize {
            return None;
        }
        let whole = self.rest.get(..len.checked_add(12)?)?;
        let ty: [u8; 4] = whole[4..8].try_into().ok()?;
        let data = &whole[8..8 + len];
        if check_crc(&ty) {
            let stored = u32::from_be_bytes(whole[8 + len..].try_into().ok()?);
            if libdeflater::crc32(&whole[4..8 + len]) != stored {
                return None;
            }
        }
        self.rest = &self.rest[len + 12..];
        Some((ty, data))
    }

    /// The type of the next chunk, without consuming it.
    fn peek_type(&self) -> Option<&[u8]> {
        self.rest.get(4..8)
    }
}

/// Critical chunks (upper-case first letter) have their CRC checked, as the png crate
/// does; it skips ancillary chunks whose CRC is wrong.
fn is_critical(ty: &[u8; 4]) -> bool {
    ty[0] & 0x20 == 0
}

/// Decodes `bytes` when it is a PNG of the layout this path handles and is intact;
/// `None` otherwise (the png crate then decides).
pub(crate) fn decode_gray(bytes: &[u8]) -> Option<FastGray> {
    let mut chunks = Chunks {
        rest: bytes.strip_prefix(&SIGNATURE)?,
    };
    let (ty, ihdr) = chunks.next(is_critical)?;
    if &ty != b"IHDR" || ihdr.len() != 13 {
        return None;
    }
    let width = u32::from_be_bytes(ihdr[0..4].try_into().ok()?) as usize;
    let height = u32::from_be_bytes(ihdr[4..8].try_into().ok()?) as usize;
    let (depth, color, compression, filter, interlace) =
        (ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]);
    let wide = match depth {
        8 => false,
        16 => true,
        _ => return None,
    };
    if color != 0 || compression != 0 || filter != 0 || interlace != 0 {
        return None;
    }
    // Sizes no mammogram has go to the png crate path, which refuses them.
    crate::check_dimensions(width, height).ok()?;
    // Chunks up to the first IDAT: only ancillary chunks that do not change how the
    // pixels decode. tRNS would add an alpha channel (EXPAND); APNG chunks, PLTE and
    // unknown critical chunks are the png crate's business.
    let mut idat: Vec<&[u8]> = Vec::new();
    loop {
        let (ty, data) = chunks.next(is_critical)?;
        match &ty {
            b"IDAT" => {
                idat.push(data);
                break;
            }
            b"tRNS" | b"acTL" | b"fcTL" | b"fdAT" => return None,
            t if is_critical(t) || data.len() > MAX_ANCILLARY => return None,
            _ => {}
        }
    }
    // The IDAT chunks are consecutive; the image data ends with the last of them.
    while chunks.peek_type() == Some(b"IDAT") {
        idat.push(chunks.next(is_critical)?.1);
    }
    // The png crate knows the image data is complete only once it has read the next
    // chunk's length and type, so a file cut before them is truncated.
    if chunks.rest.len() < 8 {
        return None;
    }
    let bpp = if wide { 2 } else { 1 };
    let row_bytes = width * bpp;
    let stride = row_bytes + 1;
    let raw_len = height.checked_mul(stride)?;
    let compressed: usize = idat.iter().map(|d| d.len()).sum();
    if raw_len / MAX_DEFLATE_RATIO > compressed {
        return None;
    }
    let zlib: Cow<[u8]> = if idat.len() == 1 {
        Cow::Borrowed(idat[0])
    } else {
        Cow::Owned(idat.concat())
    };
    let mut raw = vec![0u8; raw_len];
    let n = libdeflater::Decompressor::new()
        .zlib_decompress(&zlib, &mut raw)
        .ok()?;
    if n != raw_len {
        return None;
    }
    let mut data: Vec<u16> = Vec::with_capacity(width * height);
    let zero_row = vec![0u8; row_bytes];
    for y in 0..height {
        let (before, here) = raw.split_at_mut(y * stride);
        // The row above, unfiltered already; zeros above the first row.
        let prev = if y == 0 {
            &zero_row[..]
        } else {
            &before[(y - 1) * stride + 1..]
        };
        let (kind, cur) = here[..stride].split_first_mut()?;
        unfilter(*kind, bpp, prev, cur)?;
        if wide {
            data.extend(
                cur.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]])),
            );
        } else {
            data.extend(cur.iter().map(|&v| v as u16));
        }
    }
    Some(FastGray {
        width,
        height,
        wide,
        data,
    })
}

/// Reverses the PNG row filter `kind` on `cur` in place, given the unfiltered row
/// above (`prev`, same length) and the bytes per pixel (1 or 2). `None` for a filter
/// type PNG does not define.
fn unfilter(kind: u8, bpp: usize, prev: &[u8], cur: &mut [u8]) -> Option<()> {
    if bpp == 1 {
        unfilter_bpp::<1>(kind, prev, cur)
    } else {
        unfilter_bpp::<2>(kind, prev, cur)
    }
}

/// [`unfilter`] for `B` bytes per pixel. The left and upper-left pixels are carried
/// in registers, so the serial filters (Sub, Average, Paeth) are one dependency
/// chain without loads or bounds checks.
#[inline(always)]
fn unfilter_bpp<const B: usize>(kind: u8, prev: &[u8], cur: &mut [u8]) -> Option<()> {
    let pixels = cur.chunks_exact_mut(B).zip(prev.chunks_exact(B));
    let mut a = [0u8; B];
    let mut c = [0u8; B];
    match kind {
        0 => {}
        1 => {
            for (x, _) in pixels {
                for k in 0..B {
                    x[k] = x[k].wrapping_add(a[k]);
                    a[k] = x[k];
                }
            }
        }
        2 => {
            for (x, &b) in cur.iter_mut().zip(prev) {
                *x = x.wrapping_add(b);
            }
        }
        3 => {
            for (x, b) in pixels {
                for k in 0..B {
                    x[k] = x[k].wrapping_add(((a[k] as u16 + b[k] as u16) >> 1) as u8);
                    a[k] = x[k];
                }
            }
        }
        4 => {
            for (x, b) in pixels {
                for k in 0..B {
                    x[k] = x[k].wrapping_add(paeth(a[k], b[k], c[k]));
                    a[k] = x[k];
                    c[k] = b[k];
                }
            }
        }
        _ => return None,
    }
    Some(())
}

/// The Paeth predictor in stb_image's branch-free form (equal to the PNG
/// specification's): `a` left, `b` above, `c` above-left.
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a, b, c) = (a as i16, b as i16, c as i16);
    let thresh = c * 3 - (a + b);
    let lo = a.min(b);
    let hi = a.max(b);
    let t0 = if hi <= thresh { lo } else { c };
    let t1 = if thresh <= lo { hi } else { t0 };
    t1 as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic test samples: noise mixed with a gradient, so every filter
    /// type sees carries, wraps and ties.
    fn samples(n: usize, seed: u64, wide: bool) -> Vec<u16> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = (s >> 33) as u16;
                let v = match i % 7 {
                    0..=2 => noise,
                    3 => 0,
                    4 => u16::MAX,
                    _ => (i as u16).wrapping_mul(37),
                };
                if wide {
                    v
                } else {
                    v & 0xff
                }
            })
            .collect()
    }

    fn chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(ty);
        out.extend_from_slice(data);
        let crc = libdeflater::crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    /// A grayscale PNG written independently of the png crate: row `y` filtered with
    /// `filters[y % filters.len()]`, the zlib stream split into IDAT chunks of
    /// `idat_size` bytes, `extra` chunks inserted before the first IDAT.
    fn encode(
        width: usize,
        height: usize,
        wide: bool,
        pixels: &[u16],
        filters: &[u8],
        idat_size: usize,
        extra: &[(&[u8; 4], &[u8])],
    ) -> Vec<u8> {
        let bpp = if wide { 2 } else { 1 };
        let rows: Vec<Vec<u8>> = pixels
            .chunks_exact(width)
            .map(|r| {
                r.iter()
                    .flat_map(|&v| {
                        if wide {
                            v.to_be_bytes().to_vec()
                        } else {
                            vec![v as u8]
                        }
                    })
                    .collect()
            })
            .collect();
        let zero = vec![0u8; width * bpp];
        let mut raw = Vec::new();
        for (y, row) in rows.iter().enumerate() {
            let prev = if y == 0 { &zero } else { &rows[y - 1] };
            let kind = filters[y % filters.len()];
            raw.push(kind);
            for i in 0..row.len() {
                let a = if i >= bpp { row[i - bpp] } else { 0 };
                let b = prev[i];
                let c = if i >= bpp { prev[i - bpp] } else { 0 };
                let pred = match kind {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((a as u16 + b as u16) / 2) as u8,
                    _ => {
                        // The specification's form, independent of `paeth` above.
                        let p = a as i16 + b as i16 - c as i16;
                        let (pa, pb, pc) = (
                            (p - a as i16).abs(),
                            (p - b as i16).abs(),
                            (p - c as i16).abs(),
                        );
                        if pa <= pb && pa <= pc {
                            a
                        } else if pb <= pc {
                            b
                        } else {
                            c
                        }
                    }
                };
                raw.push(row[i].wrapping_sub(pred));
            }
        }
        let mut z = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(6).unwrap());
        let mut zlib = vec![0u8; z.zlib_compress_bound(raw.len())];
        let n = z.zlib_compress(&raw, &mut zlib).unwrap();
        zlib.truncate(n);
        let mut out = SIGNATURE.to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&(width as u32).to_be_bytes());
        ihdr.extend_from_slice(&(height as u32).to_be_bytes());
        ihdr.extend_from_slice(&[if wide { 16 } else { 8 }, 0, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        for (ty, data) in extra {
            chunk(&mut out, ty, data);
        }
        for piece in zlib.chunks(idat_size.max(1)) {
            chunk(&mut out, b"IDAT", piece);
        }
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn via_png_crate(bytes: &[u8]) -> Result<Vec<u16>, crate::ImageError> {
        crate::pngio::decode_pixels_png_crate(bytes).map(|p| p.full.data)
    }

    /// The fast path decodes `bytes` and agrees with the png crate.
    fn assert_fast_matches(bytes: &[u8], what: &str) {
        let fast = decode_gray(bytes).unwrap_or_else(|| panic!("{what}: fast path declined"));
        let slow = crate::pngio::decode_pixels_png_crate(bytes).unwrap();
        assert_eq!(
            (fast.width, fast.height),
            (slow.full.width, slow.full.height),
            "{what}"
        );
        assert_eq!(fast.wide, slow.full.max_value == u16::MAX, "{what}");
        assert!(fast.data == slow.full.data, "{what}: pixels differ");
    }

    #[test]
    fn every_filter_type_and_depth_matches_the_png_crate() {
        for wide in [false, true] {
            for (w, h) in [(1, 1), (1, 5), (2, 3), (3, 2), (17, 9), (64, 33)] {
                let px = samples(w * h, (w * 100 + h) as u64, wide);
                let mut filter_sets: Vec<Vec<u8>> = (0..5).map(|f| vec![f]).collect();
                filter_sets.push(vec![4, 3, 2, 1, 0]);
                filter_sets.push(vec![3, 4, 1]);
                for filters in &filter_sets {
                    for idat in [1, 7, 1 << 20] {
                        let png = encode(w, h, wide, &px, filters, idat, &[]);
                        let what = format!("{w}x{h} wide={wide} filters={filters:?} idat={idat}");
                        assert_fast_matches(&png, &what);
                        assert_eq!(decode_gray(&png).unwrap().data, px, "{what}");
                    }
                }
            }
        }
    }

    #[test]
    fn png_crate_encodings_match() {
        // Files the png crate writes (its adaptive filter choice, its zlib).
        for wide in [false, true] {
            let (w, h) = (40, 30);
            let data = samples(w * h, 7, wide);
            let mut bytes = Vec::new();
            let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(if wide {
                png::BitDepth::Sixteen
            } else {
                png::BitDepth::Eight
            });
            let mut writer = enc.write_header().unwrap();
            let raw: Vec<u8> = if wide {
                data.iter().flat_map(|v| v.to_be_bytes()).collect()
            } else {
                data.iter().map(|&v| v as u8).collect()
            };
            writer.write_image_data(&raw).unwrap();
            writer.finish().unwrap();
            assert_fast_matches(&bytes, &format!("png crate wide={wide}"));
        }
    }

    #[test]
    fn harmless_ancillary_chunks_are_skipped_and_others_declined() {
        let px = samples(12 * 5, 3, false);
        let text: (&[u8; 4], &[u8]) = (b"tEXt", b"Comment\0mammogram");
        let png = encode(
            12,
            5,
            false,
            &px,
            &[4],
            1 << 20,
            &[text, (b"pHYs", &[0; 9])],
        );
        assert_fast_matches(&png, "tEXt + pHYs");
        // tRNS gives the png crate an alpha channel; PLTE and unknown critical chunks
        // are not ours either: the png crate decides.
        for extra in [
            (b"tRNS", &[0u8, 5][..]),
            (b"PLTE", &[0u8; 3][..]),
            (b"ABCD", &[][..]),
        ] {
            let png = encode(12, 5, false, &px, &[4], 1 << 20, &[extra]);
            assert!(decode_gray(&png).is_none(), "{:?}", extra.0);
        }
        let big = vec![b'x'; MAX_ANCILLARY + 1];
        let png = encode(12, 5, false, &px, &[0], 1 << 20, &[(b"tEXt", &big)]);
        assert!(decode_gray(&png).is_none());
        assert_eq!(via_png_crate(&png).unwrap(), px);
    }

    #[test]
    fn other_layouts_are_left_to_the_png_crate() {
        let px = samples(6 * 4, 1, false);
        let mut png = encode(6, 4, false, &px, &[0], 1 << 20, &[]);
        // IHDR colour type byte: 2 (RGB), then interlace 1, then bit depth 4.
        for (offset, value) in [(25, 2u8), (28, 1), (24, 4)] {
            let saved = png[offset];
            png[offset] = value;
            let crc = libdeflater::crc32(&png[12..29]);
            png[29..33].copy_from_slice(&crc.to_be_bytes());
            assert!(decode_gray(&png).is_none(), "IHDR byte {offset} = {value}");
            png[offset] = saved;
        }
    }

    #[test]
    fn damaged_files_are_declined_or_decoded_exactly_as_the_png_crate_does() {
        // Every truncation and a corruption of every byte: the fast path must either
        // decline (and the png crate decide) or give what the png crate gives, and
        // the public decoder must not panic.
        for wide in [false, true] {
            let px = samples(9 * 7, 11, wide);
            let png = encode(9, 7, wide, &px, &[4, 1, 3, 2, 0], 40, &[(b"tEXt", b"a\0b")]);
            let check = |bytes: &[u8], what: &str| {
                let _ = crate::decode_bytes(bytes);
                if let Some(fast) = decode_gray(bytes) {
                    let slow = via_png_crate(bytes)
                        .unwrap_or_else(|e| panic!("{what}: fast path accepted, png crate: {e}"));
                    assert!(fast.data == slow, "{what}: pixels differ");
                }
            };
            for cut in 0..png.len() {
                check(&png[..cut], &format!("wide={wide} cut at {cut}"));
            }
            for i in 0..png.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = png.clone();
                    bad[i] ^= flip;
                    check(&bad, &format!("wide={wide} byte {i} ^ {flip:#x}"));
                }
            }
        }
    }

    #[test]
    fn bad_zlib_data_with_good_crcs_is_declined() {
        let px = samples(30 * 20, 5, true);
        // Re-encode with a valid CRC over damaged zlib data: only the inflater can tell.
        let good = encode(30, 20, true, &px, &[4], 1 << 20, &[]);
        let idat_start = 8 + 25 + 8;
        let idat_len = u32::from_be_bytes(good[33..37].try_into().unwrap()) as usize;
        let zlib = &good[idat_start..idat_start + idat_len];
        for damage in [
            zlib[..zlib.len() / 2].to_vec(), // truncated stream
            [zlib, &[0u8; 8][..]].concat(),  // garbage after it
            {
                let mut z = zlib.to_vec();
                let n = z.len();
                z[n - 1] ^= 1;
                z
            }, // bad Adler-32
            {
                let mut z = zlib.to_vec();
                z[0] = 0x79;
                z
            }, // bad zlib header
        ] {
            let mut bytes = good[..33].to_vec();
            chunk(&mut bytes, b"IDAT", &damage);
            chunk(&mut bytes, b"IEND", &[]);
            if let Some(fast) = decode_gray(&bytes) {
                assert_eq!(Some(fast.data), via_png_crate(&bytes).ok());
            }
            let _ = crate::decode_bytes(&bytes);
        }
    }

    #[test]
    fn a_tiny_file_claiming_a_huge_image_is_declined_before_allocating() {
        let px = samples(4, 1, true);
        let mut png = encode(2, 2, true, &px, &[0], 1 << 20, &[]);
        png[16..24].copy_from_slice(&[0, 0, 0x40, 0, 0, 0, 0x40, 0]); // 16384 x 16384
        let crc = libdeflater::crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(decode_gray(&png).is_none());
        assert!(crate::decode_bytes(&png).is_err());
    }

    /// `../shared/data` as the tests find it (see tests/real_data.rs).
    fn shared_data() -> Option<std::path::PathBuf> {
        if let Ok(p) = std::env::var("MAMMORECALL_SHARED") {
            let d = std::path::PathBuf::from(p).join("data");
            return d.is_dir().then_some(d);
        }
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("../shared/data"))
            .find(|d| d.is_dir())
    }

    #[test]
    fn real_pngs_match_the_png_crate() {
        let Some(data) = shared_data() else {
            eprintln!("skipped: ../shared/data not found");
            return;
        };
        let mut n = 0;
        for dir in [
            "mini-mias/images",
            "cbis-ddsm-sample/images",
            "ddsm-normals-tiryakiv/images",
        ] {
            let Ok(rd) = std::fs::read_dir(data.join(dir)) else {
                continue;
            };
            let mut paths: Vec<_> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "png"))
                .collect();
            paths.sort();
            // Every real file was compared once (396, all equal); a sample of each
            // set keeps the test quick in unoptimised builds.
            for p in paths.iter().step_by(paths.len().div_ceil(40).max(1)) {
                let bytes = std::fs::read(p).unwrap();
                assert_fast_matches(&bytes, &p.display().to_string());
                n += 1;
            }
        }
        eprintln!("{n} real PNGs compared");
    }
}
