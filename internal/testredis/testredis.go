// Package testredis runs a real redis-server for tests: on a free loopback
// port, in the test's temporary directory, with no persistence, stopped
// when the test ends. A test can stop it and start it again on the same
// port, to see what a client does while Redis is down and after it is back.
//
// StartCluster runs a Redis Cluster of such servers, made by
// redis-cli --cluster create.
//
// redis-server must be installed (the Debian package redis-server; test.sh
// installs it), and redis-cli for a cluster (redis-tools): a test that
// needs them fails without them, never skips.
package testredis

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a server.
type Options struct {
	// Notify sets notify-keyspace-events KA: keyspace notifications of
	// every class. Without it the server sends none (its default).
	Notify bool
	// Args are more redis-server arguments, e.g. "--requirepass", "s3cret".
	Args []string
}

// Server is a running redis-server.
type Server struct {
	Addr   string        // 127.0.0.1:port
	Client *redis.Client // a client of the server, closed at the test's end
	t      testing.TB
	opts   Options
	dir    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// URL returns redis://Addr/db.
func (s *Server) URL(db int) string { return fmt.Sprintf("redis://%s/%d", s.Addr, db) }

// Start starts a redis-server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	_, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed: apt-get install redis-server (./test.sh installs it): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return run(t, addr, opts)
}

// run starts a redis-server on addr and stops it when the test ends.
func run(t testing.TB, addr string, opts Options) *Server {
	t.Helper()
	s := &Server{Addr: addr, t: t, opts: opts, dir: t.TempDir()}
	s.start()
	s.Client = redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, Password: s.password()})
	t.Cleanup(func() {
		_ = s.Client.Close()
		s.Stop()
	})
	return s
}

// password returns the --requirepass of the options, or "".
func (s *Server) password() string {
	for i, a := range s.opts.Args {
		if a == "--requirepass" && i+1 < len(s.opts.Args) {
			return s.opts.Args[i+1]
		}
	}
	return ""
}

// start runs redis-server on s.Addr and waits until it answers.
func (s *Server) start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}
	if s.opts.Notify {
		args = append(args, "--notify-keyspace-events", "KA")
	}
	args = append(args, s.opts.Args...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := exec.Command("redis-server", args...)
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			s.t.Fatalf("starting redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if s.waitReady(exited, deadline) {
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return
		}
		_ = cmd.Process.Kill()
		<-exited
		// The port may still be held by the previous process's sockets.
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not start: %s", s.Addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady polls the server with PING until it answers, it exits, or the
// deadline passes.
func (s *Server) waitReady(exited <-chan struct{}, deadline time.Time) bool {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DisableIdentity: true, Password: s.password(),
		MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Stop kills the server (as a crash would) and waits for it to exit. The
// data is lost: nothing is persisted.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the server again on the same port, after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// ClientCount returns the number of client connections of the server,
// this helper's own included.
func (s *Server) ClientCount(t testing.TB) int {
	t.Helper()
	list, err := s.Client.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	return len(strings.Split(strings.TrimSpace(list), "\n"))
}

// lockedBuffer collects redis-server's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
