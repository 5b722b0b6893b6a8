//! Secrets at rest: the key file's format and the sealing of one stored secret.
//!
//! A sealed secret is XChaCha20-Poly1305 over the clear text, with a random 192-bit nonce
//! (random nonces of that size never collide in practice) and associated data naming the
//! record it belongs to (owner, field) and the key that sealed it, so a ciphertext copied onto
//! another record, or a record relabelled with another key, does not open.
//!
//! The key file is 57 bytes: a magic, a version, the key's id, the key, and a checksum that
//! tells a cut-short or damaged file from a wrong one.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"DWSECRET";
const VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 8;
/// The length of a key file.
pub const KEY_FILE_LEN: usize = MAGIC.len() + 1 + 8 + 32 + CHECKSUM_LEN;
/// Sealed values start with this, so a format change can be told apart.
const SEALED_PREFIX: &str = "x1:";
/// Nonce bytes a seal needs.
pub const NONCE_LEN: usize = 24;
/// The owner and field of a key's check value (see [`SecretKey::check_value`]).
const CHECK_OWNER: &str = "deskward.key-check";

/// A key's id: 8 random bytes, written as 16 hex digits. It names the key in the database and
/// in retired key files; it reveals nothing of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl KeyId {
    pub fn parse(text: &str) -> Option<KeyId> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return None;
        }
        let mut id = [0u8; 8];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(KeyId(id))
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why the bytes of a key file are not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("it is {0} bytes long where a key file has {KEY_FILE_LEN}: it was cut short or is not a Deskward key file")]
    Length(usize),
    #[error("it is not a Deskward key file")]
    Magic,
    #[error("it is a key file of version {0}, which this Deskward does not know")]
    Version(u8),
    #[error("its checksum does not match: the file is damaged")]
    Checksum,
}

/// Why a sealed secret does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the stored value is not a sealed secret (damaged)")]
    Malformed,
    /// Wrong key, edited ciphertext, or a ciphertext moved from another record.
    #[error("the stored value does not open with its key: it was altered or moved from another record")]
    Inauthentic,
}

