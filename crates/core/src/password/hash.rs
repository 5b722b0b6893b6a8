//! Password hashing. New hashes are argon2id in PHC format; imported bcrypt and SHA-crypt
//! hashes verify once and are then replaced (the caller re-hashes when `needs_rehash`).

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

/// argon2 working memory, lent by the caller so that it can be reused across hashes.
pub use argon2::Block;

/// Stored argon2 hashes asking for more memory than this are refused rather than computed.
const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP Password Storage Cheat Sheet minimum for argon2id.
    pub const OWASP: HashParams = HashParams { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };
}

/// The scheme a stored hash was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    Argon2id,
    Bcrypt,
    Sha512Crypt,
    Sha256Crypt,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("unsupported password hash format (expected argon2id, bcrypt $2a$/$2b$/$2y$, or SHA-crypt $5$/$6$)")]
    Unsupported,
    #[error("malformed {scheme} hash: {detail}")]
    Malformed { scheme: &'static str, detail: String },
    #[error("invalid argon2 parameters: {0}")]
    BadParams(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// Right password; `needs_rehash` when the stored hash is legacy or has other parameters.
    Match { needs_rehash: bool },
}

impl HashScheme {
    /// Recognises the scheme from the hash's prefix.
    pub fn of(stored: &str) -> Result<HashScheme, HashError> {
        if stored.starts_with("$argon2id$") {
            Ok(HashScheme::Argon2id)
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| stored.starts_with(p)) {
            Ok(HashScheme::Bcrypt)
        } else if stored.starts_with("$6$") {
            Ok(HashScheme::Sha512Crypt)
        } else if stored.starts_with("$5$") {
            Ok(HashScheme::Sha256Crypt)
        } else {
            Err(HashError::Unsupported)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HashScheme::Argon2id => "argon2id",
            HashScheme::Bcrypt => "bcrypt",
            HashScheme::Sha512Crypt => "sha512-crypt",
            HashScheme::Sha256Crypt => "sha256-crypt",
        }
    }
}

fn argon2(params: HashParams) -> Result<Argon2<'static>, HashError> {
    let p = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
        .map_err(|e| HashError::BadParams(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

/// Hashes `password` with argon2id; `salt` must be at least 16 random bytes.
pub fn hash(password: &str, salt: &[u8; 16], params: HashParams) -> Result<String, HashError> {
    let hash = argon2(params)?
        .hash_password_with_salt(password.as_bytes(), salt)
        .map_err(|e| HashError::BadParams(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks `password` against `stored`, in constant time with respect to the hash bytes.
/// `memory` is argon2's working memory; it is grown as needed and can be reused for the next call.
pub fn verify(password: &str, stored: &str, params: HashParams, memory: &mut Vec<Block>) -> Result<Verification, HashError> {
    let scheme = HashScheme::of(stored)?;
    let malformed = |detail: String| HashError::Malformed { scheme: scheme.as_str(), detail };
    let matched = match scheme {
        HashScheme::Argon2id => {
            let parsed = PasswordHash::new(stored).map_err(|e| malformed(e.to_string()))?;
            let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
                return Err(malformed("salt or hash missing".into()));
            };
            let used = Params::try_from(&parsed).map_err(|e| malformed(e.to_string()))?;
            if used.m_cost() > MAX_VERIFY_MEMORY_KIB {
                return Err(malformed(format!("memory cost {} KiB is above the {MAX_VERIFY_MEMORY_KIB} KiB limit", used.m_cost())));
            }
            let version = match parsed.version {
                Some(v) => Version::try_from(v).map_err(|e| malformed(e.to_string()))?,
                None => Version::default(),
            };
            let blocks = used.block_count();
            if memory.len() < blocks {
                memory.resize(blocks, Block::new());
            }
            let mut out = vec![0u8; expected.len()];
            Argon2::new(Algorithm::Argon2id, version, used.clone())
                .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
                .map_err(|e| malformed(e.to_string()))?;
            let computed = Output::new(&out).map_err(|e| malformed(e.to_string()))?;
            // `Output`'s equality is constant-time.
            if computed == *expected {
                let same = used.m_cost() == params.memory_kib
                    && used.t_cost() == params.iterations
                    && used.p_cost() == params.parallelism;
                return Ok(Verification::Match { needs_rehash: !same });
            }
            false
        }
        HashScheme::Bcrypt => {
            bcrypt::verify(password.as_bytes(), stored).map_err(|e| malformed(e.to_string()))?
        }
        HashScheme::Sha512Crypt | HashScheme::Sha256Crypt => {
            use sha_crypt::{PasswordVerifier as _, ShaCrypt};
            let verifier = if scheme == HashScheme::Sha512Crypt {
                ShaCrypt::SHA512
            } else {
                ShaCrypt::SHA256
            };
            match verifier.verify_password(password.as_bytes(), stored) {
                Ok(()) => true,
                Err(sha_crypt::password_hash::Error::PasswordInvalid) => false,
                Err(e) => return Err(malformed(e.to_string())),
            }
        }
    };
    Ok(if matched { Verification::Match { needs_rehash: true } } else { Verification::Mismatch })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn argon2id_round_trip_and_rehash_on_new_params() {
        let stored = hash("correct horse", &[7; 16], CHEAP).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(verify("correct horse", &stored, CHEAP, &mut Vec::new()).unwrap(), Verification::Match { needs_rehash: false });
        assert_eq!(verify("wrong", &stored, CHEAP, &mut Vec::new()).unwrap(), Verification::Mismatch);
        let stronger = HashParams { memory_kib: 128, ..CHEAP };
        assert_eq!(verify("correct horse", &stored, stronger, &mut Vec::new()).unwrap(), Verification::Match { needs_rehash: true });
    }

    #[test]
    fn legacy_hashes_verify_and_ask_for_rehash() {
        // Made with glibc crypt(3) (Python's `crypt.crypt`), default and explicit rounds.
        let sha512 = "$6$saltsalt$jCP90RmSIIja2o9FRs25ASQaR1lMN6uKHmNcHaoNCpAXgV3n5NfAlQdZQcvMVQO1BTCOFF0LzoHFZBt9E45NW0";
        let sha512_rounds = "$6$rounds=10000$salt2$400DySf3/J6vzkM1yBQa/LfrrACBe6SbvDTW5U86Fk2r6JRvq/aC1JxUa5iSAey/ihyiZDQNNukq30UAt8Zja/";
        let bcrypt = bcrypt::hash_with_salt("secret1", 4, [1; 16]).unwrap().format_for_version(bcrypt::Version::TwoB);
        for stored in [sha512, sha512_rounds, bcrypt.as_str()] {
            assert_eq!(verify("secret1", stored, CHEAP, &mut Vec::new()).unwrap(), Verification::Match { needs_rehash: true }, "{stored}");
            assert_eq!(verify("secret2", stored, CHEAP, &mut Vec::new()).unwrap(), Verification::Mismatch, "{stored}");
        }
    }

    #[test]
    fn reused_memory_gives_the_same_answers_and_huge_costs_are_refused() {
        let mut memory = Vec::new();
        let small = hash("pw-one", &[1; 16], CHEAP).unwrap();
        let bigger = hash("pw-two", &[2; 16], HashParams { memory_kib: 256, ..CHEAP }).unwrap();
        for _ in 0..2 {
            assert!(matches!(verify("pw-two", &bigger, CHEAP, &mut memory).unwrap(), Verification::Match { .. }));
            assert_eq!(verify("pw-one", &small, CHEAP, &mut memory).unwrap(), Verification::Match { needs_rehash: false });
            assert_eq!(verify("pw-two", &small, CHEAP, &mut memory).unwrap(), Verification::Mismatch);
        }
        let greedy = "$argon2id$v=19$m=4194304,t=1,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(verify("x", greedy, CHEAP, &mut memory).unwrap_err().to_string().contains("above"));
    }

    #[test]
    fn garbage_hashes_are_errors_not_matches() {
        for stored in ["", "plain", "$1$md5$x", "$argon2id$v=19$m=64", "$2b$04$short", "$6$"] {
            assert!(verify("x", stored, CHEAP, &mut Vec::new()).is_err(), "{stored:?} should be rejected");
        }
    }
}
