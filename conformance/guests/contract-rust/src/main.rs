//! contract-rust: the contract guest in Rust. It holds no rule of the
//! contract: the host sends the requests and grades the answers, the same
//! data the Go contract guest (conformance/guests/contract) answers.
//!
//!   contract-rust -kat     answers conformance/suite's known-answer
//!                          requests (see conformance/guests/contract/
//!                          kat_wasip1.go) through the crate's safe API.
//!   contract-rust -script  runs the commands of an ABI scenario of
//!                          conformance/abiscript through the raw imports.
use std::collections::HashMap;
use std::io::{self, BufRead, Write};

use wasi_ephemeral_crypto::{raw, Aead, Error, Hash, Key, Result};

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    let b = s.as_bytes();
    assert!(b.len() % 2 == 0, "odd hex {}", s);
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or_else(|| panic!("bad hex {}", s)) as u8;
    b.chunks(2).map(|p| digit(p[0]) << 4 | digit(p[1])).collect()
}

/// hex is b in hex; empty is "" (the -kat answers' form).
fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{:02x}", c)).collect()
}

fn num(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| panic!("bad number {}", s))
}

/// kat answers one known-answer request with its hex fields.
fn kat(f: &[&str]) -> Result<Vec<String>> {
    Ok(kat_bytes(f)?.iter().map(|b| match b {
        Some(b) => hex(b),
        None => "-".to_string(),
    }).collect())
}

/// kat_bytes answers one request with its fields (None: "-").
fn kat_bytes(f: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
    Ok(match (f[0], f.len()) {
        ("hash", 4) => {
            let mut h = Hash::new(f[1])?;
            h.update(&unhex(f[2]))?;
            vec![h.digest(num(f[3]))?]
        }
        ("mac", 4) => vec![Key::import(f[1], &unhex(f[2]))?.sign(f[1], &unhex(f[3]))?],
        ("sign", 5) => {
            let sig = Key::import(f[1], &unhex(f[2]))?.sign(f[1], &unhex(f[3]))?;
            vec![sig[..num(f[4]).min(sig.len())].to_vec()]
        }
        ("hkdf", 6) => {
            let salt = unhex(f[3]);
            let key = Key::hkdf(f[1], &unhex(f[2]), if f[3] == "-" { None } else { Some(&salt) })?;
            vec![key.hkdf_expand(&unhex(f[4]), num(f[5]))?]
        }
        ("seal", 6) => {
            let key = Key::import(f[1], &unhex(f[2]))?;
            let (ct, tag) = Aead::new(&key)?.encrypt(&unhex(f[3]), &unhex(f[5]), &unhex(f[4]))?;
            vec![ct, tag]
        }
        ("open", 7) => {
            let key = Key::import(f[1], &unhex(f[2]))?;
            vec![Aead::new(&key)?.decrypt(&unhex(f[3]), &unhex(f[5]), &unhex(f[6]), &unhex(f[4]))?]
        }
        ("export", 3) => vec![Key::import(f[1], &unhex(f[2]))?.public_key()?],
        ("gensign", 4) => {
            let key = Key::generate(f[1])?;
            // HS* keys are secret: nothing to export ("-").
            let spki = if f[1].starts_with('H') { None } else { Some(key.public_key()?) };
            return Ok(vec![spki, Some(key.sign(f[1], &unhex(f[2]))?)]);
        }
        ("genseal", 5) => {
            let key = Key::generate(f[1])?;
            let (nonce, aad, pt) = (unhex(f[2]), unhex(f[3]), unhex(f[4]));
            let (ct, tag) = Aead::new(&key)?.encrypt(&nonce, &pt, &aad)?;
            let back = Aead::new(&key)?.decrypt(&nonce, &ct, &tag, &aad)?;
            vec![ct, tag, back]
        }
        ("genagree", 4) => {
            let key = Key::generate(f[1])?;
            let spki = key.public_key()?;
            let secret = key.agree(f[1], &unhex(f[2]))?;
            vec![spki, secret[..num(f[3]).min(secret.len())].to_vec()]
        }
        ("agree", 5) => {
            let secret = Key::import(f[1], &unhex(f[2]))?.agree(f[1], &unhex(f[3]))?;
            vec![secret[..num(f[4]).min(secret.len())].to_vec()]
        }
        _ => panic!("bad request {:?}", f),
    }
    .into_iter()
    .map(Some)
    .collect())
}

/// Script is the named memory of an ABI scenario. Each buffer is a boxed
/// slice, so its address stays put while the map grows.
#[derive(Default)]
struct Script {
    names: HashMap<String, Box<[u8]>>,
}

impl Script {
    fn define(&mut self, name: &str, b: Vec<u8>) -> Option<String> {
        if self.names.contains_key(name) {
            return None;
        }
        self.names.insert(name.to_string(), b.into_boxed_slice());
        Some(String::new())
    }

    /// arg evaluates a number, &NAME[+N], #NAME or $NAME.
    fn arg(&mut self, s: &str) -> Option<u32> {
        let number = |s: &str| match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(h) => u32::from_str_radix(h, 16).ok(),
            None => s.parse().ok(),
        };
        if s.is_empty() {
            return None;
        }
        let (sigil, rest) = s.split_at(1);
        if !matches!(sigil, "&" | "#" | "$") {
            return number(s);
        }
        let (name, off) = match rest.split_once('+') {
            Some((n, o)) => (n, number(o)?),
            None => (rest, 0),
        };
        let b = self.names.get_mut(name)?;
        Some(match sigil {
            "&" => (b.as_mut_ptr() as usize as u32).wrapping_add(off),
            "#" => b.len() as u32,
            _ => u32::from_le_bytes(b.get(..4)?.try_into().ok()?),
        })
    }

    fn command(&mut self, f: &[&str]) -> Option<String> {
        match (f[0], f.len()) {
            ("buf", 3) => self.define(f[1], unhex(f[2])),
            ("str", 3) => self.define(f[1], f[2].as_bytes().to_vec()),
            ("fill", 3) => self.define(f[1], vec![0xA5; f[2].parse().ok()?]),
            ("read", 2) => match &self.names.get(f[1])?[..] {
                [] => Some(" -".to_string()),
                b => Some(format!(" {}", hex(b))),
            },
            ("call", n) if n >= 2 => {
                let mut a = Vec::new();
                for s in &f[2..] {
                    a.push(self.arg(s)?);
                }
                call(f[1], &a).map(|e| format!(" {}", e))
            }
            _ => None,
        }
    }
}

