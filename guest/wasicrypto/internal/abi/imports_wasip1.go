//go:build wasip1

package abi

import "unsafe"

// The 32 functions of wasi_ephemeral_crypto (docs/semantics.md#abi), then the 3 of
// wasi_ephemeral_crypto_keys (docs/semantics.md#key-extension), in the contract's order.

//go:wasmimport wasi_ephemeral_crypto cipher_open
//go:noescape
func CipherOpen(privateKey uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_set_nonce
//go:noescape
func CipherSetNonce(state uint32, nonce unsafe.Pointer, nonceLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_set_auth_data
//go:noescape
func CipherSetAuthData(state uint32, auth unsafe.Pointer, authLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_get_auth_tag
//go:noescape
func CipherGetAuthTag(state uint32, tag unsafe.Pointer, tagLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_set_auth_tag
//go:noescape
func CipherSetAuthTag(state uint32, tag unsafe.Pointer, tagLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_encrypt_begin
//go:noescape
func CipherEncryptBegin(state uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_encrypt
//go:noescape
func CipherEncrypt(state uint32, plaintext unsafe.Pointer, plaintextLen uint32, ciphertext unsafe.Pointer, ciphertextLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_encrypt_end
//go:noescape
func CipherEncryptEnd(state uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_decrypt_begin
//go:noescape
func CipherDecryptBegin(state uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_decrypt
//go:noescape
func CipherDecrypt(state uint32, ciphertext unsafe.Pointer, ciphertextLen uint32, plaintext unsafe.Pointer, plaintextLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_decrypt_end
//go:noescape
func CipherDecryptEnd(state uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto cipher_close
//go:noescape
func CipherClose(state uint32) uint32

//go:wasmimport wasi_ephemeral_crypto hash_open
//go:noescape
func HashOpen(algorithm unsafe.Pointer, algorithmLen uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto hash_update
//go:noescape
func HashUpdate(state uint32, data unsafe.Pointer, dataLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto hash_digest
//go:noescape
func HashDigest(state uint32, digest unsafe.Pointer, digestLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto hash_close
//go:noescape
func HashClose(state uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign_open
//go:noescape
func SignOpen(algorithm unsafe.Pointer, algorithmLen uint32, privateKey uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign_set_nonce
//go:noescape
func SignSetNonce(state uint32, nonce unsafe.Pointer, nonceLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign_begin
//go:noescape
func SignBegin(state uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign_update
//go:noescape
func SignUpdate(state uint32, data unsafe.Pointer, dataLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign
//go:noescape
func Sign(state uint32, signature unsafe.Pointer, signatureLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign_end
//go:noescape
func SignEnd(state uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto sign_close
//go:noescape
func SignClose(state uint32) uint32

//go:wasmimport wasi_ephemeral_crypto generate_key_prepare
//go:noescape
func GenerateKeyPrepare(algorithm unsafe.Pointer, algorithmLen uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto generate_key_set_nonce
//go:noescape
func GenerateKeySetNonce(state uint32, nonce unsafe.Pointer, nonceLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto generate_key_set_input
//go:noescape
func GenerateKeySetInput(state uint32, input unsafe.Pointer, inputLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto generate_key_set_hash
//go:noescape
func GenerateKeySetHash(state uint32, hashState uint32) uint32

//go:wasmimport wasi_ephemeral_crypto generate_key
//go:noescape
func GenerateKey(state uint32, outPrivateKey *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto derive_key_prepare
//go:noescape
func DeriveKeyPrepare(algorithm unsafe.Pointer, algorithmLen uint32, privateKey uint32, outState *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto derive_key_set_nonce
//go:noescape
func DeriveKeySetNonce(state uint32, nonce unsafe.Pointer, nonceLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto derive_key_set_hash
//go:noescape
func DeriveKeySetHash(state uint32, hashState uint32) uint32

//go:wasmimport wasi_ephemeral_crypto derive_key
//go:noescape
func DeriveKey(state uint32, output unsafe.Pointer, outputLen uint32) uint32

//go:wasmimport wasi_ephemeral_crypto_keys private_key_close
//go:noescape
func PrivateKeyClose(privateKey uint32) uint32

//go:wasmimport wasi_ephemeral_crypto_keys private_key_export_public
//go:noescape
func PrivateKeyExportPublic(privateKey uint32, buf unsafe.Pointer, bufLen uint32, outLen *uint32) uint32

//go:wasmimport wasi_ephemeral_crypto_keys private_key_open
//go:noescape
func PrivateKeyOpen(name unsafe.Pointer, nameLen uint32, outPrivateKey *uint32) uint32
