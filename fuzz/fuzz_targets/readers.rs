//! Bytes in, image or error out: every reader, whatever the leading bytes say.
//! Any panic, hang or allocation beyond libFuzzer's RSS limit is a bug.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = imaging::decode_bytes(data);
    let _ = imaging::info_bytes(data);
    // Also drive each reader directly, so mutations that break the magic bytes
    // still reach the parsers behind them.
    let _ = imaging::dicom::decode(data);
    let _ = imaging::pgm::decode(data);
    let _ = imaging::pngio::decode(data);
    // The pixels-only paths (training's cache) have fast paths of their own: the
    // PNG unfilter and the DICOM RLE byte planes.
    let _ = imaging::decode_pixels(data);
    let _ = imaging::dicom::decode_pixels(data);
    let _ = imaging::pngio::decode_pixels(data);
    let _ = imaging::pgm::decode_pixels(data);
});
