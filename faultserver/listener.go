package faultserver

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// reopenRetry is how long Accept waits before retrying to reopen a listener
// whose address was briefly unavailable when a refuse fault cleared.
const reopenRetry = 100 * time.Millisecond

// switchListener is the data listener. The refuse fault closes the socket
// underneath it, so the kernel refuses connections, and reopens it on the
// same address when the fault clears, while http.Server keeps one Accept
// loop on it throughout.
type switchListener struct {
	addr net.Addr // the address first bound; reopened as is

	mu       sync.Mutex
	cur      net.Listener  // nil while refusing, or when a reopen failed
	refusing bool          // the refuse fault is active
	closed   bool          // Close was called; final
	wake     chan struct{} // closed and replaced on every state change
}

func newSwitchListener(l net.Listener) *switchListener {
	return &switchListener{addr: l.Addr(), cur: l, wake: make(chan struct{})}
}

// Accept waits for a connection on the current socket, and while the socket
// is closed for a refuse fault, waits for it to reopen.
func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, net.ErrClosed
		}
		if l.cur == nil && !l.refusing {
			l.reopenLocked()
		}
		cur, wake, retry := l.cur, l.wake, l.cur == nil && !l.refusing
		l.mu.Unlock()

		if cur == nil {
			if !retry {
				<-wake
				continue
			}
			t := time.NewTimer(reopenRetry)
			select {
			case <-wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		c, err := cur.Accept()
		if err == nil {
			return c, nil
		}
		l.mu.Lock()
		switched := l.cur != cur || l.closed
		l.mu.Unlock()
		if !switched {
			return nil, err
		}
	}
}

// setRefusing closes the socket (on) or reopens it on the same address (off).
func (l *switchListener) setRefusing(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || on == l.refusing {
		return
	}
	l.refusing = on
	if on && l.cur != nil {
		l.cur.Close()
		l.cur = nil
	}
	if !on {
		l.reopenLocked()
	}
	close(l.wake)
	l.wake = make(chan struct{})
}

func (l *switchListener) reopenLocked() {
	if nl, err := net.Listen(l.addr.Network(), l.addr.String()); err == nil {
		l.cur = nl
	}
}

// Close closes the socket for good and ends Accept.
func (l *switchListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.wake)
	if l.cur != nil {
		err := l.cur.Close()
		l.cur = nil
		return err
	}
	return nil
}

func (l *switchListener) Addr() net.Addr { return l.addr }

// capListener caps the open connections accepted through it. A connection
// beyond the cap is closed as soon as it is accepted, which the client sees
// at once as a closed connection, instead of waiting in the kernel's
// backlog: slow or idle clients cannot use up the process's file
// descriptors, and the other listener keeps answering.
type capListener struct {
	net.Listener
	max      int64
	open     atomic.Int64
	rejected *atomic.Int64 // counts connections closed at the cap
}

func newCapListener(l net.Listener, max int, rejected *atomic.Int64) *capListener {
	return &capListener{Listener: l, max: int64(max), rejected: rejected}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.rejected.Add(1)
			c.Close()
			continue
		}
		return &capConn{Conn: c, l: l}, nil
	}
}

// capConn gives its slot back when it closes.
type capConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// SetLinger reaches the TCP connection underneath, for the reset fault.
func (c *capConn) SetLinger(sec int) error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.SetLinger(sec)
	}
	return nil
}

// CloseWrite reaches the TCP connection underneath, for the truncate
// fault over gRPC; on another kind of connection it closes it whole.
func (c *capConn) CloseWrite() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return c.Close()
}
