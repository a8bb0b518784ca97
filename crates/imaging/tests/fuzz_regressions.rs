//! Inputs the fuzzer once turned into a panic or a runaway allocation: each must now
//! be refused with an error.
#[test]
fn fuzz_findings_are_errors() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            imaging::decode_bytes(&bytes).is_err(),
            "{} decoded",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 4, "regression inputs missing");
}
