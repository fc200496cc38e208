package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestObservabilitySettings: log.level, log.format and metrics.addr follow
// the precedence of every setting (flags > env > file > default).
func TestObservabilitySettings(t *testing.T) {
	file := writeConfig(t, "log:\n  level: warn\n  format: json\nmetrics:\n  addr: 127.0.0.1:9464\n")
	tests := []struct {
		name   string
		flags  map[string]string
		env    map[string]string
		want   Log
		addr   string
		origin Origin // of every one of the three fields
	}{
		{name: "default", want: Log{slog.LevelInfo, LogText}},
		{name: "file", env: map[string]string{EnvConfig: file},
			want: Log{slog.LevelWarn, LogJSON}, addr: "127.0.0.1:9464", origin: Origin{FromFile, file}},
		{name: "env over file",
			env:  map[string]string{EnvConfig: file, EnvLogLevel: "debug", EnvLogFormat: "text", EnvMetricsAddr: ":9100"},
			want: Log{slog.LevelDebug, LogText}, addr: ":9100"},
		{name: "flags over env",
			flags: map[string]string{"log-level": "error", "log-format": "json", "metrics-addr": "[::1]:0"},
			env:   map[string]string{EnvConfig: file, EnvLogLevel: "debug", EnvLogFormat: "text", EnvMetricsAddr: ":9100"},
			want:  Log{slog.LevelError, LogJSON}, addr: "[::1]:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := load(t, tt.flags, tt.env)
			require.NoError(t, err)
			assert.Equal(t, tt.want, s.Log)
			assert.Equal(t, tt.addr, s.MetricsAddr)
			if tt.origin.Kind != FromDefault {
				for _, f := range []string{FieldLogLevel, FieldLogFormat, FieldMetricsAddr} {
					assert.Equal(t, tt.origin, s.Origin(f), f)
				}
			}
		})
	}
	s, err := load(t, map[string]string{"metrics-addr": ":1"}, map[string]string{EnvMetricsAddr: ":2"})
	require.NoError(t, err)
	assert.Equal(t, Origin{FromFlag, "metrics-addr"}, s.Origin(FieldMetricsAddr))
}

func TestObservabilityErrors(t *testing.T) {
	tests := []struct {
		name  string
		flags map[string]string
		env   map[string]string
		body  string
		want  string
	}{
		{name: "level", flags: map[string]string{"log-level": "verbose"},
			want: `flag --log-level: "verbose" is not one of debug, info, warn, error`},
		{name: "level is case-sensitive", env: map[string]string{EnvLogLevel: "DEBUG"},
			want: `env WASIHSM_LOG_LEVEL: "DEBUG" is not one of debug, info, warn, error`},
		{name: "format", flags: map[string]string{"log-format": "logfmt"},
			want: `flag --log-format: "logfmt" is not one of text, json`},
		{name: "address without port", flags: map[string]string{"metrics-addr": "localhost"},
			want: `flag --metrics-addr: "localhost" is not HOST:PORT (such as 127.0.0.1:9464, or :9464 for every interface)`},
		{name: "port not a number", env: map[string]string{EnvMetricsAddr: "localhost:http"},
			want: `env WASIHSM_METRICS_ADDR: "localhost:http": the port must be a number from 0 to 65535 (0: any free port)`},
		{name: "port too large", body: "metrics:\n  addr: :65536\n",
			want: `config $FILE: metrics.addr: ":65536": the port must be a number from 0 to 65535 (0: any free port) (line 2)`},
		{name: "unknown log field", body: "log:\n  colour: true\n",
			want: `config $FILE: log.colour: unknown field; want one of level, format (line 2)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			environ := map[string]string{}
			for k, v := range tt.env {
				environ[k] = v
			}
			want := tt.want
			if tt.body != "" {
				file := writeConfig(t, tt.body)
				environ[EnvConfig] = file
				want = strings.ReplaceAll(want, "$FILE", file)
			}
			_, err := load(t, tt.flags, environ)
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, want, err.Error())
		})
	}
}
