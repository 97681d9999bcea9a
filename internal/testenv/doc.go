// Package testenv holds what cbload's tests need around the code under
// test: real services to run against (an OTLP metrics receiver, Jaeger,
// Prometheus), throwaway certificates, free loopback ports, and the small
// pieces the test services under testdata share.
//
// It is for tests only: import it from _test.go files and from the test
// services under testdata, never from the packages cbload ships.
package testenv
