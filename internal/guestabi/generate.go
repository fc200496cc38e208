package guestabi

//go:generate go run ./gen
