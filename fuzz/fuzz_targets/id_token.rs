#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| gitsign_fuzz::id_token(data));
