//! The admin page in a real browser: headless Chromium (Debian's) driven by playwright-core
//! (npm), both installed by scripts/test.sh. The script enters the token, sets 25%, pins a uid,
//! checks a real proxied request for that uid gets the gray version, rolls back to 0% and to a
//! revision, and leaves a screenshot in test-artifacts/.

mod common;
use common::*;
use std::process::Command;

#[test]
fn a_release_manager_drives_the_admin_page() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let gw = Gateway::launch(
        dir,
        None,
        Some(&state),
        &[("GRAYGATE_ADMIN_TOKEN", "browser-test-token")],
    );
    let admin = gw.admin.expect("admin listener");
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: run scripts/test.sh (it runs npm ci in {})",
        browser_dir.display()
    );
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifacts dir");
    let screenshot = artifacts.join("admin-page.png");
    let out = Command::new("node")
        .current_dir(&browser_dir)
        .arg("admin.mjs")
        .arg(format!("http://{admin}"))
        .arg("browser-test-token")
        .arg(format!("http://{}", gw.addr))
        .arg(&screenshot)
        .output()
        .expect("node is installed (scripts/test.sh installs it)");
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser test failed:\n{log}");
    assert!(
        screenshot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot at {}",
        screenshot.display()
    );
}
