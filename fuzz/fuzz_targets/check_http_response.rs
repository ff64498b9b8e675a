#![no_main]

// See baton_check::fuzz::http_response for what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    baton_check::fuzz::http_response(data);
});
