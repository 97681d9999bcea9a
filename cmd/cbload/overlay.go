package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cbload/cbload/internal/field"
	"github.com/cbload/cbload/scenario"
)

// fileField is where a scenario file set a value: the field's path, like
// load.rate, and its line.
type fileField struct {
	path string
	line int
}

// applyScenario loads --scenario, if given, into opts wherever the command
// line did not set the same thing.
func applyScenario(cmd *cobra.Command, opts *runOptions) error {
	f := cmd.Flags()
	ci := &opts.ci
	ci.phasesFlag, ci.faultsFlag, ci.armsFlag = f.Changed("phases"), f.Changed("fault"), f.Changed("arms")
	ci.collateralFlag, ci.stateFlag = f.Changed("collateral"), f.Changed("breaker-state-url")
	if ci.phasesFlag {
		ci.phasesArg = opts.phases
	}
	if ci.scenario == "" {
		return nil
	}
	s, err := scenario.ReadFile(cmd.Context(), ci.scenario, scenarioFields())
	var se *scenario.Error
	switch {
	case cmd.Context().Err() != nil:
		return errInterrupted
	case errors.As(err, &se):
		return asUsage(err)
	case err != nil:
		return flagErrorf("--scenario", ": %v", err)
	}
	ci.scenarioName, ci.description = ci.scenario, s.Description
	if err := overlay(cmd, s, opts); err != nil {
		return err
	}
	if s.Phases != nil {
		if ci.filePhases, ci.filePhaseLines, err = s.ExpandPhases(); err != nil {
			return asUsage(err)
		}
		if len(ci.filePhases) == 0 {
			return usagef("scenario %s: phases is empty; list at least one phase", ci.scenario)
		}
	}
	return nil
}

// inFile rewrites a usage error about a value that came from the scenario
// file, found after the file was read, so that it names the file, the line
// and the field rather than the flag the user did not give; an error about
// a phase built from --phases names the flag and its value. The error says
// which setting it is about by its type: a flagError names the flag, a
// field.Error the settings' paths.
func (ci *ciOptions) inFile(err error) error {
	var ue *usageError
	if !errors.As(err, &ue) {
		return err
	}
	if e, ok := ue.err.(*field.Error); ok {
		if _, ok := e.Index("phases"); ok && ci.phasesFlag {
			return flagErrorf("--phases", " %q: %v", ci.phasesArg, e)
		}
	}
	if ci.scenarioName == "" {
		return err
	}
	at := func(line int, msg string) error {
		return &usageError{err: fmt.Errorf("scenario %s: line %d: %s", ci.scenarioName, line, msg), hint: ue.hint}
	}
	switch e := ue.err.(type) {
	case *flagError:
		if ff, ok := ci.fileFields[strings.TrimPrefix(e.flag, "--")]; ok {
			return at(ff.line, ff.path+e.rest)
		}
	case *field.Error:
		names, line := slices.Clone(e.Names), 0
		for i, p := range e.Paths {
			for _, ff := range ci.fileFields {
				if ff.path == p && i < len(names) {
					names[i] = p
					if line == 0 {
						line = ff.line
					}
				}
			}
		}
		if line > 0 {
			return at(line, e.Named(names))
		}
		if i, ok := e.Index("phases"); ok && !ci.phasesFlag && i < len(ci.filePhaseLines) {
			return at(ci.filePhaseLines[i], e.Error())
		}
		if i, ok := e.Index("targets"); ok && len(ci.targets) == 0 && i < len(ci.fileTargets) {
			return at(ci.fileTargets[i].Line, e.Error())
		}
	}
	return err
}
