//! Arbitrary text as a configuration file: parse, then build every stage that reads it
//! (release policies and the route table); every error is located and rendered.
#![no_main]

use graygate_canary::ReleasePolicy;
use graygate_config::{Document, FieldPath};
use graygate_route::RouteTable;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let doc = Document::from_text("fuzz.yaml", text, ".");
    let mut config = match doc.parse() {
        Ok(config) => config,
        Err(errors) => {
            let _ = errors.to_string();
            return;
        }
    };
    // `uids_file` is read from disk. Relative paths resolve under /nonexistent and fail, but an
    // absolute one (/dev/zero, /proc/self/fd/0) would make the fuzzer read forever: operators
    // own the config file, so that is not a finding. Point such paths at a missing file.
    for site in &mut config.sites {
        for rule in &mut site.release.rules {
            if let Some(pin) = &mut rule.pin
                && pin.uids_file.as_ref().is_some_and(|f| f.is_absolute())
            {
                pin.uids_file = Some(PathBuf::from("fuzz-absolute-uids-file"));
            }
        }
    }
    for site in &config.sites {
        if let Err(errors) = ReleasePolicy::build(
            &site.release,
            &site.name,
            Path::new("/nonexistent"),
            &FieldPath::root(),
        ) {
            let _ = doc.locate(errors).to_string();
        }
    }
    if let Err(errors) = RouteTable::build(&config.sites) {
        let _ = doc.locate(errors).to_string();
    }
});
