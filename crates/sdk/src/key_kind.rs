//! The kinds of private key, named by keys and by errors alike.

use casebook_domain::AssertionAlg;
use std::fmt;

/// The kind of a [`PrivateKey`](crate::PrivateKey), which decides the algorithms it signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA, 2048 to 8192 bits: RS256 (the default) or PS256.
    Rsa,
    /// EC on the P-256 curve: ES256.
    P256,
    /// Ed25519: EdDSA.
    Ed25519,
}

impl KeyKind {
    /// The algorithm used unless another is chosen.
    pub fn default_alg(self) -> AssertionAlg {
        match self {
            Self::Rsa => AssertionAlg::Rs256,
            Self::P256 => AssertionAlg::Es256,
            Self::Ed25519 => AssertionAlg::EdDsa,
        }
    }

    /// Whether a key of this kind signs with `alg`.
    pub fn signs_with(self, alg: AssertionAlg) -> bool {
        matches!(
            (self, alg),
            (Self::Rsa, AssertionAlg::Rs256 | AssertionAlg::Ps256)
                | (Self::P256, AssertionAlg::Es256)
                | (Self::Ed25519, AssertionAlg::EdDsa)
        )
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rsa => "an RSA",
            Self::P256 => "a P-256",
            Self::Ed25519 => "an Ed25519",
        })
    }
}
