package wasihost

// cryptoFuncs is the module wasi_ephemeral_crypto, in the order of docs/semantics.md#abi.
// Parameter names follow the spec; a string or buffer is two
// parameters, and every result after errno is a trailing out pointer.
var cryptoFuncs = []hostFunc{
	{"cipher_open", []string{"private_key", "out_state"}, cipherOpen},
	{"cipher_set_nonce", []string{"state", "nonce", "nonce_len"}, cipherSetNonce},
	{"cipher_set_auth_data", []string{"state", "auth", "auth_len"}, cipherSetAuthData},
	{"cipher_get_auth_tag", []string{"state", "tag", "tag_len"}, cipherGetAuthTag},
	{"cipher_set_auth_tag", []string{"state", "tag", "tag_len"}, cipherSetAuthTag},
	{"cipher_encrypt_begin", []string{"state", "out_state"}, cipherEncryptBegin},
	{"cipher_encrypt", []string{"state", "plaintext", "plaintext_len", "ciphertext", "ciphertext_len"}, cipherEncrypt},
	{"cipher_encrypt_end", []string{"state", "out_state"}, cipherEncryptEnd},
	{"cipher_decrypt_begin", []string{"state", "out_state"}, cipherDecryptBegin},
	{"cipher_decrypt", []string{"state", "ciphertext", "ciphertext_len", "plaintext", "plaintext_len"}, cipherDecrypt},
	{"cipher_decrypt_end", []string{"state", "out_state"}, cipherDecryptEnd},
	{"cipher_close", []string{"state"}, cipherClose},
	{"hash_open", []string{"algorithm", "algorithm_len", "out_state"}, hashOpen},
	{"hash_update", []string{"state", "data", "data_len"}, hashUpdate},
	{"hash_digest", []string{"state", "digest", "digest_len"}, hashDigest},
	{"hash_close", []string{"state"}, hashClose},
	{"sign_open", []string{"algorithm", "algorithm_len", "private_key", "out_state"}, signOpen},
	{"sign_set_nonce", []string{"state", "nonce", "nonce_len"}, signSetNonce},
	{"sign_begin", []string{"state", "out_state"}, signBegin},
	{"sign_update", []string{"state", "data", "data_len"}, signUpdate},
	{"sign", []string{"state", "signature", "signature_len"}, sign},
	{"sign_end", []string{"state", "out_state"}, signEnd},
	{"sign_close", []string{"state"}, signClose},
	{"generate_key_prepare", []string{"algorithm", "algorithm_len", "out_state"}, generateKeyPrepare},
	{"generate_key_set_nonce", []string{"state", "nonce", "nonce_len"}, generateKeySetNonce},
	{"generate_key_set_input", []string{"state", "input", "input_len"}, generateKeySetInput},
	{"generate_key_set_hash", []string{"state", "hash_state"}, generateKeySetHash},
	{"generate_key", []string{"state", "out_private_key"}, generateKey},
	{"derive_key_prepare", []string{"algorithm", "algorithm_len", "private_key", "out_state"}, deriveKeyPrepare},
	{"derive_key_set_nonce", []string{"state", "nonce", "nonce_len"}, deriveKeySetNonce},
	{"derive_key_set_hash", []string{"state", "hash_state"}, deriveKeySetHash},
	{"derive_key", []string{"state", "output", "output_len"}, deriveKey},
}

// keysFuncs is the module wasi_ephemeral_crypto_keys (docs/semantics.md#key-extension).
var keysFuncs = []hostFunc{
	{"private_key_close", []string{"private_key"}, privateKeyClose},
	{"private_key_export_public", []string{"private_key", "buf", "buf_len", "out_len"}, privateKeyExportPublic},
	{"private_key_open", []string{"name", "name_len", "out_private_key"}, privateKeyOpen},
}