fn p(a: u32) -> *mut u8 {
    a as usize as *mut u8
}

fn h(a: u32) -> *mut raw::Handle {
    a as usize as *mut raw::Handle
}

/// call invokes the import fn with the evaluated arguments; None for an
/// unknown name or a wrong argument count.
fn call(f: &str, a: &[u32]) -> Option<u32> {
    let l = |i: usize| a[i] as usize;
    Some(unsafe {
        match (f, a.len()) {
            ("cipher_open", 2) => raw::cipher_open(a[0], h(a[1])),
            ("cipher_set_nonce", 3) => raw::cipher_set_nonce(a[0], p(a[1]), l(2)),
            ("cipher_set_auth_data", 3) => raw::cipher_set_auth_data(a[0], p(a[1]), l(2)),
            ("cipher_get_auth_tag", 3) => raw::cipher_get_auth_tag(a[0], p(a[1]), l(2)),
            ("cipher_set_auth_tag", 3) => raw::cipher_set_auth_tag(a[0], p(a[1]), l(2)),
            ("cipher_encrypt_begin", 2) => raw::cipher_encrypt_begin(a[0], h(a[1])),
            ("cipher_encrypt", 5) => raw::cipher_encrypt(a[0], p(a[1]), l(2), p(a[3]), l(4)),
            ("cipher_encrypt_end", 2) => raw::cipher_encrypt_end(a[0], h(a[1])),
            ("cipher_decrypt_begin", 2) => raw::cipher_decrypt_begin(a[0], h(a[1])),
            ("cipher_decrypt", 5) => raw::cipher_decrypt(a[0], p(a[1]), l(2), p(a[3]), l(4)),
            ("cipher_decrypt_end", 2) => raw::cipher_decrypt_end(a[0], h(a[1])),
            ("cipher_close", 1) => raw::cipher_close(a[0]),
            ("hash_open", 3) => raw::hash_open(p(a[0]), l(1), h(a[2])),
            ("hash_update", 3) => raw::hash_update(a[0], p(a[1]), l(2)),
            ("hash_digest", 3) => raw::hash_digest(a[0], p(a[1]), l(2)),
            ("hash_close", 1) => raw::hash_close(a[0]),
            ("sign_open", 4) => raw::sign_open(p(a[0]), l(1), a[2], h(a[3])),
            ("sign_set_nonce", 3) => raw::sign_set_nonce(a[0], p(a[1]), l(2)),
            ("sign_begin", 2) => raw::sign_begin(a[0], h(a[1])),
            ("sign_update", 3) => raw::sign_update(a[0], p(a[1]), l(2)),
            ("sign", 3) => raw::sign(a[0], p(a[1]), l(2)),
            ("sign_end", 2) => raw::sign_end(a[0], h(a[1])),
            ("sign_close", 1) => raw::sign_close(a[0]),
            ("generate_key_prepare", 3) => raw::generate_key_prepare(p(a[0]), l(1), h(a[2])),
            ("generate_key_set_nonce", 3) => raw::generate_key_set_nonce(a[0], p(a[1]), l(2)),
            ("generate_key_set_input", 3) => raw::generate_key_set_input(a[0], p(a[1]), l(2)),
            ("generate_key_set_hash", 2) => raw::generate_key_set_hash(a[0], a[1]),
            ("generate_key", 2) => raw::generate_key(a[0], h(a[1])),
            ("derive_key_prepare", 4) => raw::derive_key_prepare(p(a[0]), l(1), a[2], h(a[3])),
            ("derive_key_set_nonce", 3) => raw::derive_key_set_nonce(a[0], p(a[1]), l(2)),
            ("derive_key_set_hash", 2) => raw::derive_key_set_hash(a[0], a[1]),
            ("derive_key", 3) => raw::derive_key(a[0], p(a[1]), l(2)),
            ("private_key_close", 1) => raw::private_key_close(a[0]),
            ("private_key_export_public", 4) => raw::private_key_export_public(a[0], p(a[1]), l(2), a[3] as usize as *mut usize),
            ("private_key_open", 3) => raw::private_key_open(p(a[0]), l(1), h(a[2])),
            _ => return None,
        }
    })
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode != "-kat" && mode != "-script" {
        eprintln!("usage: contract-rust -kat|-script < REQUESTS");
        std::process::exit(2);
    }
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut script = Script::default();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if mode == "-script" {
            match script.command(&f) {
                Some(answer) => writeln!(out, "ok{}", answer),
                None => writeln!(out, "err bad command {}", f[0]),
            }
            .and_then(|_| out.flush())
            .expect("stdout");
            continue;
        }
        let answer = match kat(&f) {
            Ok(fields) => fields.iter().fold("ok".to_string(), |a, b| a + " " + b),
            Err(e @ Error::Other(_)) => format!("err errno({})", e.errno()),
            Err(e) => format!("err {}", e.name()),
        };
        writeln!(out, "{}", answer).expect("stdout");
    }
}
