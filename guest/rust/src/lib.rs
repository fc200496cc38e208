//! Guest SDK for the `wasi_ephemeral_crypto` and `wasi_ephemeral_crypto_keys`
//! imports of wasihsm (docs/semantics.md): build for `wasm32-wasi` and run
//! under `wasihsm run`.
//!
//! [`raw`] holds the imports one to one (generated from the host and the
//! contract's tables); the types here wrap them safely: every handle is
//! owned and closed on drop, every call answers a [`Result`] whose
//! [`Error`] carries the errno.
//!
//! ```no_run
//! use wasi_ephemeral_crypto::{hash, Key, algorithm};
//!
//! let digest = hash(algorithm::SHA_256, b"hello")?;
//! let key = Key::generate(algorithm::ES256)?; // in the token, when there is one
//! let sig = key.sign(algorithm::ES256, b"message")?; // r‖s, 64 bytes
//! let spki = key.public_key()?; // SubjectPublicKeyInfo DER
//! # Ok::<(), wasi_ephemeral_crypto::Error>(())
//! ```
#![deny(missing_docs)]

pub mod raw;

use std::fmt;

pub use raw::{algorithm, size, Error, Handle};

/// The result of a call: the errno, when it is not success, as an [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// check turns an errno into a Result.
fn check(e: u32) -> Result<()> {
    match Error::from_errno(e) {
        None => Ok(()),
        Some(err) => Err(err),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Other(e) => write!(f, "wasi_ephemeral_crypto: errno {}", e),
            e => write!(f, "wasi_ephemeral_crypto: {}", e.name()),
        }
    }
}

impl std::error::Error for Error {}

/// The digest length the SDK asks for: the algorithm's size, and for the
/// XOFs twice their security strength (SHAKE128 32 bytes, SHAKE256 64).
fn digest_size(alg: &str) -> Option<usize> {
    match alg {
        algorithm::SHAKE128 => Some(32),
        algorithm::SHAKE256 => Some(64),
        _ => raw::output_size(alg),
    }
}

/// Returns the digest of data with the hash alg (for the XOFs, see
/// [`Hash::digest`] to choose the length).
pub fn hash(alg: &str, data: &[u8]) -> Result<Vec<u8>> {
    let mut h = Hash::new(alg)?;
    h.update(data)?;
    h.finish()
}

/// A streaming hash state; closed on drop.
#[derive(Debug)]
pub struct Hash {
    handle: Handle,
    size: Option<usize>,
}

impl Hash {
    /// Opens a hash state of alg (`notsup` for a name the host cannot serve).
    pub fn new(alg: &str) -> Result<Hash> {
        let mut handle = 0;
        check(unsafe { raw::hash_open(alg.as_ptr(), alg.len(), &mut handle) })?;
        Ok(Hash { handle, size: digest_size(alg) })
    }

    /// Absorbs data.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        check(unsafe { raw::hash_update(self.handle, data.as_ptr(), data.len()) })
    }

    /// Writes the first `out.len()` bytes of the digest of the data so far
    /// (any length ≥ 1 for the XOFs); the state is not disturbed.
    pub fn digest_into(&self, out: &mut [u8]) -> Result<()> {
        check(unsafe { raw::hash_digest(self.handle, out.as_mut_ptr(), out.len()) })
    }

    /// Returns the first n bytes of the digest of the data so far.
    pub fn digest(&self, n: usize) -> Result<Vec<u8>> {
        let mut out = vec![0; n];
        self.digest_into(&mut out)?;
        Ok(out)
    }

    /// Returns the whole digest of the data so far (for the XOFs, 32 or 64
    /// bytes: see [`hash`]).
    pub fn finish(&self) -> Result<Vec<u8>> {
        self.digest(self.size.ok_or(Error::Inval)?)
    }

    /// The raw handle, for calls of [`raw`]; it stays owned by self.
    pub fn handle(&self) -> Handle {
        self.handle
    }
}

impl std::io::Write for Hash {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf)
            .map(|_| buf.len())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::Other, e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Hash {
    fn drop(&mut self) {
        unsafe { raw::hash_close(self.handle) };
    }
}

/// A key held by the host (in the token when there is one): the guest sees
/// only its handle. Closed on drop; a managed key stays on the token.
#[derive(Debug)]
pub struct Key {
    handle: Handle,
}

/// A key-preparation state: generate_key consumes it on success, and the
/// API has no call to close it otherwise (docs/semantics.md#handles).
struct Prepared(Handle);

impl Prepared {
    fn new(alg: &str) -> Result<Prepared> {
        let mut st = 0;
        check(unsafe { raw::generate_key_prepare(alg.as_ptr(), alg.len(), &mut st) })?;
        Ok(Prepared(st))
    }

    fn generate(self) -> Result<Key> {
        let mut handle = 0;
        check(unsafe { raw::generate_key(self.0, &mut handle) })?;
        Ok(Key { handle })
    }
}

