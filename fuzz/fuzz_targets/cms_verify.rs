#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitsign_fuzz::cms_verify(data));
