package reports_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/cbload/cbload/reports"
)

func ExampleReadJSON() {
	f, err := os.Open("testdata/report.json")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		log.Fatal(err) // errors.Is(err, reports.ErrSchema) for another version
	}
	fmt.Println(r.Schema, r.Verdict.Outcome, r.Arm(reports.ArmBreaker).Figures.Opens > 0)
	// Output: cbload/report/v2 prevented true
}

func ExampleWriteAll() {
	f, err := os.Open("testdata/report.json")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cbload-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	paths, err := reports.WriteAll(context.Background(), dir, r, []string{"md", "html"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(paths), "files written")
	// Output: 2 files written
}

func ExampleWriteMarkdown() {
	f, err := os.Open("testdata/report.json")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		log.Fatal(err)
	}
	// In CI: append it to the job summary.
	if err := reports.WriteMarkdown(os.Stdout, r); err != nil {
		log.Fatal(err)
	}
}
