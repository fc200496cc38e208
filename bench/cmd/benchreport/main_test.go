package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.md")
	require.NoError(t, os.WriteFile(notes, []byte("## Why\n\nbecause\n"), 0o644))
	md, svg := filepath.Join(dir, "RESULTS.md"), filepath.Join(dir, "ratios.svg")
	var out bytes.Buffer
	err := run([]string{"-in", "../../internal/benchreport/testdata/sample.txt", "-md", md, "-svg", svg, "-notes", notes, "-command", "make bench"}, nil, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "| cheapest call: hash_update of 0 B (software) |")
	assert.Contains(t, out.String(), "rows pass,")
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(b), "- command: `make bench`")
	assert.True(t, strings.HasSuffix(string(b), "## Why\n\nbecause\n"))
	b, err = os.ReadFile(svg)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(b, []byte("<svg ")))

	err = run([]string{"-in", "../../internal/benchreport/testdata/sample.txt", "-strict"}, nil, &bytes.Buffer{})
	require.Error(t, err, "the sample has rows that fail and rows that did not run")
	assert.Contains(t, err.Error(), "rows fail")
}

func TestRunRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		in   string
		want string
	}{
		{"stray argument", []string{"x"}, "", `unexpected arguments ["x"]`},
		{"missing file", []string{"-in", "/nonexistent/out.txt"}, "", "no such file"},
		{"bad line", nil, "BenchmarkX-2 1 fast ns/op\n", `value "fast"`},
		{"unknown flag", []string{"-nope"}, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, strings.NewReader(tt.in), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
