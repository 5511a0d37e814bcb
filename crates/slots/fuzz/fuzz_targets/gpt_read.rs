//! Fuzzes the GPT reader and everything that reads a table: arbitrary bytes
//! are a disk image (the first byte picks 512- or 4096-byte sectors) that
//! goes through `reignite_slots::fuzzing::check_image`: reading both copies,
//! health, slot lookup, GRUB's selection, every slot command, and a commit
//! and a repair whose results must read back identical and clean. It must
//! never panic; memory is bounded by the 4 MiB entry-array limit and the
//! input size. Seeds: run the smoke test (`cargo test -p reignite-slots
//! --test fuzz_smoke` with `FUZZ_SMOKE_CORPUS=<absolute dir>`) or start
//! from an empty corpus.
//! Run: `cd crates/slots/fuzz && cargo +nightly fuzz run gpt_read -- -max_len=1048576`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, image)) = data.split_first() else {
        return;
    };
    let sector_size = if mode & 1 == 0 { 512 } else { 4096 };
    let _ = reignite_slots::fuzzing::check_image(sector_size, image);
});
