package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memberflow/memberflow/internal/dynamolocal"
)

// startTimeout bounds how long `memberflow run` may take to answer
// /healthz with 200 (DynamoDB Local's JVM and the Temporal dev server start
// on two shared cores).
const startTimeout = 3 * time.Minute

// stackProcess is `memberflow run` as a child in its own process group, on
// free loopback ports and a data directory of its own, so it can be killed
// whole with SIGKILL and started again on the same data.
type stackProcess struct {
	binary, root string
	env          []string
	dataDir      string
	ports        map[string]int // MEMBERFLOW_*_PORT and the HTTP port by env name
	URL          string
	DynamoDB     string

	cmd    *exec.Cmd
	exited chan struct{}
}

// memoryDir is a RAM-backed file system, when the machine has one.
// DynamoDB Local keeps a persistent table in SQLite and syncs every write
// to disk: on an ordinary disk that, not memberflow, caps the stack at a
// few dozen writes a second (measured: 41–76 operations/s on the build
// machine's disk, 270–400 on tmpfs). A SIGKILL of the stack keeps what is
// in RAM, so the restart delivery still tests recovery; a reboot would
// not, which a load run does not need.
const memoryDir = "/dev/shm"

// newStackProcess picks free ports and a fresh data directory (on
// memoryDir when it exists).
func newStackProcess(binary, root string, env []string, secret, token, table string) (*stackProcess, error) {
	parent := ""
	if fi, err := os.Stat(memoryDir); err == nil && fi.IsDir() {
		parent = memoryDir
	}
	dir, err := os.MkdirTemp(parent, "memberflow-load-")
	if err != nil {
		return nil, fmt.Errorf("data dir for the load stack: %w", err)
	}
	p := &stackProcess{binary: binary, root: root, dataDir: dir, ports: map[string]int{}}
	for _, name := range []string{"MEMBERFLOW_HTTP_ADDR", "MEMBERFLOW_TEMPORAL_PORT", "MEMBERFLOW_DYNAMODB_PORT"} {
		if p.ports[name], err = dynamolocal.FreePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	p.URL = "http://127.0.0.1:" + strconv.Itoa(p.ports["MEMBERFLOW_HTTP_ADDR"])
	p.DynamoDB = "http://127.0.0.1:" + strconv.Itoa(p.ports["MEMBERFLOW_DYNAMODB_PORT"])
	// Later entries win in exec.Cmd.Env, so these override the caller's.
	p.env = append(append([]string(nil), env...),
		"MEMBERFLOW_DATA_DIR="+dir,
		"MEMBERFLOW_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(p.ports["MEMBERFLOW_HTTP_ADDR"]),
		"MEMBERFLOW_TEMPORAL_PORT="+strconv.Itoa(p.ports["MEMBERFLOW_TEMPORAL_PORT"]),
		"MEMBERFLOW_DYNAMODB_PORT="+strconv.Itoa(p.ports["MEMBERFLOW_DYNAMODB_PORT"]),
		"MEMBERFLOW_TEMPORAL_UI_PORT=0",
		"MEMBERFLOW_WEBHOOK_SECRET="+secret,
		"MEMBERFLOW_ADMIN_TOKEN="+token,
		"MEMBERFLOW_TABLE="+table,
		// A send whose attempt was cut by the SIGKILL of (c) before the
		// outbox accepted it gets no "processed" event; its retry sends
		// again after this window instead of the default 10 minutes,
		// well inside the run's wait for effects.
		"MEMBERFLOW_CONFIRM_WINDOW=20s",
	)
	return p, nil
}

// logPath is where the child's output goes (appended across restarts).
func (p *stackProcess) logPath() string { return filepath.Join(p.dataDir, "stack.log") }

// start runs the child and waits until /healthz answers 200.
func (p *stackProcess) start(ctx context.Context) error {
	log, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("stack log: %w", err)
	}
	defer log.Close() // the child keeps its own descriptor
	cmd := exec.Command(p.binary, "run")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.root, p.env, log, log
	// Its own group so one signal reaches it and the Temporal dev server
	// it runs; and it dies with us, so an interrupted run leaves nothing.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s run: %w", p.binary, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.exited)

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("memberflow run exited during start-up; last lines of %s:\n%s", p.logPath(), tail(p.logPath(), 15))
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("memberflow run did not answer %s/healthz with 200 within %s; last lines of %s:\n%s", p.URL, startTimeout, p.logPath(), tail(p.logPath(), 15))
		case <-tick.C:
			if healthy(ctx, p.URL) {
				return nil
			}
		}
	}
}

// healthy reports whether GET /healthz answers 200.
func healthy(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL to the child's process group and to every process
// descended from it in other groups (DynamoDB Local runs in its own), waits
// for the child to exit and for its ports to be free again.
func (p *stackProcess) kill() {
	if p.cmd == nil {
		return
	}
	pid := p.cmd.Process.Pid
	descendants := descendantsOf(pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, d := range descendants {
		_ = syscall.Kill(d, syscall.SIGKILL)
	}
	<-p.exited
	p.cmd = nil
	deadline := time.Now().Add(30 * time.Second)
	for _, port := range p.ports {
		for time.Now().Before(deadline) && !portFree(port) {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// stop asks the child to shut down as Ctrl-C would, and kills it when it
// takes longer than 30 seconds.
func (p *stackProcess) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		p.cmd = nil
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// portFree reports whether a loopback port can be listened on.
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// descendantsOf lists the processes below pid, read from /proc.
func descendantsOf(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid …": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if parent, err := strconv.Atoi(f[1]); err == nil {
			children[parent] = append(children[parent], child)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, c := range children[next] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// tail returns the last n lines of a file, for an error message.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkLoopback refuses a URL whose host is not a loopback address: the
// load tool posts thousands of signed events and must never reach a real
// deployment.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: must be an http URL like http://127.0.0.1:8080", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("--url " + raw + ": the load tool only talks to a stack on this machine (127.0.0.1, ::1 or localhost)")
}
