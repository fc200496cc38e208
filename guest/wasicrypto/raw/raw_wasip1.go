//go:build wasip1

package raw

import (
	"unsafe"

	"github.com/wasihsm/wasihsm/guest/wasicrypto/internal/abi"
)

// ptr turns a guest address into a pointer for the import declaration. It
// uses unsafe.Add rather than a uintptr conversion so that an arbitrary
// address (one outside linear memory, for a test of fault) is expressible.
func ptr(addr uint32) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), addr) }

// out is ptr for an out-parameter.
func out(addr uint32) *uint32 { return (*uint32)(ptr(addr)) }

// CipherOpen calls cipher_open of wasi_ephemeral_crypto.
func CipherOpen(privateKey, outStatePtr uint32) uint32 {
	return abi.CipherOpen(privateKey, out(outStatePtr))
}

// CipherSetNonce calls cipher_set_nonce of wasi_ephemeral_crypto.
func CipherSetNonce(state, noncePtr, nonceLen uint32) uint32 {
	return abi.CipherSetNonce(state, ptr(noncePtr), nonceLen)
}

// CipherSetAuthData calls cipher_set_auth_data of wasi_ephemeral_crypto.
func CipherSetAuthData(state, authPtr, authLen uint32) uint32 {
	return abi.CipherSetAuthData(state, ptr(authPtr), authLen)
}

// CipherGetAuthTag calls cipher_get_auth_tag of wasi_ephemeral_crypto.
func CipherGetAuthTag(state, tagPtr, tagLen uint32) uint32 {
	return abi.CipherGetAuthTag(state, ptr(tagPtr), tagLen)
}

// CipherSetAuthTag calls cipher_set_auth_tag of wasi_ephemeral_crypto.
func CipherSetAuthTag(state, tagPtr, tagLen uint32) uint32 {
	return abi.CipherSetAuthTag(state, ptr(tagPtr), tagLen)
}

// CipherEncryptBegin calls cipher_encrypt_begin of wasi_ephemeral_crypto.
func CipherEncryptBegin(state, outStatePtr uint32) uint32 {
	return abi.CipherEncryptBegin(state, out(outStatePtr))
}

// CipherEncrypt calls cipher_encrypt of wasi_ephemeral_crypto.
func CipherEncrypt(state, plaintextPtr, plaintextLen, ciphertextPtr, ciphertextLen uint32) uint32 {
	return abi.CipherEncrypt(state, ptr(plaintextPtr), plaintextLen, ptr(ciphertextPtr), ciphertextLen)
}

// CipherEncryptEnd calls cipher_encrypt_end of wasi_ephemeral_crypto.
func CipherEncryptEnd(state, outStatePtr uint32) uint32 {
	return abi.CipherEncryptEnd(state, out(outStatePtr))
}

// CipherDecryptBegin calls cipher_decrypt_begin of wasi_ephemeral_crypto.
func CipherDecryptBegin(state, outStatePtr uint32) uint32 {
	return abi.CipherDecryptBegin(state, out(outStatePtr))
}

// CipherDecrypt calls cipher_decrypt of wasi_ephemeral_crypto.
func CipherDecrypt(state, ciphertextPtr, ciphertextLen, plaintextPtr, plaintextLen uint32) uint32 {
	return abi.CipherDecrypt(state, ptr(ciphertextPtr), ciphertextLen, ptr(plaintextPtr), plaintextLen)
}

// CipherDecryptEnd calls cipher_decrypt_end of wasi_ephemeral_crypto.
func CipherDecryptEnd(state, outStatePtr uint32) uint32 {
	return abi.CipherDecryptEnd(state, out(outStatePtr))
}

// CipherClose calls cipher_close of wasi_ephemeral_crypto.
func CipherClose(state uint32) uint32 {
	return abi.CipherClose(state)
}

// HashOpen calls hash_open of wasi_ephemeral_crypto.
func HashOpen(algorithmPtr, algorithmLen, outStatePtr uint32) uint32 {
	return abi.HashOpen(ptr(algorithmPtr), algorithmLen, out(outStatePtr))
}

// HashUpdate calls hash_update of wasi_ephemeral_crypto.
func HashUpdate(state, dataPtr, dataLen uint32) uint32 {
	return abi.HashUpdate(state, ptr(dataPtr), dataLen)
}

// HashDigest calls hash_digest of wasi_ephemeral_crypto.
func HashDigest(state, digestPtr, digestLen uint32) uint32 {
	return abi.HashDigest(state, ptr(digestPtr), digestLen)
}

// HashClose calls hash_close of wasi_ephemeral_crypto.
func HashClose(state uint32) uint32 {
	return abi.HashClose(state)
}

