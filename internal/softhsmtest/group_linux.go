package softhsmtest

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on every Linux that Go supports).
const clockTick = 10 * time.Millisecond

// ServerCPU returns the CPU time (user and system) that token i's server
// has used: the server and every process of its process group (the
// p11-kit-remote children that serve its connections and run SoftHSM2),
// and the children it has reaped. 0 when the server does not run.
func (g *Group) ServerCPU(i int) time.Duration {
	tok := g.Tokens[i]
	tok.mu.Lock()
	cmd := tok.cmd
	tok.mu.Unlock()
	if cmd == nil {
		return 0
	}
	pgid := cmd.Process.Pid
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses
		// and may hold spaces: state is field 3, pgrp 5, utime 14,
		// stime 15, cutime 16, cstime 17.
		end := strings.LastIndexByte(string(stat), ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(string(stat[end+1:]))
		if len(f) < 15 {
			continue
		}
		if pgrp, _ := strconv.Atoi(f[2]); pgrp != pgid {
			continue
		}
		for _, k := range []int{11, 12} {
			v, _ := strconv.ParseInt(f[k], 10, 64)
			ticks += v
		}
		if pid == pgid {
			for _, k := range []int{13, 14} {
				v, _ := strconv.ParseInt(f[k], 10, 64)
				ticks += v
			}
		}
	}
	return time.Duration(ticks) * clockTick
}
