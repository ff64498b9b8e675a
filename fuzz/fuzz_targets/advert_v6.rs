#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    baton_wire_fuzz::advert_v6(data);
});
