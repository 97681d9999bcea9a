package main

import (
	_ "embed"
	"strings"
)

// The long help texts and examples of the commands, kept as text in
// helptext/ beside the code that shows them.
var (
	//go:embed helptext/compareLong.txt
	compareLong string
	//go:embed helptext/compareExample.txt
	compareExample string
	//go:embed helptext/faultLong.txt
	faultLong string
	//go:embed helptext/faultExample.txt
	faultExample string
	//go:embed helptext/mergeLong.txt
	mergeLong string
	//go:embed helptext/mergeExample.txt
	mergeExample string
	//go:embed helptext/reportLong.txt
	reportLong string
	//go:embed helptext/reportExample.txt
	reportExample string
	//go:embed helptext/rootLong.txt
	rootLong string
	//go:embed helptext/runLong.txt
	runLong string
	//go:embed helptext/runExample.txt
	runExample string
	//go:embed helptext/serveLong.txt
	serveLong string
	//go:embed helptext/serveExample.txt
	serveExample string
)

// fillHelp returns text with each placeholder of oldnew (a <<name>> in the
// text file) replaced by the text that follows it, the parts of a help text
// that come from code.
func fillHelp(text string, oldnew ...string) string {
	return strings.NewReplacer(oldnew...).Replace(text)
}
