//go:build cgo

package hsm

import "encoding/base64"

// probeRSAKey is the PKCS#8 DER of the RSA-2048 key that probes import to
// find out whether the token takes RSA keys (see probe.go). It is a public
// throwaway, made once with `openssl genpkey -algorithm RSA`: generating
// one on the host at each probe would cost more than the probe.
var probeRSAKey = func() []byte {
	der, err := base64.StdEncoding.DecodeString(probeRSAKeyBase64)
	if err != nil {
		panic("hsm: probeRSAKeyBase64: " + err.Error())
	}
	return der
}()

const probeRSAKeyBase64 = "" +
	"MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCVDPnSRnQsvMEVTLUfuHZalJWrgbnkMwcZY1K3/P9XspNn3uiC" +
	"Th81S0qoQnHcT3aMIPSK3geHuAAMQncGnYHaPi5xPcYxhOqYd3qaPb8tc1SRZKJge1IWv1yArGsj4TjVwPyOcnEVOvVYQ7kNGLTo" +
	"jfoiO/wOAEJFCM3w6ZP8t1pxTDHGgVjCMC2eOERGX7SPFgDvyHPqbUwaMSFz8QpRgSDeDsO7mL/d1Nfqb7LU8Pv1KBsdukT3JSC6" +
	"pWCDKyBhdrw0XgWS7orZcuCng4l1ToqkA5ZH+whZkr491KEFGflOwdkU/vDFybiwMT3mJZVk79JNqL9hd1WgrJPFcgIhAgMBAAEC" +
	"ggEABqRf46N5HN9CeXkEH0hAmfPCIbTzvDwb5mE7N/DBzj4qfHf+A4SItn7G8m2XllpCLadwTlnrmvwzoFg75qMRPNEFj81RbjZ+" +
	"n9G/OG1k/hkEHUCPTd5g/5uCe0dztNMeDcR+XLiz2l7YvRizf+ZodW6SRYFHz7XqPhpQ1xoJmrrdj0JyAUPl6ulH+RZxEp62nVTG" +
	"B5KQns7CBppwUGWz6wTr9sA+WFHwtirZmt5yeBpeLqL9Q/xa2ububNL1JHUWP8fK3UOrtP4v3a5e28n9mZ7EEzIe2+I7j5KCRov4" +
	"folGVA788sIiFU9Me+Q9ZXl2/SGirdY75onVOrUWqlXRYwKBgQDPluYkZo/Mpsk3A69C4OOBf4K7h3i2e3trQVaLAYsq3rMfCyGa" +
	"RQ5yHqYfnE2d3Q+4DpOmx5ZMtEDfaHl2swCghP3Q1lsdOrYIAEgDGLz7mHC1PfhmIIjaRZfccCfxSGjPknG1M/cp6r9qYj2MSiNR" +
	"TnoEgVYl9//QPAHDypF2lwKBgQC3z09IQuTdbMYJX6M+kzd018q51BOXRS/0GYwZScSOyQdV9XHddaOAiL4aBc/rG6hwYsYTkPKA" +
	"dN/X+snfbu9mq/NzOroGIiVqGNQ2u+NQq0PN84DzDqzTrYD3L8i7nSfy9w8OB/FOjW5W9z2E15VbOHW7nKUxx0hLcu1mAqLcBwKB" +
	"gDdHi8mttiVdVL/dr1Iz6OGXPw0JKlAN2fPZ1l3170VfQHvHzw7xzML+/mX0jYa4U3NEDnWfOJr8dToI7C97w3L7d0uhiWnjNI40" +
	"5PhOIiUtlvXsprUrfMYDOkltZHWQPrjn2nfSesMizA5cUt+E7pq8Nynz9yjtPaYKFL46tznJAoGASIJaVzo0SHkJYlc88Ylnngsm" +
	"aMoVdF4Rvax6TNuB04XQBAPQCDnI5wKKY3+ZdrixaKw+USej0jLIvs2q5x4/CHSalAE9sv+zXLgwturFkGQPWmZNnxRR7ysJrflG" +
	"qWQkhz8YzEMr2P4H4fykYwwcWiDaqMjxjcJ8bW8H4W72ye8CgYB1kY0ZYDar1kLsb7SwiyNYsU0piwex+t6yHB22dQFbjH4wfZKX" +
	"RQj7MRk1lfBmjhqxG1w4ixgAl4TPH8ID64xj5SgVsFwZi6vV0KuOf+hoQwa91tcM7j1/wUDFEue9x03Px6cZByM+CxD+G/1dsbeM" +
	"qqhIcK5FxqI3g5xBEr0QCQ=="
