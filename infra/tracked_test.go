package infra

import (
	"bufio"
	"bytes"
	"debug/elf"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The repository holds source, templates, golden data and workflow
// histories, all well under maxTrackedBytes; a file above it, or an
// executable binary, is build output that slipped in (a 48 MB cmd/cost
// binary once did) and bloats every clone for good.
const maxTrackedBytes = 1 << 20

// headBytes is how much of each blob the binary check looks at: enough for
// any magic number and for a PE header's offset, which linkers put within
// the first few hundred bytes.
const headBytes = 4 << 10

// TestTrackedFiles fails naming every file in git's index that is larger
// than 1 MiB or an executable binary: ELF, Mach-O or PE content, or a file
// with the executable bit that is not a #! script.
func TestTrackedFiles(t *testing.T) {
	for _, p := range trackedProblems(t, gitCheckout(t)) {
		t.Error(p)
	}
}

// TestTrackedProblems plants each kind of unwanted file in a scratch
// repository and checks that the tracked-file check names it, and nothing
// else.
func TestTrackedProblems(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		skipUnlessRequired(t, "git is not on PATH")
	}
	dir := t.TempDir()
	elfHead := []byte("\x7fELF\x02\x01\x01\x00")
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"main.go", []byte("package main\n"), 0o644},
		{"tools.sh", []byte("#!/usr/bin/env bash\necho hi\n"), 0o755},
		{"golden.json", bytes.Repeat([]byte("x"), maxTrackedBytes), 0o644},
		{"big.json", bytes.Repeat([]byte("x"), maxTrackedBytes+1), 0o644},
		{"cost", elfHead, 0o755},
		{"lib.so", elfHead, 0o644},
		{"run", []byte("echo no shebang\n"), 0o755},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.path), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "--quiet"}, {"add", "--", "."}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, out)
		}
	}
	got := strings.Join(trackedProblems(t, dir), "\n")
	for _, want := range []string{"big.json: 1048577 bytes", "cost: an executable binary (ELF)", "lib.so: an executable binary (ELF)", "run: tracked with the executable bit"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	for _, clean := range []string{"main.go", "tools.sh", "golden.json"} {
		if strings.Contains(got, clean+":") {
			t.Errorf("problems name %s, which is fine:\n%s", clean, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 4 {
		t.Errorf("%d problems, want 4:\n%s", n, got)
	}
}

// trackedProblems lists, one sentence each, the files in root's git index
// that are too large or executable binaries.
func trackedProblems(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, b := range trackedBlobs(t, root) {
		if b.size > maxTrackedBytes {
			out = append(out, fmt.Sprintf("%s: %d bytes, over the %d-byte limit for tracked files (build output? git rm --cached it and ignore it)", b.path, b.size, maxTrackedBytes))
		}
		if f := executableFormat(b.head); f != "" {
			out = append(out, fmt.Sprintf("%s: an executable binary (%s) is tracked: git rm --cached it and add it to .gitignore", b.path, f))
		} else if b.mode == "100755" && !bytes.HasPrefix(b.head, []byte("#!")) {
			out = append(out, fmt.Sprintf("%s: tracked with the executable bit but is not a #! script: git update-index --chmod=-x it, or remove it if it is build output", b.path))
		}
	}
	return out
}

// TestCommandBinariesIgnored keeps .gitignore in step with cmd/: `go build
// ./cmd/<name>` at the repository root writes ./<name>, which must be
// ignored so it cannot be committed by accident.
func TestCommandBinariesIgnored(t *testing.T) {
	root := gitCheckout(t)
	dirs, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	commands := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		pkg, err := build.ImportDir(filepath.Join(root, "cmd", d.Name()), 0)
		if err != nil || pkg.Name != "main" {
			continue // not a command: go build writes nothing for it
		}
		commands++
		name := d.Name()
		if !gitIgnores(t, root, name) {
			t.Errorf("go build ./cmd/%s writes ./%s, which .gitignore does not ignore: add /%s to .gitignore", name, name, name)
		}
		if gitIgnores(t, root, "cmd/"+name+"/main.go") {
			t.Errorf(".gitignore ignores cmd/%s/main.go: anchor the binary's pattern to the root (/%s)", name, name)
		}
	}
	if commands == 0 {
		t.Fatal("found no command under cmd/")
	}
}

// TestExecutableFormat checks the magic numbers the tracked-file check
// recognises, and that text with a look-alike start is not taken for one.
func TestExecutableFormat(t *testing.T) {
	pe := make([]byte, 0x90)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x80)
	copy(pe[0x80:], "PE\x00\x00")
	le32 := func(m uint32) []byte { return binary.LittleEndian.AppendUint32(nil, m) }
	be32 := func(m uint32) []byte { return binary.BigEndian.AppendUint32(nil, m) }
	for _, tc := range []struct {
		name string
		head []byte
		want string
	}{
		{"ELF", []byte("\x7fELF\x02\x01\x01"), "ELF"},
		{"Mach-O 64 little-endian", le32(macho.Magic64), "Mach-O"},
		{"Mach-O 32 big-endian", be32(macho.Magic32), "Mach-O"},
		{"Mach-O universal", be32(macho.MagicFat), "Mach-O"},
		{"PE", pe, "PE"},
		{"MZ text without a PE header", []byte("MZ is a postcode prefix\n" + strings.Repeat("x", 100)), ""},
		{"script", []byte("#!/usr/bin/env bash\n"), ""},
		{"Go source", []byte("package infra\n"), ""},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := executableFormat(tc.head); got != tc.want {
				t.Errorf("executableFormat = %q, want %q", got, tc.want)
			}
		})
	}
}