impl Key {
    /// Generates a key of alg on the host.
    pub fn generate(alg: &str) -> Result<Key> {
        Prepared::new(alg)?.generate()
    }

    /// Imports a key of alg: raw bytes for AES and HMAC, PKCS#8 DER for
    /// the others (docs/semantics.md#algorithms).
    pub fn import(alg: &str, material: &[u8]) -> Result<Key> {
        let st = Prepared::new(alg)?;
        check(unsafe { raw::generate_key_set_input(st.0, material.as_ptr(), material.len()) })?;
        st.generate()
    }

    /// Makes an HKDF key (HKDF-Extract of ikm with salt, with the hash
    /// SHA-256, SHA-384 or SHA-512); expand it with [`Key::hkdf_expand`].
    pub fn hkdf(hash_alg: &str, ikm: &[u8], salt: Option<&[u8]>) -> Result<Key> {
        let st = Prepared::new(algorithm::HKDF)?;
        let h = Hash::new(hash_alg)?;
        check(unsafe { raw::generate_key_set_hash(st.0, h.handle) })?;
        check(unsafe { raw::generate_key_set_input(st.0, ikm.as_ptr(), ikm.len()) })?;
        if let Some(salt) = salt {
            check(unsafe { raw::generate_key_set_nonce(st.0, salt.as_ptr(), salt.len()) })?;
        }
        st.generate()
    }

    /// Opens the managed key name: one the operator provisioned and named
    /// for this guest (`noent` when there is none, `access` when the guest
    /// may not use it).
    pub fn open_managed(name: &str) -> Result<Key> {
        let mut handle = 0;
        check(unsafe { raw::private_key_open(name.as_ptr(), name.len(), &mut handle) })?;
        Ok(Key { handle })
    }

    /// The public key as SubjectPublicKeyInfo DER (`inval` for a
    /// symmetric key).
    pub fn public_key(&self) -> Result<Vec<u8>> {
        let mut buf = vec![0; 256];
        loop {
            let mut n = 0usize;
            let e = unsafe { raw::private_key_export_public(self.handle, buf.as_mut_ptr(), buf.len(), &mut n) };
            match Error::from_errno(e) {
                None => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Some(Error::Range) if n > buf.len() => buf.resize(n, 0),
                Some(err) => return Err(err),
            }
        }
    }

    /// Signs (or MACs) msg with alg, the key's algorithm.
    pub fn sign(&self, alg: &str, msg: &[u8]) -> Result<Vec<u8>> {
        let mut s = Signer::new(alg, self)?;
        s.update(msg)?;
        s.sign()
    }

    /// HKDF-Expand of this HKDF key: n bytes for info.
    pub fn hkdf_expand(&self, info: &[u8], n: usize) -> Result<Vec<u8>> {
        self.derive(algorithm::HKDF, info, n)
    }

    /// The shared secret of this key-agreement key (ECDH-P256, ECDH-P384,
    /// X25519) with the peer's public key (SEC1 uncompressed point; 32
    /// bytes for X25519).
    pub fn agree(&self, alg: &str, peer: &[u8]) -> Result<Vec<u8>> {
        self.derive(alg, peer, raw::output_size(alg).ok_or(Error::Inval)?)
    }

    /// derive_key with the key: nonce is HKDF's info or the ECDH peer.
    fn derive(&self, alg: &str, nonce: &[u8], n: usize) -> Result<Vec<u8>> {
        let mut st = 0;
        check(unsafe { raw::derive_key_prepare(alg.as_ptr(), alg.len(), self.handle, &mut st) })?;
        check(unsafe { raw::derive_key_set_nonce(st, nonce.as_ptr(), nonce.len()) })?;
        let mut out = vec![0; n];
        check(unsafe { raw::derive_key(st, out.as_mut_ptr(), out.len()) })?;
        Ok(out)
    }

    /// The raw handle, for calls of [`raw`]; it stays owned by self.
    pub fn handle(&self) -> Handle {
        self.handle
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        unsafe { raw::private_key_close(self.handle) };
    }
}

/// A signing state: the data since it was made, signed any number of
/// times. Ended and closed on drop.
#[derive(Debug)]
pub struct Signer {
    handle: Handle,
    size: usize,
}

impl Signer {
    /// Opens a signing state of alg (the key's algorithm) on key.
    pub fn new(alg: &str, key: &Key) -> Result<Signer> {
        let size = match raw::output_size(alg) {
            Some(n) => n,
            None if raw::is_rsa(alg) => rsa_modulus_len(&key.public_key()?).ok_or(Error::Inval)?,
            None => return Err(Error::Inval),
        };
        let mut st = 0;
        check(unsafe { raw::sign_open(alg.as_ptr(), alg.len(), key.handle, &mut st) })?;
        let mut handle = 0;
        if let Err(e) = check(unsafe { raw::sign_begin(st, &mut handle) }) {
            unsafe { raw::sign_close(st) };
            return Err(e);
        }
        Ok(Signer { handle, size })
    }

