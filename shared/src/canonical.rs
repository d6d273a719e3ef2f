//! Canonical JSON (RFC 8785, JCS) and the hashes built on it.
//!
//! Every hash Keksdose publishes — config versions, record hashes — is SHA-256 over
//! the JCS form of a JSON value, so that anyone can recompute it with any JCS
//! implementation. Config versions are written base64url (no padding), record
//! hashes lowercase hex (what `sha256sum` prints).

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Why a value has no canonical form.
#[derive(Debug, thiserror::Error)]
#[error("cannot canonicalise: {0}")]
pub struct CanonicalError(String);

impl CanonicalError {
    pub(crate) fn new(message: String) -> CanonicalError {
        CanonicalError(message)
    }
}

/// The RFC 8785 canonical JSON text of `value`.
///
/// For the values Keksdose hashes (ASCII keys, integers up to 2^53) serde_json's compact
/// output of a `Value` already is the canonical form: its maps iterate in key
/// order, which for ASCII keys is JCS's UTF-16 order, and its strings are escaped
/// as JCS escapes them. That path is several times faster than serde_jcs (chain
/// verification and every appended record hash go through it); anything else (a
/// float, a larger integer, a non-ASCII key, a map not in order) goes through serde_jcs.
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError(e.to_string()))?;
    value_to_canonical_json(&value)
}

/// [`to_canonical_json`] of a `Value` the caller already has (a record with a field
/// removed, say), without converting it again.
pub fn value_to_canonical_json(value: &serde_json::Value) -> Result<String, CanonicalError> {
    if plain(value) {
        return serde_json::to_string(value).map_err(|e| CanonicalError(e.to_string()));
    }
    serde_jcs::to_string(value).map_err(|e| CanonicalError(e.to_string()))
}

/// Whether serde_json's compact text of `value` is its JCS form.
fn plain(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        // JCS writes numbers as doubles: integers are exact up to 2^53 only.
        Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= 1 << 53)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= 1 << 53)
        }
        Value::Array(items) => items.iter().all(plain),
        Value::Object(map) => {
            let mut last: Option<&str> = None;
            map.iter().all(|(k, v)| {
                let in_order = last.is_none_or(|l| l < k.as_str());
                last = Some(k);
                in_order && k.is_ascii() && plain(v)
            })
        }
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// SHA-256 over the canonical JSON of `value`.
pub fn canonical_sha256<T: Serialize + ?Sized>(value: &T) -> Result<[u8; 32], CanonicalError> {
    Ok(Sha256::digest(to_canonical_json(value)?.as_bytes()).into())
}

/// Lowercase hex, as `sha256sum` prints it.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// base64url without padding (RFC 4648 §5).
pub fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of raw bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fast_path_equals_serde_jcs() {
        let values = [
            json!({"b": 9007199254740992u64, "d": -9007199254740992i64, "a": [true, null, "x\"\\\u{1}\n\u{7f}ü€😀"], "c": {"z": -5, "y": 18446744073709551615u64}}),
            json!({"é": 1, "e": 2, "f": 1.5}),
            json!({"n": 1e21, "m": 0.1, "k": -0.0}),
            json!([{"\u{10000}": 1, "\u{ffff}": 2}]),
            json!("plain"),
        ];
        for v in values {
            assert_eq!(
                to_canonical_json(&v).unwrap(),
                serde_jcs::to_string(&v).unwrap(),
                "{v}"
            );
        }
    }

    #[test]
    fn keys_are_sorted_and_whitespace_dropped() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": 0, "y": "é"}});
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":"é","z":0}}"#
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // RFC 8785 §3.2.3: "\u{10000}" (surrogates D800 DC00) sorts before "\u{FB33}".
        let v = json!({"\u{FB33}": 1, "\u{10000}": 2});
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            "{\"\u{10000}\":2,\"\u{FB33}\":1}"
        );
    }

    #[test]
    fn control_characters_are_escaped_as_rfc_8785_says() {
        let v = json!("a\u{1}\n\"\\/");
        assert_eq!(to_canonical_json(&v).unwrap(), r#""a\u0001\n\"\\/""#);
    }

    #[test]
    fn hex_and_base64url() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
