package faultserver

import (
	"context"
	"errors"
	"net"
	"sync"

	"google.golang.org/grpc/peer"
)

// The gRPC upstream's reset and truncate act on the connection a call came
// on, as the network does: grpc-go gives a server no way to abort one
// stream with an error, and a gRPC client sees a dead connection, not a
// broken stream, when a backend crashes or a middlebox drops the flow. So
// the data listener tracks its connections by the client's address (which
// a call's peer.Peer carries), and a fault can reset one or cut it after a
// number of bytes.

// errCut fails the writes after a truncate fault's cut.
var errCut = errors.New("connection cut by the truncate fault")

// grpcListener tracks the connections of the gRPC upstream by their remote
// address.
type grpcListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[string]*grpcConn
}

func newGRPCListener(l net.Listener) *grpcListener {
	return &grpcListener{Listener: l, conns: map[string]*grpcConn{}}
}

func (l *grpcListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &grpcConn{Conn: c, l: l, key: c.RemoteAddr().String(), budget: -1, cutDone: make(chan struct{})}
	l.mu.Lock()
	l.conns[gc.key] = gc
	l.mu.Unlock()
	return gc, nil
}

// conn returns the connection the call of ctx came on, or nil.
func (l *grpcListener) conn(ctx context.Context) *grpcConn {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[p.Addr.String()]
}

// grpcConn is one connection of the gRPC upstream, which a fault may reset
// or cut.
type grpcConn struct {
	net.Conn
	l   *grpcListener
	key string

	mu      sync.Mutex
	budget  int64         // bytes still to write before the cut; -1: no cut armed
	cut     bool          // the cut happened: writes fail
	cutDone chan struct{} // closed at the cut
	once    sync.Once
}

// cutAfter arms the cut: the connection sends n more bytes, then closes
// its sending side (a FIN, after the bytes) and fails later writes. An
// armed cut is not rearmed.
func (c *grpcConn) cutAfter(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.budget < 0 && !c.cut {
		c.budget = n
	}
}

func (c *grpcConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		return 0, errCut
	}
	if c.budget < 0 || int64(len(p)) < c.budget {
		if c.budget > 0 {
			c.budget -= int64(len(p))
		}
		c.mu.Unlock()
		return c.Conn.Write(p)
	}
	p = p[:c.budget]
	c.budget, c.cut = -1, true
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	// Closing the sending side only, and not the socket, lets the client
	// read every byte sent before the end: a socket closed with unread
	// data sends an RST, which may drop them.
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
		c.Close()
	}
	close(c.cutDone)
	if err == nil {
		err = errCut
	}
	return n, err
}

// reset aborts the connection with a TCP RST.
func (c *grpcConn) reset() {
	if lc, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		lc.SetLinger(0) //nolint:errcheck // best effort: a FIN still ends the calls
	}
	c.Close()
}

func (c *grpcConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.conns[c.key] == c {
			delete(c.l.conns, c.key)
		}
		c.l.mu.Unlock()
	})
	return err
}
