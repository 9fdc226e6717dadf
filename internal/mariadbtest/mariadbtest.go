// Package mariadbtest starts a private MariaDB server for tests and
// benchmarks: a fresh data directory in a temporary directory, mariadbd on
// 127.0.0.1 with a free port and a socket beside the data, stopped and
// removed by Close. It needs the Debian mariadb-server package (mariadbd and
// mariadb-install-db); Start says why when it cannot run, so callers skip
// with that reason instead of passing silently.
package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Server is a running mariadbd.
type Server struct {
	Dir  string
	Port int
	host string
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan error
	log  string
}

// ErrUnavailable wraps every reason the server cannot be started here.
var ErrUnavailable = errors.New("mariadb unavailable")

func find(name string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found (apt-get install mariadb-server)", ErrUnavailable, name)
}

// Start initialises a data directory and starts mariadbd on 127.0.0.1. extra
// are more server options (e.g. --innodb-buffer-pool-size=1G).
func Start(ctx context.Context, extra ...string) (*Server, error) {
	return StartAt(ctx, "127.0.0.1", extra...)
}

// StartAt is Start listening on host (an address of this machine) instead:
// the e2e tests give the node's bridge address, which pods reach. Only the
// socket (SocketDSN) then reaches root; make accounts for TCP clients.
func StartAt(ctx context.Context, host string, extra ...string) (*Server, error) {
	mariadbd, err := find("mariadbd", "/usr/sbin", "/usr/libexec")
	if err != nil {
		return nil, err
	}
	install, err := find("mariadb-install-db", "/usr/bin", "/usr/sbin")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mariadbtest-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s := &Server{Dir: dir, host: host, log: filepath.Join(dir, "error.log")}
	common := []string{
		"--no-defaults",
		"--datadir=" + filepath.Join(dir, "data"),
		"--innodb-log-file-size=64M",
		"--innodb-data-file-path=ibdata1:12M:autoextend",
		"--skip-log-bin",
	}
	asRoot := []string{}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		asRoot = []string{"--user=root"} // mariadbd refuses to run as root otherwise
	}
	initArgs := append(append(append([]string{}, common[:1]...), "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"), common[1:]...)
	initArgs = append(initArgs, asRoot...)
	out, err := exec.CommandContext(ctx, install, initArgs...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: mariadb-install-db: %v\n%s", ErrUnavailable, err, tail(out))
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.Port = port
	s.args = append(append(append([]string{}, common...),
		"--bind-address="+host,
		"--port="+strconv.Itoa(port),
		"--socket="+filepath.Join(dir, "mysqld.sock"),
		"--pid-file="+filepath.Join(dir, "mysqld.pid"),
		"--log-error="+s.log,
		"--skip-name-resolve",
		"--local-infile=1",
		"--max-allowed-packet=256M",
		"--innodb-flush-log-at-trx-commit=2",
		"--innodb-doublewrite=0",
		"--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_unicode_ci",
	), asRoot...)
	s.args = append(s.args, extra...)
	s.bin = mariadbd
	if err := s.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin, s.args...) // --no-defaults first, as mariadbd requires
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: start mariadbd: %v", ErrUnavailable, err)
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	db, err := sql.Open("mysql", s.SocketDSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.done:
			s.cmd = nil
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("%w: mariadbd exited: %v\n%s", ErrUnavailable, err, tail(log))
		default:
		}
		if err := db.PingContext(ctx); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return fmt.Errorf("%w: mariadbd did not answer on port %d within 60s", ErrUnavailable, s.Port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DSN returns a go-sql-driver DSN for root over TCP with schema as the
// current database (empty: none).
func (s *Server) DSN(schema string) string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "tcp"
	c.Addr = net.JoinHostPort(s.host, strconv.Itoa(s.Port))
	c.DBName = schema
	return c.FormatDSN()
}

// SocketDSN returns a go-sql-driver DSN for root over the server's Unix
// socket with schema as the current database (empty: none).
func (s *Server) SocketDSN(schema string) string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = filepath.Join(s.Dir, "mysqld.sock")
	c.DBName = schema
	return c.FormatDSN()
}

// Pid is the server's process id (0 when it is not running).
func (s *Server) Pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same data directory and port.
func (s *Server) Restart(ctx context.Context) error {
	if s.cmd != nil {
		s.stop()
	}
	return s.start(ctx)
}

func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	if s == nil {
		return
	}
	s.stop()
	os.RemoveAll(s.Dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// SkipOrFail ends a test that needs MariaDB when it cannot start: a skip that
// prints why on a developer's machine, a failure in CI (CI set), where
// `make test` installs mariadb-server and the case must really run.
func SkipOrFail(tb interface {
	Helper()
	Skipf(string, ...any)
	Fatalf(string, ...any)
}, err error) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("MariaDB cannot run here, and CI must run this case: %v", err)
	}
	tb.Skipf("MariaDB cannot run here: %v", err)
}
