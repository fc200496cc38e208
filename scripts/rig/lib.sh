# lib.sh: what the rig's drivers share (sourced; bash): scripts/rig/run.sh
# (make rig-native, processes) and scripts/rig/compose.sh (make rig,
# containers). The caller defines die MESSAGE.

# b64url PART: PART decoded from base64url.
b64url() {
	local s
	s=$(tr '_-' '/+' <<<"$1")
	while ((${#s} % 4)); do s+="="; done
	base64 -d <<<"$s"
}

# der_int HEX: a DER INTEGER of the unsigned big-endian HEX.
der_int() {
	local h=$1
	while [[ ${#h} -gt 2 && ${h:0:2} == 00 ]]; do h=${h:2}; done
	[[ ${h:0:1} =~ [89a-f] ]] && h="00$h"
	printf '02%02x%s' $((${#h} / 2)) "$h"
}

# verify_jws OUTPUT: the JWS on the first line of the file OUTPUT (the JWS
# example's standard output) verifies with the PEM public key after it
# (ES256: r‖s, turned into the DER openssl wants). Leaves OUTPUT.pub, the
# key, for comparisons.
verify_jws() {
	local out=$1 jws h p s sig r body
	jws=$(head -n 1 "$out")
	IFS=. read -r h p s <<<"$jws"
	[[ -n $h && -n $p && -n $s ]] || die "no JWS in the guest's output: $(head -c 200 "$out")"
	sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' "$out" >"$out.pub"
	openssl pkey -pubin -in "$out.pub" -noout 2>/dev/null || die "no public key in the guest's output"
	sig=$(b64url "$s" | od -An -v -tx1 | tr -d ' \n')
	[[ ${#sig} -eq 128 ]] || die "an ES256 signature is 64 bytes, got $((${#sig} / 2))"
	r=$(der_int "${sig:0:64}")
	body="$r$(der_int "${sig:64:64}")"
	printf '30%02x%s' $((${#body} / 2)) "$body" | sed 's/../\\x&/g' | xargs -0 printf '%b' >"$out.sig"
	printf '%s.%s' "$h" "$p" >"$out.input"
	openssl dgst -sha256 -verify "$out.pub" -signature "$out.sig" "$out.input" >/dev/null ||
		die "the JWS does not verify with the guest's public key"
}