// SignOpen calls sign_open of wasi_ephemeral_crypto.
func SignOpen(algorithmPtr, algorithmLen, privateKey, outStatePtr uint32) uint32 {
	return abi.SignOpen(ptr(algorithmPtr), algorithmLen, privateKey, out(outStatePtr))
}

// SignSetNonce calls sign_set_nonce of wasi_ephemeral_crypto.
func SignSetNonce(state, noncePtr, nonceLen uint32) uint32 {
	return abi.SignSetNonce(state, ptr(noncePtr), nonceLen)
}

// SignBegin calls sign_begin of wasi_ephemeral_crypto.
func SignBegin(state, outStatePtr uint32) uint32 {
	return abi.SignBegin(state, out(outStatePtr))
}

// SignUpdate calls sign_update of wasi_ephemeral_crypto.
func SignUpdate(state, dataPtr, dataLen uint32) uint32 {
	return abi.SignUpdate(state, ptr(dataPtr), dataLen)
}

// Sign calls sign of wasi_ephemeral_crypto.
func Sign(state, signaturePtr, signatureLen uint32) uint32 {
	return abi.Sign(state, ptr(signaturePtr), signatureLen)
}

// SignEnd calls sign_end of wasi_ephemeral_crypto.
func SignEnd(state, outStatePtr uint32) uint32 {
	return abi.SignEnd(state, out(outStatePtr))
}

// SignClose calls sign_close of wasi_ephemeral_crypto.
func SignClose(state uint32) uint32 {
	return abi.SignClose(state)
}

// GenerateKeyPrepare calls generate_key_prepare of wasi_ephemeral_crypto.
func GenerateKeyPrepare(algorithmPtr, algorithmLen, outStatePtr uint32) uint32 {
	return abi.GenerateKeyPrepare(ptr(algorithmPtr), algorithmLen, out(outStatePtr))
}

// GenerateKeySetNonce calls generate_key_set_nonce of wasi_ephemeral_crypto.
func GenerateKeySetNonce(state, noncePtr, nonceLen uint32) uint32 {
	return abi.GenerateKeySetNonce(state, ptr(noncePtr), nonceLen)
}

// GenerateKeySetInput calls generate_key_set_input of wasi_ephemeral_crypto.
func GenerateKeySetInput(state, inputPtr, inputLen uint32) uint32 {
	return abi.GenerateKeySetInput(state, ptr(inputPtr), inputLen)
}

// GenerateKeySetHash calls generate_key_set_hash of wasi_ephemeral_crypto.
func GenerateKeySetHash(state, hashState uint32) uint32 {
	return abi.GenerateKeySetHash(state, hashState)
}

// GenerateKey calls generate_key of wasi_ephemeral_crypto.
func GenerateKey(state, outPrivateKeyPtr uint32) uint32 {
	return abi.GenerateKey(state, out(outPrivateKeyPtr))
}

// DeriveKeyPrepare calls derive_key_prepare of wasi_ephemeral_crypto.
func DeriveKeyPrepare(algorithmPtr, algorithmLen, privateKey, outStatePtr uint32) uint32 {
	return abi.DeriveKeyPrepare(ptr(algorithmPtr), algorithmLen, privateKey, out(outStatePtr))
}

// DeriveKeySetNonce calls derive_key_set_nonce of wasi_ephemeral_crypto.
func DeriveKeySetNonce(state, noncePtr, nonceLen uint32) uint32 {
	return abi.DeriveKeySetNonce(state, ptr(noncePtr), nonceLen)
}

// DeriveKeySetHash calls derive_key_set_hash of wasi_ephemeral_crypto.
func DeriveKeySetHash(state, hashState uint32) uint32 {
	return abi.DeriveKeySetHash(state, hashState)
}

// DeriveKey calls derive_key of wasi_ephemeral_crypto.
func DeriveKey(state, outputPtr, outputLen uint32) uint32 {
	return abi.DeriveKey(state, ptr(outputPtr), outputLen)
}

// PrivateKeyClose calls private_key_close of wasi_ephemeral_crypto_keys.
func PrivateKeyClose(privateKey uint32) uint32 {
	return abi.PrivateKeyClose(privateKey)
}

// PrivateKeyExportPublic calls private_key_export_public of wasi_ephemeral_crypto_keys.
func PrivateKeyExportPublic(privateKey, bufPtr, bufLen, outLenPtr uint32) uint32 {
	return abi.PrivateKeyExportPublic(privateKey, ptr(bufPtr), bufLen, out(outLenPtr))
}

// PrivateKeyOpen calls private_key_open of wasi_ephemeral_crypto_keys.
func PrivateKeyOpen(namePtr, nameLen, outPrivateKeyPtr uint32) uint32 {
	return abi.PrivateKeyOpen(ptr(namePtr), nameLen, out(outPrivateKeyPtr))
}