    /// Absorbs data.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        check(unsafe { raw::sign_update(self.handle, data.as_ptr(), data.len()) })
    }

    /// The signature of the data so far (more may follow).
    pub fn sign(&self) -> Result<Vec<u8>> {
        let mut out = vec![0; self.size];
        check(unsafe { raw::sign(self.handle, out.as_mut_ptr(), out.len()) })?;
        Ok(out)
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        let mut done = 0;
        if unsafe { raw::sign_end(self.handle, &mut done) } == 0 {
            unsafe { raw::sign_close(done) };
        }
    }
}

/// rsa_modulus_len reads the modulus length (the signature length) of an
/// RSA SubjectPublicKeyInfo:
/// SEQUENCE { AlgorithmIdentifier, BIT STRING { SEQUENCE { INTEGER n, INTEGER e } } }.
fn rsa_modulus_len(spki: &[u8]) -> Option<usize> {
    fn element(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        if b.len() < 2 || b[0] != tag {
            return None;
        }
        let (len, start) = if b[1] < 0x80 {
            (b[1] as usize, 2)
        } else {
            let n = (b[1] & 0x7f) as usize;
            if n == 0 || n > 4 || b.len() < 2 + n {
                return None;
            }
            (b[2..2 + n].iter().fold(0usize, |a, &c| a << 8 | c as usize), 2 + n)
        };
        let end = start.checked_add(len)?;
        if end > b.len() {
            return None;
        }
        Some((&b[start..end], &b[end..]))
    }
    let (body, _) = element(spki, 0x30)?;
    let (_, rest) = element(body, 0x30)?;
    let (bits, _) = element(rest, 0x03)?;
    let (key, _) = element(bits.get(1..)?, 0x30)?;
    let (mut n, _) = element(key, 0x02)?;
    while n.len() > 1 && n[0] == 0 {
        n = &n[1..];
    }
    Some(n.len())
}

/// An AES-GCM key's cipher state (A128GCM, A192GCM, A256GCM); closed on drop.
#[derive(Debug)]
pub struct Aead {
    handle: Handle,
}

impl Aead {
    /// Opens a cipher state on key.
    pub fn new(key: &Key) -> Result<Aead> {
        let mut handle = 0;
        check(unsafe { raw::cipher_open(key.handle, &mut handle) })?;
        Ok(Aead { handle })
    }

    fn setup(&self, nonce: &[u8], aad: &[u8]) -> Result<()> {
        check(unsafe { raw::cipher_set_nonce(self.handle, nonce.as_ptr(), nonce.len()) })?;
        check(unsafe { raw::cipher_set_auth_data(self.handle, aad.as_ptr(), aad.len()) })
    }

    /// Encrypts plaintext with the 12-byte nonce (never one this key last
    /// encrypted with) and aad; returns the ciphertext and the 16-byte tag.
    pub fn encrypt(&mut self, nonce: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        self.setup(nonce, aad)?;
        let mut enc = 0;
        check(unsafe { raw::cipher_encrypt_begin(self.handle, &mut enc) })?;
        let mut ct = vec![0; plaintext.len()];
        let e = unsafe { raw::cipher_encrypt(enc, plaintext.as_ptr(), plaintext.len(), ct.as_mut_ptr(), ct.len()) };
        check(unsafe { raw::cipher_encrypt_end(enc, &mut self.handle) })?;
        check(e)?;
        let mut tag = vec![0; size::AEAD_TAG];
        check(unsafe { raw::cipher_get_auth_tag(self.handle, tag.as_mut_ptr(), tag.len()) })?;
        Ok((ct, tag))
    }

    /// Decrypts ciphertext with the nonce, tag and aad it was sealed with
    /// ([`Error::Badmsg`] when they do not authenticate).
    pub fn decrypt(&mut self, nonce: &[u8], ciphertext: &[u8], tag: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        self.setup(nonce, aad)?;
        check(unsafe { raw::cipher_set_auth_tag(self.handle, tag.as_ptr(), tag.len()) })?;
        let mut dec = 0;
        check(unsafe { raw::cipher_decrypt_begin(self.handle, &mut dec) })?;
        let mut pt = vec![0; ciphertext.len()];
        let e = unsafe { raw::cipher_decrypt(dec, ciphertext.as_ptr(), ciphertext.len(), pt.as_mut_ptr(), pt.len()) };
        check(unsafe { raw::cipher_decrypt_end(dec, &mut self.handle) })?;
        check(e)?;
        Ok(pt)
    }
}

impl Drop for Aead {
    fn drop(&mut self) {
        unsafe { raw::cipher_close(self.handle) };
    }
}
