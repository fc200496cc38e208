package main

import "io"

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
