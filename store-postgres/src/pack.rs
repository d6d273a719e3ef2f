//! Records as the store keeps them: their JSON text deflated with a preset
//! dictionary of what records have in common (field names, actions, the
//! service ids of the example sites), a format byte first. A record of about
//! 950 bytes of JSON takes about a quarter of that; PostgreSQL itself
//! compresses only values in rows over about 2 KB.
//!
//! The dictionary of a format is frozen: `dictionary/make.py` says how the
//! first was made. A better one is a new file and a new format byte, read
//! beside the old ones.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Format 1: raw deflate with `dictionary/records-1.txt` (read, no longer
/// written).
const FORMAT_1: u8 = 1;
const DICTIONARY_1: &[u8] = include_bytes!("../dictionary/records-1.txt");
/// Format 2: raw deflate with `dictionary/records-2.txt`, which knows the
/// services of the five operators' example sites too: their records pack some
/// 36 bytes smaller than with format 1's (a mix of the sites the benchmark
/// writes: 276 against 312 bytes).
const FORMAT_2: u8 = 2;
const DICTIONARY_2: &[u8] = include_bytes!("../dictionary/records-2.txt");
/// Measured on a 950-byte record of the saas site (release build, 1 Dec): 252
/// bytes in about 15 µs with format 2, 248 in 11 µs with format 1's smaller
/// dictionary (earlier, format 1 at level 9: 247 B; level 1: 306 B, most of
/// its time loading the dictionary); inflating takes about 1.5 µs.
const LEVEL: u32 = 6;

/// The dictionary of a format this release reads.
fn dictionary(format: u8) -> Option<&'static [u8]> {
    match format {
        FORMAT_1 => Some(DICTIONARY_1),
        FORMAT_2 => Some(DICTIONARY_2),
        _ => None,
    }
}

