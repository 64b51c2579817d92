//! Any bytes as a policy file: reading must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut loaded = tighten::policy::load::Loaded::default();
        let _ = tighten::policy::load::load_text(std::path::Path::new("fuzz.yaml"), text, &mut loaded);
    }
});
