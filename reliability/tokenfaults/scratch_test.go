package tokenfaults

import (
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/wasihsm/wasihsm/internal/softhsmtest"
)

func TestScratch(t *testing.T) {
	fx := softhsmtest.Token(t)
	r := fx.Remote(t)
	p := pkcs11.New(r.Module)
	t.Log("init", p.Initialize())
	slots, err := p.GetSlotList(true)
	t.Log("slots", slots, err)
	s, err := p.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION)
	t.Log("open", s, err)
	t.Log("login", p.Login(s, pkcs11.CKU_USER, fx.PIN))
	_, err = p.GenerateRandom(s, 8)
	t.Log("rand", err)
	r.Kill(t)
	_, err = p.GenerateRandom(s, 8)
	t.Log("rand after kill", err)
	_, err = p.GetSlotList(true)
	t.Log("slots after kill", err)
	_, err = p.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION)
	t.Log("open after kill", err)
	r.Start(t)
	_, err = p.GenerateRandom(s, 8)
	t.Log("rand after restart", err)
	s2, err := p.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION)
	t.Log("open after restart", s2, err)
	t.Log("finalize", p.Finalize())
	t.Log("init", p.Initialize())
	slots, err = p.GetSlotList(true)
	t.Log("slots", slots, err)
	s, err = p.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION)
	t.Log("open", s, err)
	t.Log("login", p.Login(s, pkcs11.CKU_USER, fx.PIN))
	// hang
	r.Stop(t)
	go func() { time.Sleep(2 * time.Second); r.Continue(t) }()
	st := time.Now()
	_, err = p.GenerateRandom(s, 8)
	t.Log("rand during stop", err, time.Since(st))
}
