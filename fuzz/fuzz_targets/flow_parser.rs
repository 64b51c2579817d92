//! Any bytes as a Hubble flow file: reading must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tighten::flows::file::parse(std::path::Path::new("fuzz.jsonpb"), text);
    }
});
