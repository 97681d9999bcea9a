package reports

// FitJSONWithin and WriteJSONWithin are fitJSON and writeJSON with the
// limit as a parameter, for tests.
var (
	FitJSONWithin   = fitJSON
	WriteJSONWithin = writeJSON
)