/// A secret-sealing key; the bytes are wiped from memory when it is dropped and never printed.
#[derive(Clone)]
pub struct SecretKey {
    id: KeyId,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    /// A key from random bytes: `id` and `key` must come from a secure random source.
    pub fn from_random(id: [u8; 8], key: [u8; 32]) -> SecretKey {
        SecretKey { id: KeyId(id), key: Zeroizing::new(key) }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key file's bytes.
    pub fn to_file_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(KEY_FILE_LEN));
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(self.key.as_ref());
        let sum = Sha256::digest(out.as_slice());
        out.extend_from_slice(&sum[..CHECKSUM_LEN]);
        out
    }

    /// Reads a key file's bytes.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<SecretKey, KeyFileError> {
        if bytes.len() != KEY_FILE_LEN {
            return Err(if bytes.starts_with(MAGIC) || bytes.is_empty() { KeyFileError::Length(bytes.len()) } else { KeyFileError::Magic });
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(KeyFileError::Magic);
        }
        if bytes[MAGIC.len()] != VERSION {
            return Err(KeyFileError::Version(bytes[MAGIC.len()]));
        }
        let body = KEY_FILE_LEN - CHECKSUM_LEN;
        if Sha256::digest(&bytes[..body])[..CHECKSUM_LEN] != bytes[body..] {
            return Err(KeyFileError::Checksum);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[9..17]);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&bytes[17..49]);
        Ok(SecretKey { id: KeyId(id), key })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.key))
    }

    fn associated_data(&self, owner: &str, field: &str) -> Vec<u8> {
        // Lengths first, so ("a", "b\0c") and ("a\0b", "c") cannot mean the same record.
        let mut aad = b"deskward secret v1".to_vec();
        for part in [owner.as_bytes(), field.as_bytes(), self.id.to_string().as_bytes()] {
            aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
            aad.extend_from_slice(part);
        }
        aad
    }

    /// Seals `clear` for the record (`owner`, `field`); `nonce` must be fresh random bytes.
    pub fn seal(&self, nonce: [u8; NONCE_LEN], owner: &str, field: &str, clear: &str) -> String {
        let aad = self.associated_data(owner, field);
        let sealed = self
            .cipher()
            .encrypt(&XNonce::from(nonce), Payload { msg: clear.as_bytes(), aad: &aad })
            // Only a message beyond 256 GiB can fail to seal.
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", hex(&bytes))
    }

    /// Opens what [`SecretKey::seal`] made for the same record.
    pub fn open(&self, owner: &str, field: &str, sealed: &str) -> Result<Zeroizing<String>, OpenError> {
        let bytes = sealed.strip_prefix(SEALED_PREFIX).and_then(unhex).ok_or(OpenError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(nonce);
        let aad = self.associated_data(owner, field);
        let clear = self
            .cipher()
            .decrypt(&XNonce::from(n), Payload { msg: body, aad: &aad })
            .map_err(|_| OpenError::Inauthentic)?;
        String::from_utf8(clear).map(Zeroizing::new).map_err(|_| OpenError::Malformed)
    }

    /// A value the database keeps beside the key's id: it opens only with this very key, so a
    /// key file holding another key under the same id is told apart.
    pub fn check_value(&self, nonce: [u8; NONCE_LEN]) -> String {
        self.seal(nonce, CHECK_OWNER, "", "")
    }

    /// Whether `check` was made by [`SecretKey::check_value`] of this key.
    pub fn matches(&self, check: &str) -> bool {
        self.open(CHECK_OWNER, "", check).is_ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_random([n; 8], [n.wrapping_add(1); 32])
    }

    #[test]
    fn a_sealed_secret_opens_only_on_its_record_with_its_key() {
        let k = key(1);
        let sealed = k.seal([7; NONCE_LEN], "mail.relay", "password", "relay-pw");
        assert!(!sealed.contains("relay-pw"));
        assert_eq!(k.open("mail.relay", "password", &sealed).unwrap().as_str(), "relay-pw");
        assert_eq!(k.open("mail.relay", "username", &sealed), Err(OpenError::Inauthentic));
        assert_eq!(k.open("directory:example.org", "password", &sealed), Err(OpenError::Inauthentic));
        assert_eq!(key(2).open("mail.relay", "password", &sealed), Err(OpenError::Inauthentic));
        // The same key bytes under another id: the id is bound too.
        let relabelled = SecretKey { id: KeyId([9; 8]), key: k.key.clone() };
        assert_eq!(relabelled.open("mail.relay", "password", &sealed), Err(OpenError::Inauthentic));
        assert_eq!(k.open("mail.relay", "password", "relay-pw"), Err(OpenError::Malformed));
        assert_eq!(k.open("mail.relay", "password", "x1:zz"), Err(OpenError::Malformed));
        assert_eq!(k.open("mail.relay", "password", &sealed[..sealed.len() - 2]), Err(OpenError::Inauthentic));
    }

    #[test]
    fn the_check_value_tells_the_right_key() {
        let check = key(1).check_value([3; NONCE_LEN]);
        assert!(key(1).matches(&check));
        assert!(!key(2).matches(&check));
    }

    #[test]
    fn key_files_round_trip_and_damage_is_named() {
        let k = key(4);
        let bytes = k.to_file_bytes();
        assert_eq!(bytes.len(), KEY_FILE_LEN);
        let back = SecretKey::from_file_bytes(&bytes).unwrap();
        assert_eq!(back.id(), k.id());
        assert_eq!(*back.key, *k.key);
        assert_eq!(SecretKey::from_file_bytes(&bytes[..40]).unwrap_err(), KeyFileError::Length(40));
        assert_eq!(SecretKey::from_file_bytes(&[]).unwrap_err(), KeyFileError::Length(0));
        assert_eq!(SecretKey::from_file_bytes(b"-----BEGIN PRIVATE KEY-----").unwrap_err(), KeyFileError::Magic);
        let mut flipped = bytes.to_vec();
        flipped[20] ^= 1;
        assert_eq!(SecretKey::from_file_bytes(&flipped).unwrap_err(), KeyFileError::Checksum);
        let mut newer = bytes.to_vec();
        newer[8] = 2;
        assert_eq!(SecretKey::from_file_bytes(&newer).unwrap_err(), KeyFileError::Version(2));
        assert_eq!(format!("{k:?}"), "SecretKey(0404040404040404)");
    }

    #[test]
    fn key_ids_parse_their_own_form_only() {
        let id = key(0xab).id();
        assert_eq!(KeyId::parse(&id.to_string()), Some(id));
        for bad in ["", "abab", "ABABABABABABABAB", "abababababababag", "ab/ababababababa", "../../etc/passwd"] {
            assert_eq!(KeyId::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_text_round_trips(clear in ".{0,200}", owner in "[a-z.:]{1,20}", nonce in any::<[u8; 24]>()) {
            let k = key(5);
            let sealed = k.seal(nonce, &owner, "f", &clear);
            let opened = k.open(&owner, "f", &sealed).unwrap();
            prop_assert_eq!(opened.as_str(), clear.as_str());
        }

        #[test]
        fn garbage_never_opens_or_panics(text in ".{0,300}") {
            prop_assert!(key(6).open("o", "f", &text).is_err());
        }
    }
}
