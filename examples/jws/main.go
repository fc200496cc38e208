//go:build wasip1

package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wasihsm/wasihsm/guest/wasicrypto"
)

// keyEnv names the environment variable with the managed key's name, the
// default of -key.
const keyEnv = "WASIHSM_JWS_KEY"

// defaultClaims is signed when no payload is given.
const defaultClaims = `{"iss":"wasihsm","sub":"jws-example","aud":"demo"}`

// header is the protected header of every JWS this command makes.
const header = `{"alg":"ES256","typ":"JWT"}`

func main() {
	flags := flag.NewFlagSet("jws", flag.ContinueOnError)
	keyName := flags.String("key", os.Getenv(keyEnv), "sign with the managed ES256 key `NAME` (default $"+keyEnv+"); without it, generate a key")
	flags.Usage = func() {
		fmt.Fprintln(flags.Output(), "usage: jws [-key NAME] [PAYLOAD]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if flags.NArg() > 1 {
		flags.Usage()
		os.Exit(2)
	}
	payload := defaultClaims
	if flags.NArg() == 1 {
		payload = flags.Arg(0)
	}
	if err := run(os.Stdout, *keyName, []byte(payload)); err != nil {
		fmt.Fprintln(os.Stderr, "jws:", err)
		os.Exit(1)
	}
}

// run signs payload with the managed key keyName, or with a new ES256 key
// when keyName is empty, and writes the JWS and the public key PEM to w.
func run(w io.Writer, keyName string, payload []byte) error {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return errors.New("the payload must be a JSON object (a JWT claim set)")
	}

	key, err := openKey(keyName)
	if err != nil {
		return err
	}
	defer key.Close()

	b64 := base64.RawURLEncoding
	signingInput := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	// ES256 signatures from the host are r‖s, 64 bytes: the JWS form.
	sig, err := wasicrypto.Sign("ES256", key, []byte(signingInput))
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}

	spki, err := key.PublicKey()
	if err != nil {
		return fmt.Errorf("export the public key: %w", err)
	}

	if _, err := fmt.Fprintln(w, signingInput+"."+b64.EncodeToString(sig)); err != nil {
		return err
	}
	return pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: spki})
}

func openKey(name string) (*wasicrypto.Key, error) {
	if name == "" {
		key, err := wasicrypto.GenerateKey("ES256")
		if err != nil {
			return nil, fmt.Errorf("generate an ES256 key: %w", err)
		}
		return key, nil
	}
	key, err := wasicrypto.OpenManagedKey(name)
	if err != nil {
		return nil, fmt.Errorf("open the managed key %q: %w", name, err)
	}
	return key, nil
}