thread_local! {
    // A deflate or inflate state is some 40–300 KB: made once per thread,
    // reset per record.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(LEVEL), false));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// The stored form of a record's JSON text.
pub fn pack(json: &str) -> Vec<u8> {
    DEFLATE.with_borrow_mut(|c| {
        c.reset();
        deflate(c, json.as_bytes())
    })
}

fn deflate(c: &mut Compress, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    out.push(FORMAT_2);
    // Only fails when called after input was given, which it is not.
    if c.set_dictionary(DICTIONARY_2).is_err() {
        unreachable!("a deflate dictionary is set before any input");
    }
    loop {
        let done = usize::try_from(c.total_in()).unwrap_or(input.len());
        match c.compress_vec(&input[done..], &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return out,
            // Out of room: more, and on.
            Ok(_) => out.reserve(out.capacity().max(64)),
            Err(e) => unreachable!("deflate of a complete input fails only on misuse: {e}"),
        }
    }
}

/// A record's JSON text from its stored form.
pub fn unpack(stored: &[u8]) -> Result<String, String> {
    let Some((&format, body)) = stored.split_first() else {
        return Err("a packed record is empty".into());
    };
    let Some(dictionary) = dictionary(format) else {
        return Err(format!(
            "a packed record of format {format}, which this release does not know"
        ));
    };
    INFLATE.with_borrow_mut(|d| {
        d.reset(false);
        inflate(d, body, dictionary)
    })
}

fn inflate(d: &mut Decompress, body: &[u8], dictionary: &[u8]) -> Result<String, String> {
    d.set_dictionary(dictionary)
        .map_err(|e| format!("inflate dictionary: {e}"))?;
    let mut out = Vec::with_capacity(body.len() * 4 + 64);
    loop {
        let done = usize::try_from(d.total_in()).unwrap_or(body.len());
        let before = (d.total_in(), d.total_out());
        match d.decompress_vec(&body[done..], &mut out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(_) if out.len() == out.capacity() => out.reserve(out.capacity()),
            Ok(_) if (d.total_in(), d.total_out()) == before => {
                return Err("a packed record ends early".into());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("a packed record does not inflate: {e}")),
        }
    }
    String::from_utf8(out).map_err(|e| format!("a packed record is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_comes_back_byte_for_byte_and_smaller() {
        let json = r#"{"format":1,"site":"saas","seq":42,"consent_id":"x7Yb2mQp9LrT4vWz","received_at":"2026-11-30T02:01:02.345Z","action":"accept_all","source":"banner","config_version":"5WR3Jsn58bZsnrrCVztz3ZpbIdiNV1veolt18aF8ntU","choices":{"categories":{"analytics":true,"marketing":true,"necessary":true},"services":{"google-ads":true,"mixpanel":true,"segment":true}},"language":"de","signals":{"gpc":false,"dnt":false},"personal_hash":"300837665d49179029c88c1b5895d94093f74c5c083fabd3fb7b375ec0ea064a","personal":{"salt":"q1w2e3r4t5z6u7i8","page":"/preise","ip_hash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","ua_hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","record_hash":"0b0dfd6aa0d9327f38b6ea44a357c2566ca7263d83f75084ac66f1bb55dc2a18"}"#;
        let packed = pack(json);
        assert_eq!(packed[0], FORMAT_2);
        assert!(
            packed.len() < json.len() / 2,
            "{} of {}",
            packed.len(),
            json.len()
        );
        assert_eq!(unpack(&packed).unwrap(), json);
        // Text the dictionary knows nothing of, and none at all.
        let other = "ü€".repeat(3000);
        assert_eq!(unpack(&pack(&other)).unwrap(), other);
        assert_eq!(unpack(&pack("")).unwrap(), "");
    }

    #[test]
    fn a_damaged_or_unknown_form_is_an_error_not_a_record() {
        let packed = pack(r#"{"format":1,"site":"saas"}"#);
        assert!(unpack(&packed[..packed.len() - 3]).is_err());
        assert!(unpack(&[]).is_err());
        let mut other = packed;
        other[0] = 3;
        assert!(unpack(&other).unwrap_err().contains("format 3"));
        // The thread's inflate state, reused, is whole again after a failure.
        assert_eq!(unpack(&pack("{}")).unwrap(), "{}");
    }

    /// A fixture's bytes from its hex.
    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Format 1 is frozen: bytes packed by another deflate (Python's zlib,
    /// level 9, with `dictionary/records-1.txt`) when the format was made
    /// still read as the same text. A changed dictionary fails this.
    #[test]
    fn format_1_reads_what_it_read_when_it_was_made() {
        let packed = bytes(FIXTURE);
        assert_eq!(packed[0], FORMAT_1);
        assert_eq!(unpack(&packed).unwrap(), FIXTURE_TEXT);
        assert_eq!(DICTIONARY_1.len(), 5295);
    }

    /// Format 2 likewise, frozen with `dictionary/records-2.txt`.
    #[test]
    fn format_2_reads_what_it_read_when_it_was_made() {
        let packed = bytes(FIXTURE_2);
        assert_eq!(packed[0], FORMAT_2);
        assert_eq!(unpack(&packed).unwrap(), FIXTURE_2_TEXT);
        assert_eq!(DICTIONARY_2.len(), 9059);
    }

    const FIXTURE_2: &str = "0223a2aa33420bf6308f308324632f534ff7a882548f20c3e4dc50ec316168048e09632a34a30a420c8a8d9223f24c02cba32c2a9dca3c0c4bbdcd737d8a8c53bd521c2dd3ddcc32fd0bc34d4b2293fc92c91f6140afe3a8316a8094bef14530fe480200";
    const FIXTURE_2_TEXT: &str = r#"{"format":1,"site":"tutory","seq":12,"consent_id":"VHV0b3J5IGZpeHR1cmU","received_at":"2026-12-01T03:00:00.000Z","action":"custom","source":"banner","config_version":"pT0s2cXn4QwZ8yBvH1uK7mLr3eJdA9gF6iOqW5tYbNc","choices":{"categories":{"necessary":true},"services":{"keksdose":true,"server-logs":true,"session":true}},"language":"de","signals":{"gpc":true,"dnt":false},"personal_hash":"","prev_hash":"","record_hash":""}"#;

    const FIXTURE: &str = "012366acc91c2ddc03732dcb523cfc0c9273ddca3ddd73b2b1c783a1a1aeb14188813195e2213bab3c2fd039332f29a230c4272cdba9ca2438d1d2c4d8d4b23c3333c931dbafccd2cda8c038202835ac7860473bd1eb42bcc30d14a50afc310b00";
    const FIXTURE_TEXT: &str = r#"{"format":1,"site":"coaching","seq":7,"consent_id":"Qm9vdHN0cmFwIGlk","received_at":"2026-11-30T03:00:00.000Z","action":"reject_all","source":"banner","config_version":"kjwnQCinbXqTLVkBz4Sa94359wiibAkNv9F2p3PReVs","choices":{"categories":{"functional":false,"marketing":false,"necessary":true,"social":false},"services":{"callback":true,"keksdose":true,"youtube":false}},"language":"de","signals":{"gpc":false,"dnt":false},"personal_hash":"","prev_hash":"","record_hash":""}"#;
}
