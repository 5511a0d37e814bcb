//! Resource fetching as Ignition does it: `data:`, `http(s)`, `tftp`, `s3`/`gs`
//! (anonymous), gzip decompression and sha256/sha512 verification, streamed.
