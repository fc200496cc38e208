package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
// Otherwise the module version from the build info is used.
var version string

const wazeroPath = "github.com/tetratelabs/wazero"

// versionLine returns the line that `wasihsm version` prints.
func versionLine() string {
	v, wz := version, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == wazeroPath {
				wz = d.Version
				if d.Replace != nil {
					wz = d.Replace.Version
				}
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	return fmt.Sprintf("wasihsm %s (%s %s/%s, wazero %s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, wz)
}
