package main

import (
	"crypto/rand"
	"encoding/binary"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cbload/cbload/harness"
)

// reproCommand returns the command line that reruns cmd as the user gave
// it, without the flags that only say where output goes and with the
// userinfo of every URL and the values of credential headers redacted; the
// caller appends the seed actually used.
func reproCommand(cmd *cobra.Command) string {
	parts := []string{"cbload", cmd.Name()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "seed", "out", "force", "progress":
			return
		}
		value := f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			if f.Value.Type() == "stringArray" {
				for _, v := range sv.GetSlice() {
					if f.Name == "header" {
						v = harness.RedactHeader(v)
					}
					parts = append(parts, "--"+f.Name, shellQuote(harness.RedactText(v)))
				}
				return
			}
			value = strings.Join(sv.GetSlice(), ",")
		}
		if f.Name == "otlp-endpoint" {
			value = harness.RedactURL(value) // may be host:port, no scheme
		}
		parts = append(parts, "--"+f.Name+"="+shellQuote(harness.RedactText(value)))
	})
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=.,:/%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomSeed() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s := int64(binary.LittleEndian.Uint64(b[:]) >> 2)
	if s == 0 {
		s = 1
	}
	return s
}
