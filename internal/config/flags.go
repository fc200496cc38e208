package config

import "flag"

// Flags holds the values of the configuration flags a user gave.
type Flags struct {
	values map[string]string
}

// AddFlags registers on fs the flags of every setting that has one, and
// --config. Only flags the user gives count: an unset flag leaves the
// setting to the environment, the file and the defaults.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{values: make(map[string]string)}
	add := func(name, usage string) {
		fs.Func(name, usage, func(v string) error {
			f.values[name] = v
			return nil
		})
	}
	add(FlagConfig, "`path` of the YAML configuration file")
	for _, st := range settings {
		if st.flag != "" {
			add(st.flag, st.usage)
		}
	}
	return f
}

// Values returns a copy of the values given, by flag name, for Input.Flags.
func (f *Flags) Values() map[string]string {
	m := make(map[string]string, len(f.values))
	for k, v := range f.values {
		m[k] = v
	}
	return m
}