// executableFormat names the executable format head starts with, or "".
func executableFormat(head []byte) string {
	if bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
		return "ELF"
	}
	if len(head) >= 4 {
		// Thin Mach-O files are in the CPU's byte order; universal ones
		// are big-endian.
		for _, m := range []uint32{binary.BigEndian.Uint32(head), binary.LittleEndian.Uint32(head)} {
			if m == macho.Magic32 || m == macho.Magic64 || m == macho.MagicFat {
				return "Mach-O"
			}
		}
	}
	// A PE file is a DOS "MZ" stub whose header points at "PE\0\0".
	if len(head) >= 0x40 && bytes.HasPrefix(head, []byte("MZ")) {
		off := int(binary.LittleEndian.Uint32(head[0x3c:]))
		if off >= 0x40 && off+4 <= len(head) && string(head[off:off+4]) == "PE\x00\x00" {
			return "PE"
		}
	}
	return ""
}

// gitCheckout returns the repository root, skipping the test when it is
// not a git checkout (a source archive) unless MEMBERFLOW_REQUIRE_LOCAL=1.
func gitCheckout(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	out, err := exec.Command("git", "-C", root, "rev-parse", "--is-inside-work-tree").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		skipUnlessRequired(t, fmt.Sprintf("%s is not a git checkout (%v: %s); the tracked-file checks need one", root, err, bytes.TrimSpace(out)))
	}
	return root
}

// gitIgnores reports whether .gitignore ignores path (relative to root),
// whether or not it is tracked.
func gitIgnores(t *testing.T, root, path string) bool {
	t.Helper()
	err := exec.Command("git", "-C", root, "check-ignore", "--quiet", "--no-index", "--", path).Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false
	}
	t.Fatalf("git check-ignore %s: %v", path, err)
	return false
}

// trackedBlob is one file in git's index: what would be committed.
type trackedBlob struct {
	path string
	mode string // "100644", "100755"
	size int64
	head []byte // the first headBytes bytes
}

// trackedBlobs reads every regular file in the index (symlinks and
// submodules aside) with its size and first bytes, through one
// `git cat-file --batch`.
func trackedBlobs(t *testing.T, root string) []trackedBlob {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--stage").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var blobs []trackedBlob
	var oids bytes.Buffer
	for rec := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		// <mode> SP <object> SP <stage> TAB <path>
		meta, path, ok := strings.Cut(rec, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 {
			t.Fatalf("git ls-files: unexpected record %q", rec)
		}
		if fields[0] != "100644" && fields[0] != "100755" {
			continue
		}
		blobs = append(blobs, trackedBlob{path: path, mode: fields[0]})
		oids.WriteString(fields[1] + "\n")
	}
	if len(blobs) == 0 {
		t.Fatal("git ls-files lists no files")
	}

	cmd := exec.Command("git", "-C", root, "cat-file", "--batch")
	cmd.Stdin = &oids
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("git cat-file: %v", err)
	}
	r := bufio.NewReader(stdout)
	for i := range blobs {
		// <object> SP <type> SP <size> LF <content> LF
		header, err := r.ReadString('\n')
		fields := strings.Fields(header)
		if err != nil || len(fields) != 3 {
			t.Fatalf("git cat-file: header of %s: %q, %v (%s)", blobs[i].path, header, err, stderr.String())
		}
		size, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			t.Fatalf("git cat-file: size of %s: %v", blobs[i].path, err)
		}
		blobs[i].size = size
		blobs[i].head = make([]byte, min(size, headBytes))
		if _, err := io.ReadFull(r, blobs[i].head); err != nil {
			t.Fatalf("git cat-file: read %s: %v", blobs[i].path, err)
		}
		if _, err := io.CopyN(io.Discard, r, size-int64(len(blobs[i].head))+1); err != nil {
			t.Fatalf("git cat-file: read %s: %v", blobs[i].path, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("git cat-file: %v (%s)", err, stderr.String())
	}
	return blobs
}
