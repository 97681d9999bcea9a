// Package faultserver is an HTTP upstream whose misbehaviour can be switched
// on, off and changed while load runs against it.
//
// A Server answers every path. Healthy, it replies 200 with a small JSON body
// after a service time (Config.ServiceTime, with optional Config.Jitter); in
// proxy mode (Config.ProxyTo) it forwards to a real upstream instead. Faults
// sit in front of either: see Kinds for the table of fault kinds and
// ParseSpec for the spec grammar "KIND[:ARG][,key=value...]".
//
// # Finite capacity
//
// With Config.Concurrency the synthetic upstream has that many workers and
// a bounded queue (Config.Queue) in front of them; a request the full queue
// turns away gets 503 at once. Faults act first, in front of the queue, as
// the network would; slowdown then scales the service time the request
// holds its worker for. Work whose caller has gone is done anyway unless
// Config.HonorCancel, and Stats tells throughput from goodput
// (Completed, CompletedForGone).
//
// # Several active faults
//
// Each request rolls the active faults in the order they were given. A fault
// whose path= prefix does not match the request path is skipped without a
// roll. Every other fault takes one draw from the seeded source and applies
// when the draw is below its rate= (so rate=1 always applies). Faults that
// need more randomness (latency jitter) draw again right after their roll.
// Rolling stops at the first applied fault that answers the request by
// itself (error, reset, refuse, empty, garbage), since nothing after it
// could run. Finally, a healthy synthetic response with jitter takes one
// more draw. A tls fault is rolled apart, once per TLS handshake, from the
// same source.
//
// The applied faults then act in that same order: latency waits, hang holds,
// slowbody slows the body that will be written, truncate and slowclose
// change how it ends, and error, reset, empty or garbage ends the request.
// The request body is read before any of them holds the request (at
// slowupload's pace when one applies), so a caller that leaves is seen at
// once. A request that reaches the end is answered normally. Responses
// to faulted requests carry the header X-Cbload-Fault naming the kinds that
// applied, e.g. "latency,error".
//
// All of a request's draws happen at once, under one lock, when the request
// arrives; so the same Config.Seed and the same request order give the same
// fault sequence.
//
// # gRPC
//
// With Config.GRPC the data listener serves gRPC instead: any method of any
// service is answered with an empty message (valid for every proto3 type),
// faults act in gRPC's terms (grpc-error:CODE, latency, hang, slowdown;
// reset and truncate act on the call's connection, see grpcconn.go;
// path= is a prefix of /package.Service/Method), and Stats.GRPC counts the
// calls by method and status code. With a ProxyTo of grpc://host:port it
// forwards every call to that gRPC backend instead (grpcproxy.go). The
// control API is the same.
//
// # Control API
//
// When Config.ControlAddr is set, a second listener serves
//
//	GET    /faults       {"faults": ["latency:200ms", ...]}  the active faults, normalised;
//	                     with "names": [...] beside it when any is named ("" for unnamed ones)
//	PUT    /faults       {"faults": [...]} replaces the set atomically, named faults too;
//	                     400 and no change on a bad spec
//	POST   /faults       {"name": "slow-api", "fault": "latency:300ms"} adds one named fault (201;
//	                     409 when the name is taken), leaving the others as they are
//	DELETE /faults       back to healthy; held requests are released at once
//	GET    /faults/NAME  {"name": ..., "fault": ...}; 404 when there is none
//	DELETE /faults/NAME  removes that fault only, releasing what it holds; 404 when none
//	GET    /stats        the counters of Stats
//
// Client is a Go client of this API.
//
// Errors are JSON objects {"error": "one line"} with status 400 (bad input),
// 401 (missing or wrong bearer token when Config.ControlToken is set; the
// connection is closed after it), 403 (no token is set and the Host or
// Origin does not name this machine, see Config.ControlHosts), 404, 405 or
// 413 (a request body over MaxControlBody). The same operations are
// available in-process as Server.Faults, Server.SetFaults and Server.Stats.
//
// # Limits
//
// Every size, count and duration a spec or Config can ask for is capped
// (see MaxDuration and the other constants in limits.go), and both
// listeners cut slow clients (Config.ReadHeaderTimeout and the fields after
// it) without cutting the faults that hold requests on purpose.
package faultserver
