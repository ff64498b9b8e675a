#![no_main]

// keepalived.conf: any bytes load without panicking, every diagnostic renders, and a loaded
// configuration keeps the model's invariants (checked inside `fuzz_one`).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    baton_conf::fuzz_one(data);
});
