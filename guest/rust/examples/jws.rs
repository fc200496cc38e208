//! jws: signs a JWT with an ES256 key made by the host (in the token when
//! there is one), or with the managed key named by -key NAME or
//! $WASIHSM_JWS_KEY; prints the compact JWS and the public key as PEM.
//!
//!     cargo build --release --example jws --target wasm32-wasi
//!     wasihsm run target/wasm32-wasi/release/examples/jws.wasm [-key NAME] [PAYLOAD]
use std::process::exit;

use wasi_ephemeral_crypto::{algorithm, Key};

const HEADER: &str = r#"{"alg":"ES256","typ":"JWT"}"#;
const DEFAULT_CLAIMS: &str = r#"{"iss":"wasihsm","sub":"jws-example","aud":"demo"}"#;

fn base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |a, (i, &b)| a | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut key_name = std::env::var("WASIHSM_JWS_KEY").unwrap_or_default();
    if args.len() >= 2 && args[0] == "-key" {
        key_name = args[1].clone();
        args.drain(..2);
    }
    if args.len() > 1 {
        eprintln!("usage: jws [-key NAME] [PAYLOAD]");
        exit(2);
    }
    let payload = args.pop().unwrap_or_else(|| DEFAULT_CLAIMS.to_string());
    if !payload.trim_start().starts_with('{') {
        eprintln!("jws: the payload must be a JSON object (a JWT claim set)");
        exit(1);
    }
    let key = if key_name.is_empty() {
        Key::generate(algorithm::ES256).unwrap_or_else(|e| fail("generate an ES256 key", e))
    } else {
        Key::open_managed(&key_name).unwrap_or_else(|e| fail(&format!("open the managed key {:?}", key_name), e))
    };
    let input = format!("{}.{}", base64(HEADER.as_bytes(), URL, false), base64(payload.as_bytes(), URL, false));
    // ES256 signatures from the host are r‖s, 64 bytes: the JWS form.
    let sig = key.sign(algorithm::ES256, input.as_bytes()).unwrap_or_else(|e| fail("sign", e));
    let spki = key.public_key().unwrap_or_else(|e| fail("export the public key", e));
    println!("{}.{}", input, base64(&sig, URL, false));
    println!("-----BEGIN PUBLIC KEY-----");
    for line in base64(&spki, STD, true).as_bytes().chunks(64) {
        println!("{}", std::str::from_utf8(line).unwrap());
    }
    println!("-----END PUBLIC KEY-----");
}

fn fail(what: &str, e: wasi_ephemeral_crypto::Error) -> ! {
    eprintln!("jws: {}: {}", what, e);
    exit(1);
}
