//go:build !linux

package tokentest

const linuxOnly = "the token fixtures run on Linux only"

func setupOpenCryptoki() (*Token, string, error) { return nil, linuxOnly, nil }
func setupTPM2() (*Token, string, error)         { return nil, linuxOnly, nil }
func setupNSS() (*Token, string, error)          { return nil, linuxOnly, nil }
func stopChildren(string)                        {}
func shutdownOpenCryptoki()                      {}
