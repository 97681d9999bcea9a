package faultserver

// Stats is a snapshot of the server's counters.
type Stats struct {
	// Requests counts data requests received, faulted or not.
	Requests int64 `json:"requests"`
	// Injected counts, per fault kind, the requests that kind applied to,
	// counted when the request arrives. In proxy mode slowbody is counted
	// when the backend's answer starts to trickle, and not at all when the
	// forward failed. Every kind is present.
	Injected map[string]int64 `json:"injected"`
	// InFlight is the number of data requests being handled now, and
	// InFlightPeak the most there have been at once.
	InFlight     int64 `json:"in_flight"`
	InFlightPeak int64 `json:"in_flight_peak"`
	// Completed counts synthetic requests whose work (the service time)
	// was done; CompletedForGone those of them whose caller had already
	// gone, work done for nobody (only with Config.Concurrency, since
	// otherwise work stops when the caller goes). Completed minus
	// CompletedForGone is the goodput the upstream delivered.
	Completed        int64 `json:"completed"`
	CompletedForGone int64 `json:"completed_for_gone"`
	// With Config.Concurrency: QueueLen and BusyWorkers are the requests
	// waiting for a worker and being worked on now; Rejected counts
	// requests answered 503 because the queue was full; Abandoned counts
	// work dropped because its caller left (Config.HonorCancel).
	QueueLen    int64 `json:"queue_len"`
	BusyWorkers int64 `json:"busy_workers"`
	Rejected    int64 `json:"rejected"`
	Abandoned   int64 `json:"abandoned"`
	// BackendErrors counts, in proxy mode, forwards that failed before the
	// backend answered (unreachable, reset, timed out), answered 502 with
	// BackendErrorHeader (over gRPC: calls that could not be opened on the
	// backend, answered UNAVAILABLE with the trailer
	// x-cbload-backend-error); Backend5xx counts 5xx answers from the
	// backend itself, passed through. Neither is an injected fault.
	BackendErrors int64 `json:"backend_errors"`
	Backend5xx    int64 `json:"backend_5xx"`
	// ConnsRejected and ControlConnsRejected count connections closed at
	// once because the data or control listener was at its connection cap.
	ConnsRejected        int64 `json:"conns_rejected"`
	ControlConnsRejected int64 `json:"control_conns_rejected"`
	// GRPC counts, with Config.GRPC, the calls by full method name and
	// status code name ("/shop.Payments/Charge": {"OK": 10,
	// "UNAVAILABLE": 4}); methods beyond the 256th are counted together
	// as "(other)".
	GRPC map[string]map[string]int64 `json:"grpc,omitempty"`
}

// Sub returns the counters of st minus those of prev, an earlier snapshot
// of the same server: what happened between the two, such as during one
// phase. The gauges (InFlight, InFlightPeak, QueueLen, BusyWorkers) are
// st's own: a gauge or a peak cannot be split.
func (st Stats) Sub(prev Stats) Stats {
	d := st
	d.Requests -= prev.Requests
	d.Injected = make(map[string]int64, len(st.Injected))
	for k, v := range st.Injected {
		d.Injected[k] = v - prev.Injected[k]
	}
	d.Completed -= prev.Completed
	d.CompletedForGone -= prev.CompletedForGone
	d.Rejected -= prev.Rejected
	d.Abandoned -= prev.Abandoned
	d.BackendErrors -= prev.BackendErrors
	d.Backend5xx -= prev.Backend5xx
	d.ConnsRejected -= prev.ConnsRejected
	d.ControlConnsRejected -= prev.ControlConnsRejected
	if st.GRPC != nil {
		d.GRPC = make(map[string]map[string]int64, len(st.GRPC))
		for m, byCode := range st.GRPC {
			c := make(map[string]int64, len(byCode))
			for k, v := range byCode {
				c[k] = v - prev.GRPC[m][k]
			}
			d.GRPC[m] = c
		}
	}
	return d
}

// Stats returns the counters. It reads atomics only, so it is cheap enough
// to call every second while load runs.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:     s.requests.Load(),
		Injected:     make(map[string]int64, len(kindTable)),
		InFlight:     s.inFlight.Load(),
		InFlightPeak: s.inFlight.Peak(),

		Completed:            s.completed.Load(),
		BackendErrors:        s.backendErrors.Load(),
		Backend5xx:           s.backend5xx.Load(),
		ConnsRejected:        s.connsRejected.Load(),
		ControlConnsRejected: s.ctlConnsRejected.Load(),
		GRPC:                 s.grpcCalls.snapshot(),
	}
	for i := range kindTable {
		st.Injected[kindTable[i].Name] = s.injected[i].Load()
	}
	if c := s.pool; c != nil {
		st.Completed += c.completed.Load()
		st.CompletedForGone = c.completedForGone.Load()
		st.QueueLen = c.workers.Waiting()
		st.BusyWorkers = c.workers.Busy()
		st.Rejected = c.rejected.Load()
		st.Abandoned = c.abandoned.Load()
	}
	return st
}

// TakeQueuePeak returns the most requests that waited at once for a worker
// (Config.Concurrency) since its last call — since the server started, the
// first time — and starts the next period from the number waiting now.
// Called once a second it gives the queue's peak per second, which a
// snapshot of Stats.QueueLen would miss. Without Config.Concurrency there
// is no queue and it returns 0.
func (s *Server) TakeQueuePeak() int64 {
	if s.pool == nil {
		return 0
	}
	return s.pool.takeQueuePeak()
}
