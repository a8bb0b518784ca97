//! Locating pretrained weights through `MAMMORECALL_WEIGHTS` (own test binary: it sets the
//! process environment).

use model::weights::{efficientnet_lite0_path, EFFICIENTNET_LITE0_FILE, WEIGHTS_ENV};

#[test]
fn explicit_path_wins_then_env_directory_is_searched() {
    let dir = tempfile::tempdir().unwrap();
    let explicit = dir.path().join("mine.safetensors");
    assert_eq!(efficientnet_lite0_path(Some(&explicit)).unwrap(), explicit);

    std::env::set_var(WEIGHTS_ENV, dir.path());
    let err = efficientnet_lite0_path(None).unwrap_err().to_string();
    assert!(
        err.contains("efficientnet-lite0") && err.contains("not found"),
        "{err}"
    );

    let nested = dir.path().join("efficientnet-lite0");
    std::fs::create_dir(&nested).unwrap();
    std::fs::write(nested.join(EFFICIENTNET_LITE0_FILE), b"x").unwrap();
    assert_eq!(
        efficientnet_lite0_path(None).unwrap(),
        nested.join(EFFICIENTNET_LITE0_FILE)
    );

    std::env::remove_var(WEIGHTS_ENV);
    let err = efficientnet_lite0_path(None).unwrap_err().to_string();
    assert!(err.contains(WEIGHTS_ENV), "{err}");
}
